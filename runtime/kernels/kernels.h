// kernels.h: zplan's own CUDA kernels (runtime/kernels/*.cu), for the two places where the eager
// ATen ops left the most GPU time on the table in a profiled training step (docs/performance.md):
// the mixed-precision AdamW step and the RMSNorm weight gradient, then SwiGLU and RoPE, which ran
// as five to twelve elementwise kernels each (forward and backward), and the cross-entropy loss,
// which made three fp32 copies of the [tokens, vocab] logits. Built only where libtorch has CUDA
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

// The dtype of an elementwise kernel's tensors (all of one call's tensors share it).
enum class Elem { fp32, bf16, fp16 };

// A [rows, cols] matrix whose elements within a row are contiguous; rows `row_stride` elements apart.
struct RowMajor {
  const void* data = nullptr;
  int64_t row_stride = 0;
};

// SwiGLU: out[r, c] = silu(gate[r, c]) * up[r, c], computed in fp32 and rounded once; `out` is
// contiguous [rows, cols]. PyTorch's eager form runs silu and mul as two kernels and keeps silu's
// output for the multiply's backward; this one keeps nothing but its inputs.
const char* swiglu_forward(RowMajor gate, RowMajor up, void* out, int64_t rows, int64_t cols, Elem type,
                           void* cuda_stream);
// Its backward from d out (`grad`): d gate = d out * up * silu'(gate), d up = d out * silu(gate),
// both written contiguous [rows, cols], in one pass (the eager form: two muls and silu_backward).
const char* swiglu_backward(RowMajor grad, RowMajor gate, RowMajor up, void* grad_gate, void* grad_up,
                            int64_t rows, int64_t cols, Elem type, void* cuda_stream);

// A [B, T, H, D] tensor's layout (D contiguous) for RoPE: strides in elements.
struct HeadsLayout {
  int64_t batch = 0, tokens = 0, heads = 0, dim = 0;
  int64_t stride_batch = 0, stride_token = 0, stride_head = 0;
};
// RoPE (transformers' apply_rotary_pos_emb for one of q, k): y = x * cos + rotate_half(x) * sin with
// rotate_half(x) = cat(-x[D/2:], x[:D/2]), cos and sin [B, T, D] (`table_stride_batch`,
// `table_stride_token`), fp32 inside, y contiguous [B, T, H, D]. inverse = true runs the backward,
// d x = d y * cos + rotate_half^T(d y * sin) with rotate_half^T(z) = cat(z[D/2:], -z[:D/2]).
const char* rope(const void* x, HeadsLayout x_layout, const void* cos, const void* sin, int64_t table_stride_batch,
                 int64_t table_stride_token, void* y, bool inverse, Elem type, void* cuda_stream);

// Cross-entropy over the rows of 16-bit or fp32 logits [rows, vocab] (rows `row_stride` apart,
// entries contiguous) with int64 targets (-100: ignored). Forward: lse[r] = logsumexp of row r and
// loss[r] = lse[r] - logits[r, target] (0 for an ignored row), fp32 [rows], one pass over the row.
// Backward: grad[r, v] = (exp(logits[r, v] - lse[r]) - [v == target]) * scale[r], written in the
// logits' dtype, contiguous [rows, vocab]; scale[r] (fp32) is d loss / d loss[r] (0 where ignored).
// PyTorch's path upcast the logits to fp32, kept the fp32 log-softmax for backward, and built two
// more fp32 [rows, vocab] tensors in backward before casting the gradient back.
const char* cross_entropy_forward(RowMajor logits, const int64_t* targets, float* lse, float* loss, int64_t rows,
                                  int64_t vocab, Elem type, void* cuda_stream);
const char* cross_entropy_backward(RowMajor logits, const int64_t* targets, const float* lse, const float* scale,
                                   void* grad, int64_t rows, int64_t vocab, Elem type, void* cuda_stream);

}  // namespace zplan::rt::kernels
