// The plan search's memory screen and the choices it walks, shared by the search
// (planner/search/search.cpp) and the screened bound of a layout (screen_bound.h).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/estimate.h"
#include "planner/search/search.h"

namespace zplan {

// (micro_batch, grad_accumulation) pairs, micro-batches ascending: with a global batch,
// mb * ga * DP must equal it.
std::vector<std::pair<int64_t, int64_t>> batch_choices(const Scenario& s, int sp);

// CPU checkpointing off and on, or the pinned choice.
std::vector<bool> cpu_ckpt_choices(const Scenario& s);

// What a layout's model states alone may take per GPU (model_state_bytes_per_rank): above it, the
// layout cannot fit at any batch or recompute and is not screened.
uint64_t model_states_limit_bytes(const Scenario& s, const SearchOptions& options);

// The screen: an estimate without the caching-allocator replay (reserved taken as allocated). It
// can only be more optimistic than the full estimate: reserved >= allocated, so its free memory
// and its band are upper and lower bounds. A candidate it rejects cannot fit; one it passes is
// estimated in full before it counts.
Estimate screen_estimate(const Scenario& s, const SearchOptions& options, const Strategy& st);

// The fewest checkpointed layers in [lowest, last] whose screen passes, given that `last` passes:
// bisection, since allocated memory falls as the count grows (the screen is monotonic in it).
// `passes(x)` screens x; x is `family` with checkpointed_layers set.
template <typename Passes>
int64_t first_passing_count(Strategy family, int64_t lowest, int64_t last, Passes&& passes) {
  int64_t lo = lowest - 1, hi = last;  // hi passes; lo fails (lowest - 1: nothing below the range)
  while (hi - lo > 1) {
    family.checkpointed_layers = (lo + hi) / 2;
    if (passes(family)) hi = family.checkpointed_layers;
    else lo = family.checkpointed_layers;
  }
  return hi;
}

}  // namespace zplan
