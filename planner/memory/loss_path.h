// loss_path.h: the loss path's tensors in the step timeline, one home for both paths.
//
// The plain path (Strategy::loss_chunks <= 1): lm_head writes [N, V] logits in the compute dtype,
// then either transformers' ForCausalLMLoss or zplan's cross-entropy kernels (CrossEntropyImpl):
//
// | moment | ForCausalLMLoss (hf, zplan composite) | zplan's kernels |
// |---|---|---|
// | forward | logits (c), their fp32 copy (transient), log_softmax's fp32 output (kept) | logits (kept by the node), an fp32 log-sum-exp and weight per token |
// | forward end | log_softmax (4·N·V); logits only where the loop keeps `outputs` | logits (c·N·V) |
// | loss backward | nll_loss's zero-filled fp32 gradient, log_softmax's fp32 gradient, then the cast to c | the logits' gradient (c·N·V), written once; the node then releases the logits |
//
// The chunked path (Strategy::loss_chunks > 1), zplan's runtime only
// (runtime/model/chunked_loss.h). Dims: N tokens of one micro-step on one rank, C hidden,
// V vocab, n = ceil(N / chunks) tokens of the largest chunk, c bytes of the compute dtype.
//
// | moment | alive (beyond the activations) | bytes |
// |---|---|---|
// | forward, the loss call | d h [N, C] and d W [V, C], held until backward | c·N·C + w·V·C (w: head weight dtype) |
// | one chunk | its logits [n, V] c, their fp32 copy (the gradient is built in place in it), at::logsumexp's fp32 exp(z - max) beside the copy, then the gradient cast to c | max(c + 4, 8)·n·V at most (8·n·V for fp32) |
// | forward end | d h and d W; lm_head's input is not kept (no logits in backward) | c·N·C + w·V·C |
// | backward | d h becomes the hidden states' gradient, d W the head's .grad (same storage) | — |
//
// Against the plain path (docs/runtime.md "Head and loss": up to 12·N·V at the start of
// backward), nothing scales with N·V beyond one chunk. The gradient of the head exists from the
// end of forward instead of from the start of backward. No recompute: each chunk's logits are
// computed once; the matmul FLOPs equal the plain path's (logits, d h, d W), in `chunks` GEMMs.
// Runtime-only: the Hugging Face profile's plain loop has no chunked loss (Liger-Kernel's fused
// linear cross-entropy is not modelled; docs/performance.md says why).
#pragma once
#include <cstdint>

#include "planner/memory/timeline.h"

namespace zplan {

struct PlainLossShape {
  uint64_t tokens = 0;        // N: tokens of one micro-step on this rank
  uint64_t vocab = 0;         // V
  int compute_bytes = 2;      // c: the logits' dtype
  bool fused_kernel = false;  // zplan's cross-entropy kernels (ExecContext::fused_cross_entropy)
};

// Handles of what the plain path keeps from forward to backward.
struct PlainLossHeld {
  int logits = -1;  // the [N, V] logits
  int saved = -1;   // log_softmax's fp32 output, or the kernel's per-token log-sum-exp
  bool logits_saved = false;  // the kernel's node keeps the logits until its backward
};

// Appends the plain path's forward events (logits, the upcast, what the loss keeps).
PlainLossHeld plain_loss_forward(Timeline& t, const PlainLossShape& s);

// Appends the loss's backward events and returns the logits' gradient (free it once lm_head's
// backward has read it). `logits_held`: the loop keeps the logits beyond backward (held `outputs`).
int plain_loss_backward(Timeline& t, const PlainLossShape& s, const PlainLossHeld& held, bool logits_held);

struct ChunkedLossShape {
  uint64_t tokens = 0;       // N: tokens of one micro-step on this rank
  uint64_t hidden = 0;       // C
  uint64_t vocab = 0;        // V
  int compute_bytes = 2;     // c: logits, d h, the gradient cast back
  int head_grad_bytes = 2;   // w: d W is accumulated in the head weight's dtype
  int64_t chunks = 1;
};

// Handles of the two gradients held from forward to backward.
struct ChunkedLossHeld {
  int grad_hidden = -1;  // d loss / d h [N, C]
  int grad_head = -1;    // d loss / d W [V, C]
};

// Tokens of the largest chunk: ceil(N / chunks).
uint64_t loss_chunk_tokens(uint64_t tokens, int64_t chunks);

// Appends the loss call's events (held gradients, one chunk's transient) to the timeline.
ChunkedLossHeld chunked_loss_forward(Timeline& t, const ChunkedLossShape& s);

// Tokens per chunk the plan search aims at. A chunk's GEMMs ([n, C] x [C, V]) read the whole
// [V, C] weight (and d W) once each, so they do about n FLOPs per byte read: at 2048 tokens that is
// above the compute/bandwidth ridge of the GPUs in hardware/gpus (about 150-600 FLOP/byte), while
// one chunk's transient stays 8·2048·V bytes (2.3 GiB for a 151,936-token vocabulary). Smaller
// chunks would save little memory and pay for re-reading the weight (the step-time model charges
// each chunk's GEMMs by the roofline, planner/cost/step_terms.cpp).
constexpr int64_t kOfferedLossChunkTokens = 2048;

// The chunk count the plan search offers besides the plain path: ceil(T / 2048) for T tokens of
// one sequence on a rank, at least 2; 0 when T < 2 (nothing to chunk).
int64_t offered_loss_chunks(int64_t tokens_per_sequence_per_rank);

}  // namespace zplan
