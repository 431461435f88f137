// elementwise_pack.cuh: V consecutive elements moved as one aligned load or store (16 bytes when
// V = 16 / sizeof(T)), for the elementwise kernels (swiglu.cu, rope.cu).
#pragma once
#include <cstdint>

#include "runtime/kernels/elem_types.cuh"

namespace zplan::rt::kernels {

template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <typename T, int V>
__device__ __forceinline__ Pack<T, V> load_pack(const T* p) { return *reinterpret_cast<const Pack<T, V>*>(p); }
template <typename T, int V>
__device__ __forceinline__ void store_pack(T* p, const Pack<T, V>& x) { *reinterpret_cast<Pack<T, V>*>(p) = x; }

// Elements per 16-byte pack of T.
template <typename T>
constexpr int kWidePack = static_cast<int>(16 / sizeof(T));

// Grid-stride launch shape for `items` independent work items: enough blocks to fill any current
// GPU (132 SMs x 16 resident blocks of 256), no more.
struct GridShape {
  int blocks = 1, threads = 256;
};
inline GridShape grid_for(int64_t items) {
  GridShape g;
  const int64_t wanted = (items + g.threads - 1) / g.threads;
  g.blocks = static_cast<int>(wanted < 1 ? 1 : wanted > 4096 ? 4096 : wanted);
  return g;
}

}  // namespace zplan::rt::kernels
