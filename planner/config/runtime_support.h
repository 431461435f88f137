// What zplan's own runtime (runtime/, `zplan --run`) can execute, stated once: the planner reads it
// to search only plans the runtime runs (pin_search_to_runtime: tools/zplan/plan_command.cpp and
// planner/search/hardware_search.cpp), and the runtime's trainer refuses anything else with the same
// message before it builds a model (runtime/train/trainer.cpp).
// Pure C++: the planner builds without libtorch.
#pragma once
#include "planner/config/cluster_spec.h"
#include "planner/config/model_spec.h"
#include "planner/config/scenario.h"
#include "planner/config/training_spec.h"
#include "planner/config/validate.h"  // StrategyCheck

namespace zplan {

struct RuntimeSupport {
  bool offload_optimizer = false;  // no host optimizer (DeepSpeed's CPUAdam) in runtime/train
  bool offload_params = false;     // no ZeRO-Infinity parameter offload
  bool amp_precisions = true;      // amp-bf16, amp-fp16: fp32 params under at::autocast (runtime/model/autocast.h)
  bool bf16_pure = false;          // bf16 params and AdamW states without masters: not implemented
  bool chunked_loss_under_autocast = false;  // the chunked loss computes grads in forward, outside autocast's casts
  bool fp16_on_cpu = false;        // CPU kernels lack fp16 matmuls (and CPU autocast fp16): fp16 and amp-fp16 need CUDA
};
inline constexpr RuntimeSupport kRuntimeSupport{};

// Ulysses of `degree` splits the KV heads evenly or replicates them: true when the runtime's
// all-to-all can run it (the attention heads must also divide, as for any Ulysses plan).
bool runtime_runs_sp_degree(const ModelSpec& m, int degree);

// `--profile zplan` predicts zplan's runtime, with or without --run, so its search offers only what
// the runtime executes: no offload, Ulysses only when every degree the search would try (dividing
// the GPUs and the heads) splits or replicates the KV heads evenly, and ZeRO 0 on one GPU (the
// runtime shards nothing on one rank, so the stages are one run). Fills only the dimensions the
// user left open: a pin stays, and the runtime refuses what it cannot run, naming the flag. Other
// profiles are left alone. Call it with the cluster the plan is searched on (one per candidate of
// a hardware search).
void pin_search_to_runtime(Scenario& s);

// The first reason the runtime cannot execute `s` on `world` ranks (cuda: a CUDA device is used),
// or nullopt. Includes the strategy rules it relies on (degrees, batch, recompute, loss path).
StrategyCheck check_runtime_support(const ModelSpec& m, const TrainingSpec& t, const Strategy& s, bool cuda, int world);

}  // namespace zplan
