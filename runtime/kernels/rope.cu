// rope.cu: rotary position embedding forward and backward as one kernel each (kernels.h).
#include <cuda_runtime.h>

#include <cstdint>

#include "runtime/kernels/elementwise_pack.cuh"

namespace zplan::rt::kernels {
namespace {

// Work item i: V consecutive features d of the first half of one (b, t, h) row, and their partners
// d + D/2. cos/sin are read at both d and d + D/2 (transformers builds them as cat(freqs, freqs),
// but nothing here relies on that).
template <typename T, int V>
__global__ void rope_kernel(const T* __restrict__ x, HeadsLayout l, const T* __restrict__ cos,
                            const T* __restrict__ sin, int64_t table_stride_batch, int64_t table_stride_token,
                            T* __restrict__ y, bool inverse) {
  const int64_t half = l.dim / 2, packs = half / V;
  const int64_t items = l.batch * l.tokens * l.heads * packs;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < items;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t rest = i / packs;
    const int64_t d = (i - rest * packs) * V;
    const int64_t h = rest % l.heads;
    rest /= l.heads;
    const int64_t t = rest % l.tokens, b = rest / l.tokens;
    const T* row = x + b * l.stride_batch + t * l.stride_token + h * l.stride_head;
    const int64_t table = b * table_stride_batch + t * table_stride_token;
    T* out = y + ((b * l.tokens + t) * l.heads + h) * l.dim;
    const Pack<T, V> x1 = load_pack<T, V>(row + d), x2 = load_pack<T, V>(row + half + d);
    const Pack<T, V> c1 = load_pack<T, V>(cos + table + d), c2 = load_pack<T, V>(cos + table + half + d);
    const Pack<T, V> s1 = load_pack<T, V>(sin + table + d), s2 = load_pack<T, V>(sin + table + half + d);
    Pack<T, V> y1, y2;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const float u1 = to_float(x1.v[k]), u2 = to_float(x2.v[k]);
      if (!inverse) {  // y1 = x1 c1 - x2 s1, y2 = x2 c2 + x1 s2
        y1.v[k] = from_float<T>(u1 * to_float(c1.v[k]) - u2 * to_float(s1.v[k]));
        y2.v[k] = from_float<T>(u2 * to_float(c2.v[k]) + u1 * to_float(s2.v[k]));
      } else {         // dx1 = dy1 c1 + dy2 s2, dx2 = dy2 c2 - dy1 s1
        y1.v[k] = from_float<T>(u1 * to_float(c1.v[k]) + u2 * to_float(s2.v[k]));
        y2.v[k] = from_float<T>(u2 * to_float(c2.v[k]) - u1 * to_float(s1.v[k]));
      }
    }
    store_pack<T, V>(out + d, y1);
    store_pack<T, V>(out + half + d, y2);
  }
}

}  // namespace

const char* rope(const void* x, HeadsLayout l, const void* cos, const void* sin, int64_t table_stride_batch,
                 int64_t table_stride_token, void* y, bool inverse, Elem type, void* cuda_stream) {
  if (l.dim % 2 != 0) return "RoPE needs an even head dimension";
  if (l.batch <= 0 || l.tokens <= 0 || l.heads <= 0 || l.dim <= 0) return nullptr;
  cudaStream_t stream = static_cast<cudaStream_t>(cuda_stream);
  with_elem_type(type, [&](auto zero) {
    using T = decltype(zero);
    constexpr int V = kWidePack<T>;
    const int64_t half = l.dim / 2;
    const bool wide = half % V == 0 && l.stride_batch % V == 0 && l.stride_token % V == 0 && l.stride_head % V == 0 &&
                      table_stride_batch % V == 0 && table_stride_token % V == 0 && aligned(x, 16) &&
                      aligned(cos, 16) && aligned(sin, 16) && aligned(y, 16);
    const T *xt = static_cast<const T*>(x), *ct = static_cast<const T*>(cos), *st = static_cast<const T*>(sin);
    T* yt = static_cast<T*>(y);
    const int64_t rows = l.batch * l.tokens * l.heads;
    if (wide) {
      const GridShape s = grid_for(rows * (half / V));
      rope_kernel<T, V><<<s.blocks, s.threads, 0, stream>>>(xt, l, ct, st, table_stride_batch, table_stride_token, yt, inverse);
    } else {
      const GridShape s = grid_for(rows * half);
      rope_kernel<T, 1><<<s.blocks, s.threads, 0, stream>>>(xt, l, ct, st, table_stride_batch, table_stride_token, yt, inverse);
    }
  });
  return last_launch_error();
}

}  // namespace zplan::rt::kernels
