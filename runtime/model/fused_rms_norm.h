// fused_rms_norm.h: the runtime's RMSNorm on a GPU (the Llama/Qwen kind; transformer.cpp model_norm).
// Forward and input gradient are PyTorch's fused kernels (at::_fused_rms_norm and its backward);
// the weight gradient of a bf16 norm is zplan's kernel (runtime/kernels/rms_norm_weight_grad.cu)
// where the build has it: PyTorch's GammaBetaBackward spent ~79 us per norm of a 4K-token step
// (docs/performance.md). Saved for backward, as FusedRmsNormBackward0 saves: the input, the weight
// and the fp32 1/rms per row, so the planner's block table is the same for both.
#pragma once

#include "runtime/torch_compat.h"

namespace zplan::rt {

// weight * x / rms(x) over the last dimension (fp32 inside the kernels), output in x's dtype.
at::Tensor fused_rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

// Whether fused_rms_norm's weight gradient runs zplan's kernel for this input and weight.
bool rms_norm_weight_grad_kernel_takes(const at::Tensor& x, const at::Tensor& weight);

}  // namespace zplan::rt
