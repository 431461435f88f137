// The plain PyTorch / Hugging Face loop (see plain_policy.h).
#include "planner/framework/plain_policy.h"

namespace zplan {

ModelStateHomes PlainPolicy::state_homes() {
  ModelStateHomes h;
  h.optimizer_states.created = CreatedAt::first_step;  // torch AdamW creates its state lazily
  h.gradient_accumulator.created = CreatedAt::each_step;
  return h;
}

void PlainPolicy::alloc_per_tensor_masters() {
  if (st_.recipe.master_bytes == 0) return;
  for (const ParamTensor& p : st_.params)
    st_.t.alloc(Category::master_weights, p.name, ".master", static_cast<uint64_t>(p.elements) * kFp32Bytes);
}

void PlainPolicy::init() {
  if (homes_.master_params.created == CreatedAt::init) alloc_per_tensor_masters();
  if (homes_.optimizer_states.created == CreatedAt::init) st_.alloc_per_tensor_optimizer_states();
}

void PlainPolicy::optimizer_step(int step) {
  std::vector<int> temps;
  if (step == 1 && homes_.optimizer_states.created == CreatedAt::first_step) st_.alloc_per_tensor_optimizer_states();
  // The 16-bit recipes step on fp32 copies of every gradient, all alive until the step ends.
  if (st_.recipe.fp32_grad_bytes > 0)
    for (const ParamTensor& p : st_.params)
      temps.push_back(st_.t.alloc(Category::optimizer_temp, p.name, ".grad_fp32", static_cast<uint64_t>(p.elements) * kFp32Bytes));
  st_.t.free_all(temps);
}

std::unique_ptr<FrameworkPolicy> make_plain_policy(StepState& st) {
  return std::make_unique<PlainPolicy>(st, PlainPolicy::state_homes());
}

}  // namespace zplan
