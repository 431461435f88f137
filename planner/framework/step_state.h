// StepState: what the step skeleton (planner/memory/step_simulation.cpp) and the framework
// policies (framework_policy.h) share while they write one Timeline: the model's parameter table,
// the precision recipe, the sharding row of the framework, and the live gradient handles.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "planner/config/model_spec.h"
#include "planner/config/training_spec.h"
#include "planner/framework/sharding_policy.h"
#include "planner/memory/exec_context.h"
#include "planner/memory/params.h"
#include "planner/memory/precision_recipe.h"
#include "planner/memory/timeline.h"

namespace zplan {

constexpr int kFp32Bytes = 4;

struct StepState {
  StepState(const ModelSpec& m, const TrainingSpec& tr, const Strategy& s, const ExecContext& c, TimelineRecording recording);

  const ModelSpec& m;
  const TrainingSpec& tr;
  const Strategy& s;
  const ExecContext& c;
  const PrecisionRecipe recipe;
  const ModelTables& tables;                     // the model's parameter table and its sums
  const std::vector<ParamTensor>& params;
  const int64_t shards;                          // DP x SP ranks (the world)
  const int64_t total_params;
  const std::vector<std::vector<size_t>>& layer_param_index;  // parameter rows of each block
  Timeline t;
  std::vector<int> grad_handles;                 // per parameter tensor, -1 when its gradient does not exist

  // Elements of `layer`'s parameters (-1: outside the blocks) times `bytes_per_element` (0 for a
  // layer without any).
  uint64_t layer_bytes(int64_t layer, int bytes_per_element) const;
  void free_handle(int& h);
  void free_grads();
  // Autograd's .grad of one parameter: created as backward reaches it, accumulated in place.
  void autograd_gradient(size_t index);
  // torch AdamW: exp_avg and exp_avg_sq per parameter tensor.
  void alloc_per_tensor_optimizer_states();
  // A flat optimizer (DeepSpeed, FSDP2's sharded AdamW): both moments of `elements` elements.
  void alloc_flat_optimizer_states(const std::string& name, int64_t elements);
};

}  // namespace zplan
