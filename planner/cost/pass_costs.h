// The bookkeeping of one forward pass of a layer (or of the head) in the step-time terms
// (step_terms.cpp): what it costs at datasheet rates, and the primitives that price one op into it
// (a GEMM at its roofline, an op whose backward is not twice its forward, dropout, a bias
// gradient). Internal to planner/cost.
#pragma once
#include "planner/cost/step_terms.h"

namespace zplan {

// One forward pass of one layer (or of the head), per micro-step on one rank.
struct Pass {
  double matmul_seconds = 0, attention_seconds = 0, memory_bytes = 0, kernels = 0;
  double matmul_flops = 0, attention_flops = 0;
  double host_syncs = 0;
  double backward_only_bytes = 0;  // traffic of backward alone (not a multiple of the forward's)
  double backward_only_kernels = 0;  // launches of backward alone (likewise)
};

struct Rates {
  double peak = 1, hbm = 1;  // FLOP/s and bytes/s at 100%
  double act_bytes = 2;      // activation element size
  double fp32_peak = 1;      // FLOP/s of fp32 operands (autocast leaves some GEMMs in fp32)
  double misaligned_gemm_rate = 1;  // share of `peak` a 16-bit GEMM with a misaligned leading
                                    // dimension reaches (StepMechanisms::misaligned_gemm_rate)
};

// An op whose backward is not training_passes_per_forward - 1 times its forward (a dropout, a
// bias gradient): Pass::memory_bytes and kernels hold the forward (a recompute runs it alone); the
// backward's own bytes and launches replace the multiple a training pass would otherwise give it.
void add_op(Pass& p, const StepMechanisms& k, double forward_bytes, double backward_bytes, double forward_kernels,
            double backward_kernels);

// Dropout on `elements` activations while training (GPT-2's resid_pdrop and embd_pdrop): forward,
// native_dropout reads the activation and writes it and a 1-byte mask; backward,
// native_dropout_backward reads the gradient and the mask and writes the gradient. One kernel each.
void add_dropout(Pass& p, const StepMechanisms& k, double elements, double element_bytes);

// The gradient of a projection's bias: its forward add rides in the GEMM's epilogue (addmm through
// cuBLASLt), its backward sums the output gradient over the tokens (one reduction reading
// tokens x outputs; the [outputs] result is negligible).
void add_bias_gradient(Pass& p, const StepMechanisms& k, double tokens, double outputs, double element_bytes);

// A GEMM [m x k] x [k x n], `count` times: the roofline time of its shape — small shapes (few
// tokens per expert, thin projections) are bound by reading the weight, large ones by FLOPs. Its
// three training products (y = x W^T, x's and W's gradients) take k and n as leading dimensions,
// never m: with 16-bit operands, k or n not a multiple of 8 elements sends all three to cuBLAS's
// align-1 fallback kernels (Rates::misaligned_gemm_rate).
void gemm(Pass& p, const Rates& r, double m, double k, double n, double count = 1);

// `into` += `times` x `p` (every field).
void add(Pass& into, const Pass& p, double times);

}  // namespace zplan
