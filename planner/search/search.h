// Recommended feasible plan: over every combination of the unpinned strategy dimensions (ZeRO
// stage, offloads, checkpointed-layer count 0..L, CPU checkpointing, SP degree, micro-batch,
// gradient accumulation for a target global batch), drop the infeasible ones with their reason and
// pick by planner/search/selection.h (fastest, and within the step-time model's error of it, the one
// with most memory free). The search gives the same choice as trying every candidate in full
// (tests/planner/search_brute_force_test.cpp), without doing so.
#pragma once
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/estimate.h"
#include "planner/search/selection.h"

namespace zplan {

struct SearchOptions {
  EstimateOptions estimate;          // margin etc.
  Objective objective = Objective::throughput;
  size_t alternatives = 5;           // feasible runners-up to report
  bool suggest = true;               // when nothing fits, plan remedies (planner/search/suggestions.h)
};

struct Rejection {
  Strategy strategy;
  std::string reason;                // the verdict line of its estimate
  uint64_t over_bytes = 0;           // by how much the busiest limit is exceeded
};

struct Plan {
  bool feasible = false;
  Estimate chosen;                   // the best feasible (or, when none fits, the closest miss)
  std::vector<Estimate> alternatives;
  std::vector<Rejection> rejected;   // the best-ranked infeasible candidates (for --explain)
  std::vector<Rejection> rejected_layouts;  // layouts pruned because model states alone do not fit
  int64_t evaluated = 0;             // candidates estimated
  // The fastest feasible candidate, which the tie rule (selection.h) measures the others against;
  // it need not be among the alternatives shown, which are ranked by that rule.
  Strategy fastest_strategy;
  double fastest_tokens_per_second = 0;
  std::vector<std::string> suggestions;  // what would make it fit, when nothing does
};

// Every candidate the search considers for this scenario (before feasibility), pins respected:
// each checkpointed-layer count 0..L, with and without CPU checkpointing.
std::vector<Strategy> enumerate_candidates(const Scenario& s);

Plan search_plan(const Scenario& s, const SearchOptions& options);

// The first half of search_plan(): every layout's batch shapes screened (no allocator replay) with
// the fewest checkpointed layers that pass, and every passing candidate with its step-time
// throughput, fastest first. Kept so that a caller can bound a search before finishing it.
struct ScreenedSpace {
  struct Family {      // one batch shape and CPU-checkpointing choice: counts first..L pass the screen
    Strategy base;
    int64_t first = 0;
  };
  struct Candidate {
    Strategy strategy;
    double tokens_per_second;
    size_t family;
  };
  std::vector<Family> families;
  std::vector<Candidate> candidates;        // fastest first
  std::vector<Estimate> infeasible;         // rejected by the screen
  std::vector<Rejection> rejected_layouts;  // model states alone do not fit
  int64_t evaluated = 0;
};
ScreenedSpace screen_space(const Scenario& s, const SearchOptions& options);

// One layout's share of screen_space(), appended to `part` (candidates not sorted). screen_space()
// is merge_screened() of every layout of search_layouts() screened so, in that order; a caller may
// screen layouts in any order and merge them in that one.
void screen_layout(const Scenario& s, const SearchOptions& options, Strategy layout, ScreenedSpace& part);
ScreenedSpace merge_screened(std::vector<ScreenedSpace> parts);

// No plan search_plan() can choose is faster than this: every plan that fits passes the screen and
// is one of its candidates. 0 when no candidate passes. Also of one layout's part.
double screened_throughput_bound(const ScreenedSpace& space);

// search_plan() finished from its screened space (same result as search_plan(s, options)).
Plan search_plan(const Scenario& s, const SearchOptions& options, ScreenedSpace space);

// The layouts search_plan() tries (precision, ZeRO stage, offloads, SP degree; batch and
// checkpointing unset), pins respected. A search with one layout pinned covers exactly that layout.
std::vector<Strategy> search_layouts(const Scenario& s);

// Parameters, gradients, fp32 master and Adam states one rank keeps on its GPU (ZeRO paper's
// 2+2+12 bytes per parameter for mixed precision, divided by stage): a lower bound of its memory.
uint64_t model_state_bytes_per_rank(int64_t params, const Strategy& st, int world);

// True when `a` ranks before `b` under the objective (selection.h's rule applied to the two).
bool better(const Estimate& a, const Estimate& b, Objective objective);

}  // namespace zplan
