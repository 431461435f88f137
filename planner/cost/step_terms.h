// The step-time model's terms, each a physical quantity of one optimizer step computed at the
// datasheet rates of the hardware profile (100% of peak FLOP/s, HBM, link and PCIe bandwidth) or a
// count. The step time is their weighted sum, the weights being the model's free constants
// (CostOptions in step_time.h); `zplan calibrate` fits those weights by least squares against
// measured step times, which is why the terms are kept apart here. docs/cost-model.md gives each.
#pragma once
#include <array>
#include <cstddef>

#include "planner/config/cluster_spec.h"
#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"

namespace zplan {

enum StepTerm : size_t {
  kMatmulTerm,        // seconds: every GEMM at max(FLOPs / peak, bytes / HBM) (a roofline per shape)
  kAttentionTerm,     // seconds: attention score and value products (kernel-specific FLOPs) at peak
  kMemoryBoundTerm,   // seconds: norms, activations, RoPE, residuals, loss path, casts, optimizer at HBM
  kOptimizerTerm,     // seconds: the optimizer's minimal HBM traffic (read states, write them) at HBM
  kKernelTerm,        // count: kernels launched per step (framework dispatch + launch latency each)
  kMicroStepTerm,     // count: forward/backward passes per step (loop, loss and sync overhead each)
  kCommTerm,          // seconds: exposed collective traffic at the link's datasheet bandwidth
  kOffloadTerm,       // seconds: PCIe transfers at datasheet bandwidth + CPU Adam at its nominal rate
  kHostSyncTerm,      // count: host-device synchronisations inside a pass (the GPU drains, the CPU waits)
  kStepTermCount
};
using StepTermVector = std::array<double, kStepTermCount>;

// Short names used in calibration files and reports ("matmul", "attention", ...).
const char* step_term_name(size_t term);

struct StepTerms {
  StepTermVector total{};            // the whole step
  StepTermVector recompute{};        // the part spent re-running checkpointed layers' forward
  double model_flops_per_token = 0;  // 6 x active parameters + attention (no recompute)
  double tokens_per_step = 0;        // whole cluster: B x T x grad-accumulation x DP
};

StepTerms step_terms(const ModelSpec& m, const ClusterSpec& cluster, const TrainingSpec& training,
                     const Strategy& s, double comm_overlap, double cpu_adam_params_per_second_per_core);

}  // namespace zplan
