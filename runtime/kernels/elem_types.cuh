// elem_types.cuh: the element conversions zplan's kernels share (fp32 arithmetic on 16-bit or
// fp32 storage), and the dispatch from kernels.h's Elem to a CUDA type.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "runtime/kernels/kernels.h"

namespace zplan::rt::kernels {

__device__ __forceinline__ float to_float(float f) { return f; }
__device__ __forceinline__ float to_float(__nv_bfloat16 h) { return __bfloat162float(h); }
__device__ __forceinline__ float to_float(__half h) { return __half2float(h); }
template <typename T> __device__ __forceinline__ T from_float(float f);
template <> __device__ __forceinline__ float from_float<float>(float f) { return f; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float f) { return __float2bfloat16_rn(f); }
template <> __device__ __forceinline__ __half from_float<__half>(float f) { return __float2half_rn(f); }

// The error of the last launch on this thread, as kernels.h's functions return it (nullptr: none).
inline const char* last_launch_error() {
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? nullptr : cudaGetErrorString(err);
}

inline bool aligned(const void* p, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// Calls f(T{}) with T the CUDA type of `type`.
template <typename F>
void with_elem_type(Elem type, F&& f) {
  switch (type) {
    case Elem::fp32: f(float{}); break;
    case Elem::bf16: f(__nv_bfloat16{}); break;
    case Elem::fp16: f(__half{}); break;
  }
}

}  // namespace zplan::rt::kernels
