// chunked_loss.h: the loss path of a micro-step, lm_head + cross-entropy, in one of two ways:
//   plain    logits = lm_head(h) [B, T, V] in the compute dtype, then Hugging Face's ForCausalLMLoss
//            (an fp32 copy and the fp32 log-softmax of all N tokens; docs/runtime.md "Head and loss")
//   chunked  the N = B·T tokens in `chunks` slices of ceil(N/chunks) rows; each slice computes its
//            logits, its share of the mean loss and, right there in forward, its gradients with
//            respect to the hidden states and the lm_head weight. The slice's logits are freed
//            before the next one, so no [N, V] tensor ever exists: the transient is one slice's
//            logits ([N/chunks, V] compute dtype, then fp32) plus their fp32 gradient (in place).
//            What stays from forward to backward: d loss/d h [N, C] and d loss/d W [V, C] (compute
//            dtype); backward only scales them by the incoming gradient (loss scale, 1/accum).
// Same mechanism as Liger-Kernel's fused linear cross-entropy (gradients computed chunk by chunk
// during forward); written from the softmax-gradient identity, not from its code:
//   d mean_loss / d z_i = (softmax(z_i) - onehot(y_i)) / n_valid   for rows whose target is not -100.
// No lm_head recompute: each slice's logits are computed once (the cost is the same three matmuls
// as the plain path: logits, d h, d W), but in `chunks` smaller GEMMs.
// Dims: N tokens of the micro-step (B·T, this rank's T with Ulysses), C hidden, V vocab.
#pragma once

#include <cstdint>

#include "runtime/model/transformer.h"

namespace zplan::rt {

// hidden [B, T, C] (final norm output, compute dtype); head_w [V, C]; targets [B, T] int64 with
// -100 ignored. chunks >= 1. Returns the mean loss over the targets (fp32 scalar), equal to
// causal_lm_loss(at::linear(hidden, head_w), targets), with gradients for hidden and head_w when
// grad mode is on (otherwise only the loss, still chunk by chunk).
at::Tensor chunked_linear_cross_entropy(const at::Tensor& hidden, const at::Tensor& head_w,
                                        const at::Tensor& targets, int64_t chunks);

// The loss of one micro-batch through the model's head: plain when chunks <= 1 (then *logits, if
// given, keeps the logits for the caller to drop, as HF's Trainer holds the model output until the
// loss is read), else chunked. *loss_path_bytes (if given): the bytes of the loss path alive at the
// end of forward (plain: logits + fp32 log-probs; chunked: d h and d W held for backward).
at::Tensor lm_loss(TransformerModel& model, const at::Tensor& ids, const at::Tensor& targets,
                   int64_t chunks, at::Tensor* logits = nullptr, uint64_t* loss_path_bytes = nullptr);

}  // namespace zplan::rt
