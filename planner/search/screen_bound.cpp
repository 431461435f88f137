// The screened bound of a layout (see screen_bound.h).
#include "planner/search/screen_bound.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "planner/cost/step_time.h"
#include "planner/memory/params.h"
#include "planner/search/screen.h"

namespace zplan {
namespace {

// One batch shape and CPU-checkpointing choice whose L-layer screen passed, with the throughput
// of each checkpointed-layer count it may contribute, computed as they are asked for.
struct FamilyBound {
  Strategy base;
  int64_t lowest = 0, last = 0;          // the counts it may have: [edge, last], edge >= lowest
  std::vector<double> tokens_per_second;  // by count - lowest; NaN until computed
};

double throughput_at(const Scenario& s, const SearchOptions& options, FamilyBound& f, int64_t n) {
  double& t = f.tokens_per_second[static_cast<size_t>(n - f.lowest)];
  if (std::isnan(t)) {
    Strategy x = f.base;
    x.checkpointed_layers = n;
    t = estimate_step_time(s.model, s.cluster, s.training, x, options.estimate.cost).tokens_per_second;
  }
  return t;
}

// Whether any count in [from, last] is faster than `best`.
bool may_beat(const Scenario& s, const SearchOptions& options, FamilyBound& f, int64_t from, double best) {
  for (int64_t n = from; n <= f.last; ++n)
    if (throughput_at(s, options, f, n) > best) return true;
  return false;
}

}  // namespace

double screened_layout_bound(const Scenario& s, const SearchOptions& options, Strategy st) {
  const int64_t L = s.model.layers;
  auto passes = [&](const Strategy& x) { return screen_estimate(s, options, x).feasible; };
  // screen_layout()'s rule: a layout whose model states alone exceed the device has no candidate.
  if (model_state_bytes_per_rank(model_tables(s.model).counts.total, st, s.cluster.world_size()) >
      model_states_limit_bytes(s, options))
    return 0;
  // The families screen_layout() finds: the same L-layer (or pinned-count) screens, the same stop
  // at the first micro-batch where no CPU-checkpointing choice passes.
  std::vector<FamilyBound> families;
  for (auto [mb, ga] : batch_choices(s, st.sp_degree)) {
    st.micro_batch = mb;
    st.grad_accumulation = ga;
    bool any = false;
    for (bool cpu : cpu_ckpt_choices(s)) {
      Strategy x = st;
      x.cpu_checkpointing = cpu;
      FamilyBound f;
      if (s.pins.checkpointed_layers) {
        if (cpu && *s.pins.checkpointed_layers == 0) continue;
        f.lowest = f.last = *s.pins.checkpointed_layers;  // the edge is the pinned count itself
      } else {
        f.lowest = cpu ? 1 : 0;
        f.last = L;
      }
      x.checkpointed_layers = f.last;
      if (!passes(x)) continue;
      any = true;
      f.base = x;
      f.tokens_per_second.assign(static_cast<size_t>(f.last - f.lowest + 1), std::numeric_limits<double>::quiet_NaN());
      families.push_back(std::move(f));
    }
    if (!any) break;
  }
  // Likely the fastest first (the fewest checkpointed layers), so that the others' edges are
  // rarely needed. The order changes the work, not the bound: a maximum.
  std::vector<size_t> order(families.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return throughput_at(s, options, families[a], families[a].lowest) > throughput_at(s, options, families[b], families[b].lowest);
  });
  double best = 0;  // screened_throughput_bound() of no candidate
  for (size_t i : order) {
    FamilyBound& f = families[i];
    if (!may_beat(s, options, f, f.lowest, best)) continue;
    const int64_t edge = s.pins.checkpointed_layers ? f.lowest : first_passing_count(f.base, f.lowest, f.last, passes);
    for (int64_t n = edge; n <= f.last; ++n) best = std::max(best, throughput_at(s, options, f, n));
  }
  return best;
}

}  // namespace zplan
