// zplan's own single-GPU runtime (docs/runtime.md): the plain loop's model code, with
//
//   buffer / state           | size                          | lives
//   -------------------------+-------------------------------+-----------------------------------
//   fp32 masters, AdamW state| whole, per tensor             | from init (not lazy)
//   logits                   | [t, V] compute dtype          | until the loss is read (no `outputs`)
//   fp32 gradient upcast     | one (fused) tensor at a time  | inside the step (fp16: + overflow check)
//   amp-fp16 unscaled copy   | one tensor at a time          | inside the step, after the overflow checks
//   .grad                    | whole, per tensor             | until step_end (its own phase)
#include "planner/framework/plain_policy.h"

namespace zplan {
namespace {

class RuntimePolicy : public PlainPolicy {
 public:
  using PlainPolicy::PlainPolicy;
  static ModelStateHomes state_homes() {
    ModelStateHomes h = PlainPolicy::state_homes();
    h.optimizer_states.created = CreatedAt::init;
    return h;
  }

  void optimizer_step(int step) override {
    (void)step;
    // One gradient at a time is upcast to fp32 (fp16 adds the overflow check's fp32 copy and its
    // bool result); fused AdamW itself allocates nothing. "One gradient" is one parameter as the
    // runtime holds it: a fused tensor (the experts' gate_up [E, 2F, C], GPT-2's c_attn) is upcast
    // whole, which for MoE models is the largest temporary of the step.
    const std::vector<HfTensor>& tensors = model_tables(st_.m).hf;
    auto elements = [](const HfTensor& h) { return static_cast<uint64_t>(h.elements); };
    if (st_.recipe.fp32_grad_bytes == 0) {
      // fp32 grads (fp32, amp). amp-fp16's loss scaler still checks every gradient for inf/nan
      // first (a bool per element), then unscales into an fp32 copy, one tensor at a time.
      if (!is_fp16(st_.s.precision)) return;
      for (const HfTensor& h : tensors)
        st_.t.free(st_.t.alloc(Category::optimizer_temp, h.name, ".overflow_check", elements(h)));
      for (const HfTensor& h : tensors)
        st_.t.free(st_.t.alloc(Category::optimizer_temp, h.name, ".grad_unscaled", elements(h) * kFp32Bytes));
      return;
    }
    for (const HfTensor& h : tensors) {
      const uint64_t n = elements(h);
      const int fp32 = st_.t.alloc(Category::optimizer_temp, h.name, ".grad_fp32", n * kFp32Bytes);
      const int check = is_fp16(st_.s.precision)
                            ? st_.t.alloc(Category::optimizer_temp, h.name, ".overflow_check", n * (kFp32Bytes + 1))
                            : -1;
      if (check >= 0) st_.t.free(check);
      st_.t.free(fp32);
    }
  }
  bool keeps_outputs() const override { return false; }
  bool zero_grad_at_step_end() const override { return true; }
};

}  // namespace

std::unique_ptr<FrameworkPolicy> make_runtime_policy(StepState& st) {
  return std::make_unique<RuntimePolicy>(st, RuntimePolicy::state_homes());
}

}  // namespace zplan
