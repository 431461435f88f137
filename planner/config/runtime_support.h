// What zplan's own runtime (runtime/, `zplan --run`) can execute, stated once: the planner reads it
// to search only plans the runtime runs (tools/zplan/plan_command.cpp), and the runtime's trainer
// refuses anything else with the same message before it builds a model (runtime/train/trainer.cpp).
// Pure C++: the planner builds without libtorch.
#pragma once
#include "planner/config/cluster_spec.h"
#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"
#include "planner/config/validate.h"  // StrategyCheck

namespace zplan {

struct RuntimeSupport {
  bool offload_optimizer = false;  // no host optimizer (DeepSpeed's CPUAdam) in runtime/train
  bool offload_params = false;     // no ZeRO-Infinity parameter offload
  bool autocast_precisions = false;  // amp-bf16, amp-fp16 and bf16-pure are not implemented
  bool fp16_on_cpu = false;        // CPU kernels lack fp16 matmuls: fp16 needs a CUDA device
};
inline constexpr RuntimeSupport kRuntimeSupport{};

// Ulysses of `degree` splits the KV heads evenly or replicates them: true when the runtime's
// all-to-all can run it (the attention heads must also divide, as for any Ulysses plan).
bool runtime_runs_sp_degree(const ModelSpec& m, int degree);

// The first reason the runtime cannot execute `s` on `world` ranks (cuda: a CUDA device is used),
// or nullopt. Includes the strategy rules it relies on (degrees, batch, recompute, loss path).
StrategyCheck check_runtime_support(const ModelSpec& m, const TrainingSpec& t, const Strategy& s, bool cuda, int world);

}  // namespace zplan
