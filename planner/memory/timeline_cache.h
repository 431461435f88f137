// Peak-memory results of unnamed timelines (the search's screen), kept by strategy and world size.
// A step's memory timeline depends on the model, the training settings, the strategy and the world
// size (exec_context.h), not on the GPU: a hardware search that screens the same strategy on
// several GPU types of one count simulates it once. One cache serves one model and one training
// spec; its owner (planner/search/hardware_search.cpp) makes sure of that.
#pragma once
#include <cstdint>
#include <map>
#include <tuple>

#include "planner/config/training_spec.h"
#include "planner/memory/timeline.h"

namespace zplan {

class TimelineCache {
 public:
  const TimelineResult* find(const Strategy& s, int64_t world_size) const {
    auto it = results_.find(key(s, world_size));
    return it == results_.end() ? nullptr : &it->second;
  }
  const TimelineResult& put(const Strategy& s, int64_t world_size, TimelineResult r) {
    return results_.insert_or_assign(key(s, world_size), std::move(r)).first->second;
  }

 private:
  using Key = std::tuple<int64_t, int, bool, bool, int64_t, bool, int, int64_t, int64_t, int64_t, int>;
  static Key key(const Strategy& s, int64_t world_size) {
    return {world_size, s.zero_stage, s.offload_optimizer, s.offload_params, s.checkpointed_layers, s.cpu_checkpointing,
            s.sp_degree, s.loss_chunks, s.micro_batch, s.grad_accumulation, static_cast<int>(s.precision)};
  }
  std::map<Key, TimelineResult> results_;
};

}  // namespace zplan
