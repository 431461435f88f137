// mixed_adamw.cu: one-pass AdamW on fp32 masters from 16-bit gradients (kernels.h).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "runtime/kernels/elem_types.cuh"

namespace zplan::rt::kernels {
namespace {

// The element update, in the order of torch's FusedAdamMathFunctor (ADAMW mode) so that a master
// weight agrees with at::_fused_adamw_ on the upcast gradient to float rounding.
__device__ __forceinline__ void adamw_element(float& w, float& m, float& v, float g, const AdamWScalars& s) {
  g *= s.grad_scale;
  w -= s.lr_times_weight_decay * w;
  m = s.beta1 * m + (1.0f - s.beta1) * g;
  v = s.beta2 * v + (1.0f - s.beta2) * g * g;
  const float denom = sqrtf(v) / s.bias_correction2_sqrt + s.eps;
  w -= s.step_size * m / denom;
}

// Four elements per thread and iteration: 16-byte loads of the fp32 arrays, 8-byte loads of the
// 16-bit ones (the caller checks the alignment; `vector_items` is 0 otherwise).
template <typename T>
__global__ void mixed_adamw_kernel(float* __restrict__ master, const T* __restrict__ grad, float* __restrict__ exp_avg,
                                   float* __restrict__ exp_avg_sq, T* __restrict__ weight, int64_t n,
                                   int64_t vector_items, AdamWScalars s) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t i = first; i < vector_items; i += stride) {
    float4 w = reinterpret_cast<const float4*>(master)[i];
    float4 m = reinterpret_cast<const float4*>(exp_avg)[i];
    float4 v = reinterpret_cast<const float4*>(exp_avg_sq)[i];
    union { uint2 raw; T h[4]; } g, out;
    g.raw = reinterpret_cast<const uint2*>(grad)[i];
    adamw_element(w.x, m.x, v.x, to_float(g.h[0]), s);
    adamw_element(w.y, m.y, v.y, to_float(g.h[1]), s);
    adamw_element(w.z, m.z, v.z, to_float(g.h[2]), s);
    adamw_element(w.w, m.w, v.w, to_float(g.h[3]), s);
    reinterpret_cast<float4*>(master)[i] = w;
    reinterpret_cast<float4*>(exp_avg)[i] = m;
    reinterpret_cast<float4*>(exp_avg_sq)[i] = v;
    out.h[0] = from_float<T>(w.x);
    out.h[1] = from_float<T>(w.y);
    out.h[2] = from_float<T>(w.z);
    out.h[3] = from_float<T>(w.w);
    reinterpret_cast<uint2*>(weight)[i] = out.raw;
  }
  for (int64_t i = vector_items * 4 + first; i < n; i += stride) {
    float w = master[i], m = exp_avg[i], v = exp_avg_sq[i];
    adamw_element(w, m, v, to_float(grad[i]), s);
    master[i] = w;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    weight[i] = from_float<T>(w);
  }
}

template <typename T>
void launch(float* master, const void* grad16, float* exp_avg, float* exp_avg_sq, void* weight16, int64_t n,
            const AdamWScalars& s, cudaStream_t stream) {
  const bool vector = aligned(master, 16) && aligned(exp_avg, 16) && aligned(exp_avg_sq, 16) &&
                      aligned(grad16, 8) && aligned(weight16, 8);
  const int64_t vector_items = vector ? n / 4 : 0;
  const int threads = 256;
  const int64_t work = std::max<int64_t>(vector_items, n - vector_items * 4);
  // Grid-stride: enough blocks to fill any current GPU (132 SMs x 8 resident blocks), no more.
  const int blocks = static_cast<int>(std::clamp<int64_t>((work + threads - 1) / threads, 1, 2048));
  mixed_adamw_kernel<T><<<blocks, threads, 0, stream>>>(master, static_cast<const T*>(grad16), exp_avg, exp_avg_sq,
                                                        static_cast<T*>(weight16), n, vector_items, s);
}

}  // namespace

const char* mixed_adamw_step(float* master, const void* grad16, float* exp_avg, float* exp_avg_sq, void* weight16,
                             int64_t n, Half16 type, const AdamWScalars& s, void* cuda_stream) {
  if (n <= 0) return nullptr;
  cudaStream_t stream = static_cast<cudaStream_t>(cuda_stream);
  if (type == Half16::bf16) launch<__nv_bfloat16>(master, grad16, exp_avg, exp_avg_sq, weight16, n, s, stream);
  else launch<__half>(master, grad16, exp_avg, exp_avg_sq, weight16, n, s, stream);
  return last_launch_error();
}

}  // namespace zplan::rt::kernels
