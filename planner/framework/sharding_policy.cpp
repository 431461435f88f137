// DeepSpeed's ZeRO state homes (see sharding_policy.h). The other frameworks' rows are built in
// their policy files from the same StateHome type.
#include "planner/framework/sharding_policy.h"

namespace zplan {

ModelStateHomes zero_state_homes(int zero_stage, bool offload_optimizer, bool offload_params, int64_t shard_ranks) {
  ModelStateHomes h;
  for (StateHome* s : {&h.master_params, &h.working_params, &h.gradient_accumulator, &h.optimizer_states})
    s->ranks = shard_ranks;
  h.master_params.partitioned = h.optimizer_states.partitioned = zero_stage >= 1;
  h.gradient_accumulator.partitioned = zero_stage >= 1;
  h.working_params.partitioned = zero_stage >= 3;
  if (offload_optimizer) h.master_params.device = h.optimizer_states.device = StateDevice::host;
  // The gradient partition follows the optimizer to the host (stage3.py places it on the
  // optimizer's device); stage 0 has no partition of its own, its .grad tensors stay on the GPU.
  if (offload_optimizer && zero_stage >= 1) h.gradient_accumulator.device = StateDevice::host;
  if (offload_params) h.working_params.device = StateDevice::host;
  // Stage 0's FP16_UnfusedOptimizer steps once at engine init (Adam state then); stages 1-3
  // (0.19) create it lazily in the first step. Stage 3 keeps its 16-bit gradient partition for
  // the run; stages 1/2 create theirs at the first gradient of each step.
  h.optimizer_states.created = zero_stage >= 1 ? CreatedAt::first_step : CreatedAt::init;
  h.gradient_accumulator.created = zero_stage >= 3 ? CreatedAt::init : CreatedAt::each_step;
  h.gradients_reduce_scattered = zero_stage >= 2;
  h.params_gathered_after_step = zero_stage >= 1 && zero_stage <= 2;
  h.params_gathered_per_micro_step = zero_stage >= 3;
  return h;
}

}  // namespace zplan
