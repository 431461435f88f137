// fused_cross_entropy.cpp (see fused_cross_entropy.h).
#include "runtime/model/fused_cross_entropy.h"

#include "runtime/model/kernel_tensors.h"

namespace zplan::rt {
namespace {

#if ZPLAN_HAVE_RUNTIME_KERNELS

// logits [rows, vocab] (contiguous), targets [rows] int64.
struct CrossEntropyFn : public torch::autograd::Function<CrossEntropyFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& targets) {
    kernels::Elem type{};
    kernel_elem_of(logits.scalar_type(), &type);
    const int64_t rows = logits.size(0), vocab = logits.size(1);
    const auto f32 = logits.options().dtype(at::kFloat);
    at::Tensor lse = at::empty({rows}, f32), loss_rows = at::empty({rows}, f32);
    const char* err = kernels::cross_entropy_forward({logits.data_ptr(), logits.stride(0)}, targets.data_ptr<int64_t>(),
                                                     lse.data_ptr<float>(), loss_rows.data_ptr<float>(), rows, vocab,
                                                     type, cuda_stream_of(logits));
    TORCH_CHECK(err == nullptr, "cross-entropy kernel: ", err ? err : "");
    // mean over the counted targets; the count stays on the device (no host synchronisation).
    const at::Tensor counted = targets.ne(-100).to(at::kFloat);
    const at::Tensor count = counted.sum();
    ctx->save_for_backward({logits, targets, lse, counted, count});
    return loss_rows.sum() / count;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& logits = saved[0];
    kernels::Elem type{};
    kernel_elem_of(logits.scalar_type(), &type);
    const at::Tensor scale = (saved[3] * (grads[0].to(at::kFloat) / saved[4])).contiguous();  // [rows]
    at::Tensor grad = at::empty(logits.sizes(), logits.options());
    const char* err = kernels::cross_entropy_backward({logits.data_ptr(), logits.stride(0)}, saved[1].data_ptr<int64_t>(),
                                                      saved[2].data_ptr<float>(), scale.data_ptr<float>(), grad.data_ptr(),
                                                      logits.size(0), logits.size(1), type, cuda_stream_of(logits));
    TORCH_CHECK(err == nullptr, "cross-entropy backward kernel: ", err ? err : "");
    return {grad, at::Tensor()};
  }
};
#endif

}  // namespace

at::Tensor fused_cross_entropy_or_undefined(const at::Tensor& logits, const at::Tensor& targets) {
#if ZPLAN_HAVE_RUNTIME_KERNELS
  kernels::Elem type{};
  if (!logits.is_cuda() || !kernel_elem_of(logits.scalar_type(), &type) || logits.dim() < 1 ||
      targets.scalar_type() != at::kLong || !targets.is_cuda() || targets.numel() * logits.size(-1) != logits.numel())
    return at::Tensor();
  const int64_t vocab = logits.size(-1);
  return CrossEntropyFn::apply(logits.reshape({-1, vocab}).contiguous(), targets.reshape({-1}).contiguous());
#else
  (void)logits;
  (void)targets;
  return at::Tensor();
#endif
}

}  // namespace zplan::rt
