// kernels.h: zplan's own CUDA kernels (runtime/kernels/*.cu), for the two places where the eager
// ATen ops left the most GPU time on the table in a profiled training step (docs/performance.md):
// the mixed-precision AdamW step and the RMSNorm weight gradient. Built only where libtorch has CUDA
// and CMake finds a CUDA compiler (runtime/CMakeLists.txt defines ZPLAN_HAVE_RUNTIME_KERNELS); the
// callers keep the ATen path for every other build, device and dtype. Plain C++ on purpose: no
// torch or CUDA header, so the .cu files build with nvcc alone and the callers with g++ alone.
#pragma once
#include <cstdint>

#ifndef ZPLAN_HAVE_RUNTIME_KERNELS
#define ZPLAN_HAVE_RUNTIME_KERNELS 0
#endif

namespace zplan::rt::kernels {

enum class Half16 { bf16, fp16 };  // the 16-bit type of weights and gradients

// One AdamW step's scalars, as torch's fused AdamW (ADAMW mode) uses them.
struct AdamWScalars {
  float lr_times_weight_decay = 0;  // decoupled decay: w -= lr * wd * w
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float step_size = 0;              // lr / (1 - beta1^t)
  float bias_correction2_sqrt = 1;  // sqrt(1 - beta2^t)
  float grad_scale = 1;             // multiplies each gradient first (1 / loss scale under fp16)
};

// AdamW on fp32 master weights from 16-bit gradients, writing the master, both moments and the
// 16-bit weights in one pass: 28 bytes per parameter (read gradient 2, master 4, moments 8; write
// 12 + 2) instead of upcasting each gradient to fp32 (2 + 4), running the fp32 AdamW (16 + 12)
// and copying the master back (4 + 2). All arrays hold `n` elements, contiguous. Returns nullptr,
// or CUDA's error text.
const char* mixed_adamw_step(float* master, const void* grad16, float* exp_avg, float* exp_avg_sq,
                             void* weight16, int64_t n, Half16 type, const AdamWScalars& s, void* cuda_stream);

// RMSNorm weight gradient: dw[c] = sum over rows r of dy[r, c] * x[r, c] * rstd[r], bf16 dy and x
// [rows, cols] (contiguous, cols a multiple of 4, 8-byte aligned), fp32 rstd [rows]; written in
// bf16 to dw[cols]. `workspace` holds rms_norm_weight_grad_workspace(rows, cols) floats of partial
// sums (one row of column sums per chunk of rows, then reduced). PyTorch's GammaBetaBackward
// kernel took 79 us per norm of a 4K-token step, most of it on the q/k norms' 128-wide rows.
int64_t rms_norm_weight_grad_workspace(int64_t rows, int64_t cols);
const char* rms_norm_weight_grad(const void* dy_bf16, const void* x_bf16, const float* rstd, float* workspace,
                                 void* dw_bf16, int64_t rows, int64_t cols, void* cuda_stream);

}  // namespace zplan::rt::kernels
