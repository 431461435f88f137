// swiglu.cu: SwiGLU forward and backward as one kernel each (kernels.h).
#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>

#include "runtime/kernels/elementwise_pack.cuh"

namespace zplan::rt::kernels {
namespace {

__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// Work item i covers V elements of row i / packs_per_row.
template <typename T, int V>
__global__ void swiglu_forward_kernel(const T* __restrict__ gate, int64_t gate_stride, const T* __restrict__ up,
                                      int64_t up_stride, T* __restrict__ out, int64_t rows, int64_t packs_per_row) {
  const int64_t items = rows * packs_per_row, cols = packs_per_row * V;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < items;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / packs_per_row, c = (i - r * packs_per_row) * V;
    const Pack<T, V> g = load_pack<T, V>(gate + r * gate_stride + c);
    const Pack<T, V> u = load_pack<T, V>(up + r * up_stride + c);
    Pack<T, V> o;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const float x = to_float(g.v[k]);
      o.v[k] = from_float<T>(x * sigmoid(x) * to_float(u.v[k]));
    }
    store_pack<T, V>(out + r * cols + c, o);
  }
}

template <typename T, int V>
__global__ void swiglu_backward_kernel(const T* __restrict__ grad, int64_t grad_stride, const T* __restrict__ gate,
                                       int64_t gate_stride, const T* __restrict__ up, int64_t up_stride,
                                       T* __restrict__ grad_gate, T* __restrict__ grad_up, int64_t rows,
                                       int64_t packs_per_row) {
  const int64_t items = rows * packs_per_row, cols = packs_per_row * V;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < items;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / packs_per_row, c = (i - r * packs_per_row) * V;
    const Pack<T, V> d = load_pack<T, V>(grad + r * grad_stride + c);
    const Pack<T, V> g = load_pack<T, V>(gate + r * gate_stride + c);
    const Pack<T, V> u = load_pack<T, V>(up + r * up_stride + c);
    Pack<T, V> dg, du;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const float x = to_float(g.v[k]), dy = to_float(d.v[k]), s = sigmoid(x);
      du.v[k] = from_float<T>(dy * x * s);
      // silu'(x) = s (1 + x (1 - s)), as torch's silu_backward.
      dg.v[k] = from_float<T>(dy * to_float(u.v[k]) * s * (1.0f + x * (1.0f - s)));
    }
    store_pack<T, V>(grad_gate + r * cols + c, dg);
    store_pack<T, V>(grad_up + r * cols + c, du);
  }
}

// Whether every row of every operand starts on a 16-byte boundary with whole packs in a row.
template <typename T>
bool wide_packs_fit(std::initializer_list<RowMajor> operands, std::initializer_list<const void*> outputs, int64_t cols) {
  constexpr int V = kWidePack<T>;
  if (cols % V != 0) return false;
  for (const RowMajor& m : operands)
    if (m.row_stride % V != 0 || !aligned(m.data, 16)) return false;
  for (const void* p : outputs)
    if (!aligned(p, 16)) return false;
  return true;
}

}  // namespace

const char* swiglu_forward(RowMajor gate, RowMajor up, void* out, int64_t rows, int64_t cols, Elem type,
                           void* cuda_stream) {
  if (rows <= 0 || cols <= 0) return nullptr;
  cudaStream_t stream = static_cast<cudaStream_t>(cuda_stream);
  with_elem_type(type, [&](auto zero) {
    using T = decltype(zero);
    const T* g = static_cast<const T*>(gate.data);
    const T* u = static_cast<const T*>(up.data);
    T* o = static_cast<T*>(out);
    if (wide_packs_fit<T>({gate, up}, {out}, cols)) {
      constexpr int V = kWidePack<T>;
      const GridShape s = grid_for(rows * (cols / V));
      swiglu_forward_kernel<T, V><<<s.blocks, s.threads, 0, stream>>>(g, gate.row_stride, u, up.row_stride, o, rows, cols / V);
    } else {
      const GridShape s = grid_for(rows * cols);
      swiglu_forward_kernel<T, 1><<<s.blocks, s.threads, 0, stream>>>(g, gate.row_stride, u, up.row_stride, o, rows, cols);
    }
  });
  return last_launch_error();
}

const char* swiglu_backward(RowMajor grad, RowMajor gate, RowMajor up, void* grad_gate, void* grad_up, int64_t rows,
                            int64_t cols, Elem type, void* cuda_stream) {
  if (rows <= 0 || cols <= 0) return nullptr;
  cudaStream_t stream = static_cast<cudaStream_t>(cuda_stream);
  with_elem_type(type, [&](auto zero) {
    using T = decltype(zero);
    const T* d = static_cast<const T*>(grad.data);
    const T* g = static_cast<const T*>(gate.data);
    const T* u = static_cast<const T*>(up.data);
    T* dg = static_cast<T*>(grad_gate);
    T* du = static_cast<T*>(grad_up);
    if (wide_packs_fit<T>({grad, gate, up}, {grad_gate, grad_up}, cols)) {
      constexpr int V = kWidePack<T>;
      const GridShape s = grid_for(rows * (cols / V));
      swiglu_backward_kernel<T, V><<<s.blocks, s.threads, 0, stream>>>(d, grad.row_stride, g, gate.row_stride, u,
                                                                       up.row_stride, dg, du, rows, cols / V);
    } else {
      const GridShape s = grid_for(rows * cols);
      swiglu_backward_kernel<T, 1><<<s.blocks, s.threads, 0, stream>>>(d, grad.row_stride, g, gate.row_stride, u,
                                                                       up.row_stride, dg, du, rows, cols);
    }
  });
  return last_launch_error();
}

}  // namespace zplan::rt::kernels
