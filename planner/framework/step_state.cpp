// Shared step state (see step_state.h).
#include "planner/framework/step_state.h"

#include <algorithm>

namespace zplan {

StepState::StepState(const ModelSpec& model, const TrainingSpec& training, const Strategy& strategy,
                     const ExecContext& context, TimelineRecording recording)
    : m(model), tr(training), s(strategy), c(context), recipe(precision_recipe(strategy.precision)),
      tables(model_tables(model)), params(tables.tensors), shards(std::max<int64_t>(1, context.world_size)),
      total_params(tables.counts.total), layer_param_index(tables.block_rows), t(recording) {
  grad_handles.assign(params.size(), -1);
}

uint64_t StepState::layer_bytes(int64_t layer, int bytes_per_element) const {
  // Every row outside the blocks (layer -1) is an embedding, the lm_head or the final norm.
  const ParamCounts& n = tables.counts;
  const int64_t elements = layer == -1 ? n.embedding + n.lm_head + n.final_norm
                           : layer >= 0 && layer < static_cast<int64_t>(n.per_layer.size()) ? n.per_layer[static_cast<size_t>(layer)]
                                                                                             : 0;
  return static_cast<uint64_t>(elements) * bytes_per_element;
}

void StepState::free_handle(int& h) {
  if (h >= 0) t.free(h);
  h = -1;
}

void StepState::free_grads() {
  for (int& h : grad_handles) free_handle(h);
}

void StepState::autograd_gradient(size_t index) {
  const ParamTensor& p = params[index];
  int& handle = grad_handles[index];
  const uint64_t full = static_cast<uint64_t>(p.elements) * recipe.grad_bytes;
  if (handle >= 0) {
    // Accumulation: the new gradient is added in place into the existing .grad.
    const int h = t.alloc(Category::working, p.name, ".grad_new", full);
    t.free(h);
    return;
  }
  handle = t.alloc(Category::grads, p.name, ".grad", full);
}

void StepState::alloc_per_tensor_optimizer_states() {
  const int state_bytes = recipe.optimizer_bytes / 2;  // each of exp_avg, exp_avg_sq
  // torch AdamW: state per parameter tensor, fp32 for fp32/AMP params and for fp32 masters.
  for (const ParamTensor& p : params) {
    t.alloc(Category::optimizer_states, p.name, ".exp_avg", static_cast<uint64_t>(p.elements) * state_bytes);
    t.alloc(Category::optimizer_states, p.name, ".exp_avg_sq", static_cast<uint64_t>(p.elements) * state_bytes);
  }
}

void StepState::alloc_flat_optimizer_states(const std::string& name, int64_t elements) {
  const int state_bytes = recipe.optimizer_bytes / 2;
  const uint64_t b = static_cast<uint64_t>(elements) * state_bytes;
  t.alloc(Category::optimizer_states, name, ".exp_avg", b);
  t.alloc(Category::optimizer_states, name, ".exp_avg_sq", b);
}

}  // namespace zplan
