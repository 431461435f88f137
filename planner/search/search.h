// Cheapest feasible plan: enumerate every combination of the unpinned strategy dimensions (ZeRO
// stage, offloads, checkpointed-layer count, CPU checkpointing, SP degree, micro-batch, gradient
// accumulation for a target global batch), drop the infeasible ones with their reason, and rank the
// rest by predicted tokens/s (or by headroom with Objective::memory).
#pragma once
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/estimate.h"

namespace zplan {

enum class Objective { throughput, memory };

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
  std::vector<std::string> suggestions;  // what would make it fit, when nothing does
};

// Every candidate the search considers for this scenario (before feasibility), pins respected.
// The checkpointed-layer dimension lists 0, L and every quarter in between; search_plan() also
// finds the smallest feasible count by bisection.
std::vector<Strategy> enumerate_candidates(const Scenario& s);

Plan search_plan(const Scenario& s, const SearchOptions& options);

// The layouts search_plan() tries (precision, ZeRO stage, offloads, SP degree; batch and
// checkpointing unset), pins respected. A search with one layout pinned covers exactly that layout.
std::vector<Strategy> search_layouts(const Scenario& s);

// Parameters, gradients, fp32 master and Adam states one rank keeps on its GPU (ZeRO paper's
// 2+2+12 bytes per parameter for mixed precision, divided by stage): a lower bound of its memory.
uint64_t model_state_bytes_per_rank(int64_t params, const Strategy& st, int world);

// True when `a` ranks before `b` under the objective.
bool better(const Estimate& a, const Estimate& b, Objective objective);

}  // namespace zplan
