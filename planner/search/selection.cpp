// The recommendation rule (see selection.h).
#include "planner/search/selection.h"

#include <algorithm>
#include <tuple>

namespace zplan {
namespace {

// Fewer moving parts to get wrong: no offload, no CPU checkpoints, less recompute, lower stage, less SP.
auto simplicity(const Strategy& s) {
  return std::make_tuple(static_cast<int>(s.offload_optimizer) + static_cast<int>(s.offload_params),
                         static_cast<int>(s.cpu_checkpointing), s.checkpointed_layers, s.zero_stage, s.sp_degree,
                         s.micro_batch);
}

}  // namespace

bool more_free_first(const Estimate& a, const Estimate& b) {
  if (a.free_bytes != b.free_bytes) return a.free_bytes > b.free_bytes;
  if (a.time.tokens_per_second != b.time.tokens_per_second) return a.time.tokens_per_second > b.time.tokens_per_second;
  return simplicity(a.strategy) < simplicity(b.strategy);
}

bool ranks_before(const Estimate& a, const Estimate& b, double floor) {
  const bool tie_a = a.time.tokens_per_second >= floor, tie_b = b.time.tokens_per_second >= floor;
  if (tie_a != tie_b) return tie_a;
  if (tie_a) return more_free_first(a, b);
  if (a.time.tokens_per_second != b.time.tokens_per_second) return a.time.tokens_per_second > b.time.tokens_per_second;
  return more_free_first(a, b);
}

void rank_feasible(std::vector<Estimate>& v, Objective objective) {
  double best = 0;
  for (const Estimate& e : v) best = std::max(best, e.time.tokens_per_second);
  const double floor = objective == Objective::memory ? 0.0 : tie_floor(best);
  std::sort(v.begin(), v.end(), [floor](const Estimate& a, const Estimate& b) { return ranks_before(a, b, floor); });
}

}  // namespace zplan
