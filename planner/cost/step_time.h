// Step-time model: compute from FLOPs at a documented fraction of peak, communication volumes per
// ZeRO stage and Ulysses all-to-alls over the profile's link bandwidths, PCIe traffic for offload
// and CPU checkpointing, CPU Adam for offloaded optimizers. docs/cost-model.md gives each formula.
#pragma once
#include "planner/config/cluster_spec.h"
#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"

namespace zplan {

struct StepTime {
  double compute_seconds = 0;      // forward + backward (+ recompute) matmuls and attention
  double recompute_seconds = 0;    // part of compute_seconds spent re-running checkpointed layers
  double comm_seconds = 0;         // exposed (not overlapped) collective time
  double offload_seconds = 0;      // PCIe transfers + CPU optimizer not hidden behind compute
  double optimizer_seconds = 0;    // GPU optimizer step (memory bound)
  double step_seconds = 0;
  double tokens_per_second = 0;    // whole cluster
  double model_flops_per_token = 0;
};

// Fraction of peak matmul FLOP/s a training step reaches (MFU-style). 0.40 is typical of
// Hugging Face + DeepSpeed on Hopper/Ampere for 1-70B dense models (published MFU figures of
// 35-45%); `zplan calibrate` style overrides come through this field.
struct CostOptions {
  double compute_efficiency = 0.40;
  double link_efficiency = 0.70;      // achieved fraction of link bandwidth for collectives
  double comm_overlap = 0.5;          // fraction of gradient/param collectives hidden by compute
  double cpu_adam_params_per_second_per_core = 0.15e9;  // DeepSpeed CPUAdam (AVX2/AVX512)
};

StepTime estimate_step_time(const ModelSpec& m, const ClusterSpec& cluster,
                            const TrainingSpec& training, const Strategy& s,
                            const CostOptions& options = {});

}  // namespace zplan
