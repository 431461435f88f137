// zplan's own single-GPU runtime (docs/runtime.md): the plain loop's model code, with
//
//   buffer / state           | size                          | lives
//   -------------------------+-------------------------------+-----------------------------------
//   fp32 masters, AdamW state| whole, per tensor             | from init (not lazy)
//   logits                   | [t, V] compute dtype          | until the loss is read (no `outputs`)
//   fp32 gradient upcast     | one (fused) tensor at a time  | inside the step; none with the
//                            |                               | fused-master kernel
//   amp-fp16 unscaled copy   | one tensor at a time          | inside the step, after the overflow checks
//   fp16 overflow check      | an fp32 sum per tensor        | (a scalar: not counted)
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
    // fp16's loss scaler first checks every gradient for inf/nan through its fp32 sum (a scalar
    // per tensor: no temporary worth counting). Then, on the upcast path, one gradient at a time is
    // upcast to fp32 (amp-fp16: unscaled into an fp32 copy); fused AdamW itself allocates nothing.
    // "One gradient" is one parameter as the runtime holds it: a fused tensor (the experts' gate_up
    // [E, 2F, C], GPT-2's c_attn) is upcast whole, which for MoE models is the largest temporary of
    // the step. The fused-master kernel (runtime/kernels/mixed_adamw.cu) reads the 16-bit gradient
    // as it is: no temporary at all.
    const std::vector<HfTensor>& tensors = model_tables(st_.m).hf;
    auto elements = [](const HfTensor& h) { return static_cast<uint64_t>(h.elements); };
    const bool fp32_grads = st_.recipe.fp32_grad_bytes == 0;  // fp32, amp
    if (fp32_grads && !is_fp16(st_.s.precision)) return;
    if (!fp32_grads && st_.c.fused_master_adamw) return;
    const char* suffix = fp32_grads ? ".grad_unscaled" : ".grad_fp32";
    for (const HfTensor& h : tensors)
      st_.t.free(st_.t.alloc(Category::optimizer_temp, h.name, suffix, elements(h) * kFp32Bytes));
  }
  bool keeps_outputs() const override { return false; }
  bool zero_grad_at_step_end() const override { return true; }
};

}  // namespace

std::unique_ptr<FrameworkPolicy> make_runtime_policy(StepState& st) {
  return std::make_unique<RuntimePolicy>(st, RuntimePolicy::state_homes());
}

}  // namespace zplan
