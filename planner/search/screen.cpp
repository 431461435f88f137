// The search's screen and its choices (see screen.h).
#include "planner/search/screen.h"

#include <algorithm>

namespace zplan {

std::vector<std::pair<int64_t, int64_t>> batch_choices(const Scenario& s, int sp) {
  std::vector<std::pair<int64_t, int64_t>> out;
  const int64_t dp = s.cluster.world_size() / sp;
  std::vector<int64_t> mbs;
  if (s.pins.micro_batch) mbs = {*s.pins.micro_batch};
  else for (int64_t mb = 1; mb <= 64; mb *= 2) mbs.push_back(mb);
  for (int64_t mb : mbs) {
    if (s.training.global_batch > 0) {
      if (s.training.global_batch % (mb * dp) != 0) continue;
      const int64_t ga = s.training.global_batch / (mb * dp);
      if (s.pins.grad_accumulation && *s.pins.grad_accumulation != ga) continue;
      out.push_back({mb, ga});
    } else {
      out.push_back({mb, s.pins.grad_accumulation.value_or(1)});
    }
  }
  return out;
}

std::vector<bool> cpu_ckpt_choices(const Scenario& s) {
  if (s.pins.cpu_checkpointing) return {*s.pins.cpu_checkpointing};
  return {false, true};
}

uint64_t model_states_limit_bytes(const Scenario& s, const SearchOptions& options) {
  return static_cast<uint64_t>(static_cast<double>(s.cluster.gpu.memory_bytes) *
                               std::min(1.0 - options.estimate.margin, options.estimate.memory_fraction));
}

Estimate screen_estimate(const Scenario& s, const SearchOptions& options, const Strategy& st) {
  EstimateOptions screen = options.estimate;
  screen.fast = true;
  return estimate(s.model, s.cluster, s.training, st, screen);
}

}  // namespace zplan
