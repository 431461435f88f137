// fused_elementwise.cpp (see fused_elementwise.h).
#include "runtime/model/fused_elementwise.h"

#include "runtime/model/kernel_tensors.h"

namespace zplan::rt {
namespace {

#if ZPLAN_HAVE_RUNTIME_KERNELS

void check(const char* err, const char* what) { TORCH_CHECK(err == nullptr, what, ": ", err ? err : ""); }

// A tensor seen as [rows, last dim] with D contiguous and evenly spaced rows; false otherwise.
bool as_row_major(const at::Tensor& t, kernels::RowMajor* out) {
  if (t.dim() == 0 || t.stride(-1) != 1) return false;
  for (int64_t d = 0; d + 2 < t.dim(); ++d)
    if (t.size(d) > 1 && t.stride(d) != t.stride(d + 1) * t.size(d + 1)) return false;
  out->data = t.data_ptr();
  out->row_stride = t.dim() >= 2 ? t.stride(-2) : t.size(-1);
  return true;
}

int64_t rows_of(const at::Tensor& t) { return t.size(-1) > 0 ? t.numel() / t.size(-1) : 0; }

struct SwiGluFn : public torch::autograd::Function<SwiGluFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& gate, const at::Tensor& up) {
    kernels::Elem type{};
    kernels::RowMajor g, u;
    kernel_elem_of(gate.scalar_type(), &type);
    as_row_major(gate, &g);
    as_row_major(up, &u);
    at::Tensor out = at::empty(gate.sizes(), gate.options());
    check(kernels::swiglu_forward(g, u, out.data_ptr(), rows_of(gate), gate.size(-1), type, cuda_stream_of(gate)),
          "SwiGLU kernel");
    ctx->save_for_backward({gate, up});
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& gate = saved[0];
    const at::Tensor& up = saved[1];
    kernels::Elem type{};
    kernels::RowMajor d, g, u;
    kernel_elem_of(gate.scalar_type(), &type);
    at::Tensor grad = grads[0];
    if (!as_row_major(grad, &d)) {
      grad = grad.contiguous();
      as_row_major(grad, &d);
    }
    as_row_major(gate, &g);
    as_row_major(up, &u);
    at::Tensor grad_gate = at::empty(gate.sizes(), gate.options());
    at::Tensor grad_up = at::empty(up.sizes(), up.options());
    check(kernels::swiglu_backward(d, g, u, grad_gate.data_ptr(), grad_up.data_ptr(), rows_of(gate), gate.size(-1),
                                   type, cuda_stream_of(gate)),
          "SwiGLU backward kernel");
    return {grad_gate, grad_up};
  }
};

// x [B, H, T, D] read through its [B, T, H, D] strides; the result is [B, T, H, D] contiguous,
// returned as its [B, H, T, D] transpose (the layout the eager form's elementwise ops give it).
at::Tensor run_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, bool inverse) {
  kernels::Elem type{};
  kernel_elem_of(x.scalar_type(), &type);
  kernels::HeadsLayout l;
  l.batch = x.size(0);
  l.heads = x.size(1);
  l.tokens = x.size(2);
  l.dim = x.size(3);
  l.stride_batch = x.stride(0);
  l.stride_head = x.stride(1);
  l.stride_token = x.stride(2);
  at::Tensor y = at::empty({l.batch, l.tokens, l.heads, l.dim}, x.options());
  const int64_t table_stride_batch = cos.size(0) == 1 ? 0 : cos.stride(0);
  check(kernels::rope(x.data_ptr(), l, cos.data_ptr(), sin.data_ptr(), table_stride_batch, cos.stride(1), y.data_ptr(),
                      inverse, type, cuda_stream_of(x)),
        inverse ? "RoPE backward kernel" : "RoPE kernel");
  return y.transpose(1, 2);
}

struct RopeFn : public torch::autograd::Function<RopeFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos,
                            const at::Tensor& sin) {
    ctx->save_for_backward({cos, sin});  // the tables, which live through the step anyway
    return run_rope(x, cos, sin, /*inverse=*/false);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    at::Tensor grad = grads[0];
    if (grad.stride(-1) != 1) grad = grad.contiguous();
    return {run_rope(grad, saved[0], saved[1], /*inverse=*/true), at::Tensor(), at::Tensor()};
  }
};
#endif

}  // namespace

at::Tensor fused_swiglu_or_undefined(const at::Tensor& gate, const at::Tensor& up) {
#if ZPLAN_HAVE_RUNTIME_KERNELS
  kernels::Elem type{};
  kernels::RowMajor g, u;
  const bool takes = gate.is_cuda() && up.is_cuda() && gate.scalar_type() == up.scalar_type() &&
                     kernel_elem_of(gate.scalar_type(), &type) && gate.sizes() == up.sizes() && as_row_major(gate, &g) &&
                     as_row_major(up, &u);
  if (takes) return SwiGluFn::apply(gate, up);
#else
  (void)gate;
  (void)up;
#endif
  return at::Tensor();
}

at::Tensor fused_rope_or_undefined(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
#if ZPLAN_HAVE_RUNTIME_KERNELS
  kernels::Elem type{};
  const bool takes = x.is_cuda() && x.dim() == 4 && x.stride(3) == 1 && x.size(3) % 2 == 0 &&
                     kernel_elem_of(x.scalar_type(), &type) && cos.scalar_type() == x.scalar_type() &&
                     sin.scalar_type() == x.scalar_type() && cos.dim() == 3 && cos.sizes() == sin.sizes() &&
                     cos.strides() == sin.strides() && cos.stride(2) == 1 && cos.size(1) == x.size(2) &&
                     cos.size(2) == x.size(3) && (cos.size(0) == x.size(0) || cos.size(0) == 1) && cos.is_cuda();
  if (takes) return RopeFn::apply(x, cos, sin);
#else
  (void)x;
  (void)cos;
  (void)sin;
#endif
  return at::Tensor();
}

}  // namespace zplan::rt
