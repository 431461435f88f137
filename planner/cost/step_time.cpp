// Step-time model (see step_time.h).
#include "planner/cost/step_time.h"

#include <algorithm>

#include "planner/cost/host_device_overlap.h"

namespace zplan {

StepTermVector term_weights(const CostOptions& o) {
  StepTermVector w{};
  w[kMatmulTerm] = 1.0 / o.matmul_efficiency;
  w[kAttentionTerm] = 1.0 / o.attention_efficiency;
  w[kMemoryBoundTerm] = 1.0 / o.memory_bw_efficiency;
  w[kOptimizerTerm] = o.optimizer_traffic_factor;
  w[kKernelTerm] = o.kernel_overhead_seconds;
  w[kMicroStepTerm] = o.micro_step_overhead_seconds;
  w[kCommTerm] = 1.0 / o.link_efficiency;
  w[kOffloadTerm] = 1.0 / o.offload_efficiency;
  w[kHostSyncTerm] = o.host_sync_seconds;
  w[kOffloadStepTerm] = 1.0 / o.offload_step_efficiency;
  w[kZero3HookTerm] = o.zero3_hook_seconds;
  w[kZero2HookTerm] = o.zero2_hook_seconds;
  w[kCheckpointHookTerm] = o.checkpoint_hook_seconds;
  return w;
}

CostOptions with_term_weights(CostOptions o, const StepTermVector& w) {
  o.matmul_efficiency = 1.0 / w[kMatmulTerm];
  o.attention_efficiency = 1.0 / w[kAttentionTerm];
  o.memory_bw_efficiency = 1.0 / w[kMemoryBoundTerm];
  o.optimizer_traffic_factor = w[kOptimizerTerm];
  o.kernel_overhead_seconds = w[kKernelTerm];
  o.micro_step_overhead_seconds = w[kMicroStepTerm];
  o.link_efficiency = 1.0 / w[kCommTerm];
  o.offload_efficiency = 1.0 / w[kOffloadTerm];
  o.host_sync_seconds = w[kHostSyncTerm];
  o.offload_step_efficiency = 1.0 / w[kOffloadStepTerm];
  o.zero3_hook_seconds = w[kZero3HookTerm];
  o.zero2_hook_seconds = w[kZero2HookTerm];
  o.checkpoint_hook_seconds = w[kCheckpointHookTerm];
  return o;
}

StepTime estimate_step_time(const ModelSpec& m, const ClusterSpec& cluster, const TrainingSpec& training,
                            const Strategy& s, const CostOptions& o) {
  const StepTerms terms = step_terms(m, cluster, training, s, o.mechanisms);
  const StepTermVector w = term_weights(o);
  const StepTermVector v = weighted_terms(terms.total, w);  // seconds per term
  StepTime t;
  t.compute_seconds = v[kMatmulTerm] + v[kAttentionTerm];
  t.optimizer_seconds = v[kOptimizerTerm];
  t.memory_bound_seconds = v[kMemoryBoundTerm] + t.optimizer_seconds;
  for (size_t i : kOverheadTerms) t.overhead_seconds += v[i];
  t.comm_seconds = v[kCommTerm];
  t.offload_seconds = v[kOffloadTerm] + v[kOffloadStepTerm];
  const CombinedStep step = combine_step_terms(v, o.mechanisms.host_device_overlap_norm);
  // Recompute's share of the step: its terms at the marginal rate of their side.
  for (size_t i = 0; i < kStepTermCount; ++i) t.recompute_seconds += step.marginal[i] * w[i] * terms.recompute[i];
  t.step_seconds = step.seconds;
  t.overlap_hidden_seconds = step.hidden_seconds;
  t.host_bound = step.host_bound();
  t.model_flops_per_token = terms.model_flops_per_token;
  t.calibrated = !o.calibration.empty();
  t.calibration_borrowed = o.calibration_borrowed;
  t.held_out = o.held_out;
  t.tokens_per_second = t.step_seconds > 0 ? terms.tokens_per_step / t.step_seconds : 0;
  return t;
}

}  // namespace zplan
