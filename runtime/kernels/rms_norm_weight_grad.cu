// rms_norm_weight_grad.cu: the RMSNorm weight gradient in two small kernels (kernels.h).
//   1. Blocks tile [chunk of rows] x [128 columns]: a warp reads 128 contiguous bf16 columns of a
//      row (8 bytes per thread) of dy and x, eight warps take every eighth row of the chunk, and the
//      block writes one fp32 column sum per column of its tile into workspace[chunk, cols].
//   2. 32 threads per column add the chunks' sums, and dw is written in bf16.
// Enough chunks that ~1024 blocks run whatever the width: the q/k norms (128 columns, tokens x
// heads rows) get 1024 chunks, a 2048-wide hidden norm 64.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "runtime/kernels/elem_types.cuh"

namespace zplan::rt::kernels {
namespace {

constexpr int kColsPerThread = 4;
constexpr int kWarpColumns = 32 * kColsPerThread;  // 128 columns per block tile
constexpr int kRowLanes = 8;                        // warps per block, each on every 8th row
constexpr int64_t kTargetBlocks = 1024;
constexpr int64_t kMinRowsPerChunk = 64;

__global__ void column_sums_kernel(const __nv_bfloat16* __restrict__ dy, const __nv_bfloat16* __restrict__ x,
                                   const float* __restrict__ rstd, float* __restrict__ workspace, int64_t rows,
                                   int64_t cols, int64_t rows_per_chunk) {
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kWarpColumns + threadIdx.x * kColsPerThread;
  const int64_t row_begin = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
  const int64_t row_end = min(rows, row_begin + rows_per_chunk);
  float acc[kColsPerThread] = {0.f, 0.f, 0.f, 0.f};
  if (col < cols) {
    for (int64_t r = row_begin + threadIdx.y; r < row_end; r += kRowLanes) {
      const float s = rstd[r];
      union { uint2 raw; __nv_bfloat16 h[4]; } g, v;
      g.raw = *reinterpret_cast<const uint2*>(dy + r * cols + col);
      v.raw = *reinterpret_cast<const uint2*>(x + r * cols + col);
#pragma unroll
      for (int k = 0; k < kColsPerThread; ++k) acc[k] += __bfloat162float(g.h[k]) * __bfloat162float(v.h[k]) * s;
    }
  }
  __shared__ float sums[kRowLanes][kWarpColumns];
#pragma unroll
  for (int k = 0; k < kColsPerThread; ++k) sums[threadIdx.y][threadIdx.x * kColsPerThread + k] = acc[k];
  __syncthreads();
  // The eight lanes' sums of a column, added by the threads of the first warp.
  if (threadIdx.y == 0 && col < cols) {
#pragma unroll
    for (int k = 0; k < kColsPerThread; ++k) {
      float total = 0.f;
      for (int y = 0; y < kRowLanes; ++y) total += sums[y][threadIdx.x * kColsPerThread + k];
      workspace[static_cast<int64_t>(blockIdx.y) * cols + col + k] = total;
    }
  }
}

// A block per 32 columns: its 32 x 32 threads add every 32nd chunk of a column, then the 32
// lanes of each column meet in shared memory (one serial thread per column took ~22 us a norm).
constexpr int kFinishLanes = 32;
__global__ void finish_kernel(const float* __restrict__ workspace, int64_t chunks, int64_t cols,
                              __nv_bfloat16* __restrict__ dw) {
  const int64_t col = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  float total = 0.f;
  if (col < cols)
    for (int64_t c = threadIdx.y; c < chunks; c += kFinishLanes) total += workspace[c * cols + col];
  __shared__ float lanes[kFinishLanes][33];  // padded: no bank conflicts on the column reads
  lanes[threadIdx.y][threadIdx.x] = total;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    float sum = 0.f;
    for (int y = 0; y < kFinishLanes; ++y) sum += lanes[y][threadIdx.x];
    dw[col] = __float2bfloat16_rn(sum);
  }
}

int64_t chunks_for(int64_t rows, int64_t cols) {
  const int64_t tiles = (cols + kWarpColumns - 1) / kWarpColumns;
  const int64_t by_blocks = (kTargetBlocks + tiles - 1) / tiles;
  const int64_t by_rows = std::max<int64_t>(1, rows / kMinRowsPerChunk);
  return std::clamp<int64_t>(std::min(by_blocks, by_rows), 1, 65535);
}

}  // namespace

int64_t rms_norm_weight_grad_workspace(int64_t rows, int64_t cols) { return chunks_for(rows, cols) * cols; }

const char* rms_norm_weight_grad(const void* dy_bf16, const void* x_bf16, const float* rstd, float* workspace,
                                 void* dw_bf16, int64_t rows, int64_t cols, void* cuda_stream) {
  if (cols % kColsPerThread != 0) return "rms_norm_weight_grad: the row width must be a multiple of 4";
  cudaStream_t stream = static_cast<cudaStream_t>(cuda_stream);
  auto* dw = static_cast<__nv_bfloat16*>(dw_bf16);
  if (rows <= 0) {
    cudaMemsetAsync(dw, 0, static_cast<size_t>(cols) * sizeof(__nv_bfloat16), stream);
  } else {
    const int64_t chunks = chunks_for(rows, cols);
    const int64_t rows_per_chunk = (rows + chunks - 1) / chunks;
    const dim3 grid(static_cast<unsigned>((cols + kWarpColumns - 1) / kWarpColumns), static_cast<unsigned>(chunks));
    const dim3 block(32, kRowLanes);
    column_sums_kernel<<<grid, block, 0, stream>>>(static_cast<const __nv_bfloat16*>(dy_bf16),
                                                   static_cast<const __nv_bfloat16*>(x_bf16), rstd, workspace, rows,
                                                   cols, rows_per_chunk);
    finish_kernel<<<static_cast<unsigned>((cols + 31) / 32), dim3(32, kFinishLanes), 0, stream>>>(workspace, chunks, cols, dw);
  }
  return last_launch_error();
}

}  // namespace zplan::rt::kernels
