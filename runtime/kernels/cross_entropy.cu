// cross_entropy.cu: the cross-entropy loss over [rows, vocab] logits, forward and backward (kernels.h).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "runtime/kernels/elementwise_pack.cuh"

namespace zplan::rt::kernels {
namespace {

constexpr int64_t kIgnoreIndex = -100;
constexpr int kRowThreads = 512;

// A running (max, sum of exp(x - max)) pair: the online softmax normaliser.
struct MaxSum {
  float max = -INFINITY, sum = 0.0f;
};

__device__ __forceinline__ void add_value(MaxSum& a, float x) {
  if (x > a.max) {
    a.sum = a.sum * expf(a.max - x) + 1.0f;  // expf(-inf) = 0 on the first value
    a.max = x;
  } else if (x != -INFINITY) {  // a masked entry adds nothing (and -inf - -inf would be NaN)
    a.sum += expf(x - a.max);
  }
}

__device__ __forceinline__ MaxSum merge(MaxSum a, MaxSum b) {
  if (b.max == -INFINITY) return a;
  if (a.max == -INFINITY) return b;
  const float m = fmaxf(a.max, b.max);
  return {m, a.sum * expf(a.max - m) + b.sum * expf(b.max - m)};
}

// One block per row: each thread folds a strided share of the row, then the block merges.
template <typename T, int V>
__global__ void cross_entropy_forward_kernel(const T* __restrict__ logits, int64_t row_stride,
                                             const int64_t* __restrict__ targets, float* __restrict__ lse,
                                             float* __restrict__ loss, int64_t vocab) {
  const int64_t r = blockIdx.x;
  const T* row = logits + r * row_stride;
  MaxSum acc;
  for (int64_t j = static_cast<int64_t>(threadIdx.x) * V; j < vocab; j += static_cast<int64_t>(blockDim.x) * V) {
    const Pack<T, V> p = load_pack<T, V>(row + j);
#pragma unroll
    for (int k = 0; k < V; ++k) add_value(acc, to_float(p.v[k]));
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    MaxSum other;
    other.max = __shfl_down_sync(0xffffffffu, acc.max, offset);
    other.sum = __shfl_down_sync(0xffffffffu, acc.sum, offset);
    acc = merge(acc, other);
  }
  __shared__ MaxSum warps[kRowThreads / 32];
  if (threadIdx.x % 32 == 0) warps[threadIdx.x / 32] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    MaxSum total;
    for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) total = merge(total, warps[w]);
    const float row_lse = total.max + logf(total.sum);
    const int64_t t = targets[r];
    lse[r] = row_lse;
    loss[r] = (t == kIgnoreIndex || t < 0 || t >= vocab) ? 0.0f : row_lse - to_float(row[t]);
  }
}

// Work item i: V consecutive entries of row i / packs_per_row.
template <typename T, int V>
__global__ void cross_entropy_backward_kernel(const T* __restrict__ logits, int64_t row_stride,
                                              const int64_t* __restrict__ targets, const float* __restrict__ lse,
                                              const float* __restrict__ scale, T* __restrict__ grad, int64_t rows,
                                              int64_t packs_per_row) {
  const int64_t items = rows * packs_per_row, vocab = packs_per_row * V;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < items;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / packs_per_row, c = (i - r * packs_per_row) * V;
    const float s = scale[r], l = lse[r];
    const int64_t t = targets[r];
    const Pack<T, V> z = load_pack<T, V>(logits + r * row_stride + c);
    Pack<T, V> g;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const float p = expf(to_float(z.v[k]) - l) - (c + k == t ? 1.0f : 0.0f);
      g.v[k] = from_float<T>(p * s);
    }
    store_pack<T, V>(grad + r * vocab + c, g);
  }
}

}  // namespace

const char* cross_entropy_forward(RowMajor logits, const int64_t* targets, float* lse, float* loss, int64_t rows,
                                  int64_t vocab, Elem type, void* cuda_stream) {
  if (rows <= 0 || vocab <= 0) return nullptr;
  cudaStream_t stream = static_cast<cudaStream_t>(cuda_stream);
  with_elem_type(type, [&](auto zero) {
    using T = decltype(zero);
    constexpr int V = kWidePack<T>;
    const T* z = static_cast<const T*>(logits.data);
    const dim3 grid(static_cast<unsigned>(rows));
    if (vocab % V == 0 && logits.row_stride % V == 0 && aligned(logits.data, 16))
      cross_entropy_forward_kernel<T, V><<<grid, kRowThreads, 0, stream>>>(z, logits.row_stride, targets, lse, loss, vocab);
    else
      cross_entropy_forward_kernel<T, 1><<<grid, kRowThreads, 0, stream>>>(z, logits.row_stride, targets, lse, loss, vocab);
  });
  return last_launch_error();
}

const char* cross_entropy_backward(RowMajor logits, const int64_t* targets, const float* lse, const float* scale,
                                   void* grad, int64_t rows, int64_t vocab, Elem type, void* cuda_stream) {
  if (rows <= 0 || vocab <= 0) return nullptr;
  cudaStream_t stream = static_cast<cudaStream_t>(cuda_stream);
  with_elem_type(type, [&](auto zero) {
    using T = decltype(zero);
    constexpr int V = kWidePack<T>;
    const T* z = static_cast<const T*>(logits.data);
    T* g = static_cast<T*>(grad);
    if (vocab % V == 0 && logits.row_stride % V == 0 && aligned(logits.data, 16) && aligned(grad, 16)) {
      const GridShape s = grid_for(rows * (vocab / V));
      cross_entropy_backward_kernel<T, V><<<s.blocks, s.threads, 0, stream>>>(z, logits.row_stride, targets, lse, scale,
                                                                             g, rows, vocab / V);
    } else {
      const GridShape s = grid_for(rows * vocab);
      cross_entropy_backward_kernel<T, 1><<<s.blocks, s.threads, 0, stream>>>(z, logits.row_stride, targets, lse, scale,
                                                                             g, rows, vocab);
    }
  });
  return last_launch_error();
}

}  // namespace zplan::rt::kernels
