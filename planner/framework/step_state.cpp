// Shared step state (see step_state.h).
#include "planner/framework/step_state.h"

#include <algorithm>

namespace zplan {

StepState::StepState(const ModelSpec& model, const TrainingSpec& training, const Strategy& strategy,
                     const ExecContext& context, bool record_names)
    : m(model), tr(training), s(strategy), c(context), recipe(precision_recipe(strategy.precision)),
      params(model_tables(model).tensors), shards(std::max<int64_t>(1, context.world_size)), t(record_names) {
  layer_param_index.assign(static_cast<size_t>(m.layers + 1), {});
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamTensor& p = params[i];
    total_params += p.elements;
    layer_params[p.layer] += p.elements;
    if (p.layer >= 0 && p.layer < m.layers) layer_param_index[static_cast<size_t>(p.layer)].push_back(i);
  }
  grad_handles.assign(params.size(), -1);
}

uint64_t StepState::layer_bytes(int64_t layer, int bytes_per_element) const {
  auto it = layer_params.find(layer);
  return it == layer_params.end() ? 0 : static_cast<uint64_t>(it->second) * bytes_per_element;
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
