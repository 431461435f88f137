// kernel_tensors.h: whether zplan's kernels can run on a device, and what the autograd functions
// around them (fused_elementwise.cpp, fused_cross_entropy.cpp) share to hand tensors to
// runtime/kernels: the element type and the tensor's current CUDA stream (builds with the kernels).
#pragma once

#include "runtime/kernels/kernels.h"
#include "runtime/torch_compat.h"

namespace zplan::rt {

// Whether this build has the kernels and `device` can run them.
inline bool runtime_kernels_available(const at::Device& device) { return ZPLAN_HAVE_RUNTIME_KERNELS && device.is_cuda(); }

}  // namespace zplan::rt

#if ZPLAN_HAVE_RUNTIME_KERNELS
#include <c10/cuda/CUDAStream.h>

namespace zplan::rt {

// The kernels' element type for a tensor dtype; false for any other dtype.
inline bool kernel_elem_of(at::ScalarType t, kernels::Elem* out) {
  switch (t) {
    case at::kFloat: *out = kernels::Elem::fp32; return true;
    case at::kBFloat16: *out = kernels::Elem::bf16; return true;
    case at::kHalf: *out = kernels::Elem::fp16; return true;
    default: return false;
  }
}

inline void* cuda_stream_of(const at::Tensor& t) { return c10::cuda::getCurrentCUDAStream(t.device().index()).stream(); }

}  // namespace zplan::rt
#endif
