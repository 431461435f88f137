// fused_rms_norm.cpp (see fused_rms_norm.h).
#include "runtime/model/fused_rms_norm.h"

#include "runtime/kernels/kernels.h"
#if ZPLAN_HAVE_RUNTIME_KERNELS
#include <c10/cuda/CUDAStream.h>
#endif

namespace zplan::rt {
namespace {

#if ZPLAN_HAVE_RUNTIME_KERNELS && ZPLAN_HAVE_FUSED_RMS_NORM
struct RmsNormFn : public torch::autograd::Function<RmsNormFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            double eps) {
    auto [y, rstd] = at::_fused_rms_norm(x, {x.size(-1)}, weight, eps);
    ctx->save_for_backward({x, weight, rstd});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor rstd = saved[2].contiguous();
    const at::Tensor dy = grads[0].contiguous();
    const int64_t cols = x.size(-1);
    at::Tensor dx = std::get<0>(at::_fused_rms_norm_backward(dy, x, {cols}, rstd, weight, {true, false}));
    at::Tensor dw;
    if (ctx->needs_input_grad(1)) {
      const at::Tensor xc = x.contiguous();
      const int64_t rows = cols > 0 ? xc.numel() / cols : 0;
      at::Tensor workspace = at::empty({kernels::rms_norm_weight_grad_workspace(rows, cols)}, rstd.options());
      dw = at::empty({cols}, weight.options());
      const char* err = kernels::rms_norm_weight_grad(dy.data_ptr(), xc.data_ptr(), rstd.data_ptr<float>(),
                                                      workspace.data_ptr<float>(), dw.data_ptr(), rows, cols,
                                                      c10::cuda::getCurrentCUDAStream(x.device().index()).stream());
      TORCH_CHECK(err == nullptr, "RMSNorm weight-gradient kernel: ", err ? err : "");
    }
    return {dx, dw, at::Tensor()};
  }
};
#endif

}  // namespace

bool rms_norm_weight_grad_kernel_takes(const at::Tensor& x, const at::Tensor& weight) {
  return ZPLAN_HAVE_RUNTIME_KERNELS && ZPLAN_HAVE_FUSED_RMS_NORM && x.is_cuda() && x.scalar_type() == at::kBFloat16 &&
         weight.defined() && weight.scalar_type() == at::kBFloat16 && weight.dim() == 1 && x.size(-1) % 4 == 0 &&
         weight.size(0) == x.size(-1);
}

at::Tensor fused_rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
#if ZPLAN_HAVE_RUNTIME_KERNELS && ZPLAN_HAVE_FUSED_RMS_NORM
  if (rms_norm_weight_grad_kernel_takes(x, weight)) return RmsNormFn::apply(x, weight, eps);
#endif
  return compat::fused_rms_norm(x, weight, eps);
}

}  // namespace zplan::rt
