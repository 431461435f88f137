// fused_elementwise.h: SwiGLU and RoPE through zplan's CUDA kernels (runtime/kernels/swiglu.cu,
// rope.cu), one kernel each forward and backward, as autograd functions. PyTorch's eager form ran
// SwiGLU as silu then mul (keeping silu's output for backward) and RoPE as rotate_half's neg and cat,
// two muls and an add, forward and backward (docs/performance.md). The planner's ElementwiseImpl
// follows the same choice (training_spec.h); every other build, device, dtype or layout runs the
// eager form, which the callers in blocks.cpp keep.
#pragma once

#include "runtime/torch_compat.h"

namespace zplan::rt {

// silu(gate) * up (fp32 inside, one rounding), saving gate and up only; nullopt-like undefined
// tensor where the kernel does not take these tensors (the caller then runs the eager form).
at::Tensor fused_swiglu_or_undefined(const at::Tensor& gate, const at::Tensor& up);

// x * cos + rotate_half(x) * sin for x [B, H, T, D] whose [B, T, H, D] transpose has D contiguous
// (q and k as the attention block makes them) and cos/sin [B or 1, T, D]; the result has the same
// layout as the eager form's. Undefined where the kernel does not take these tensors.
at::Tensor fused_rope_or_undefined(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace zplan::rt
