// fused_cross_entropy.h: the mean cross-entropy of [.., vocab] logits through zplan's CUDA kernels
// (runtime/kernels/cross_entropy.cu) as one autograd node. It keeps the logits it was given and an
// fp32 log-sum-exp per row, and its backward writes the logits' gradient once in their dtype;
// transformers' ForCausalLMLoss (logits.float(), log_softmax, nll_loss: causal_lm_loss in
// transformer.h) keeps an fp32 [tokens, vocab] log-softmax and makes two more fp32 [tokens, vocab]
// tensors in backward. The planner's CrossEntropyImpl follows the same choice (training_spec.h).
#pragma once

#include "runtime/torch_compat.h"

namespace zplan::rt {

// The mean over targets != -100 of -log softmax(logits)[target] (targets: int64, logits' shape
// without the last dimension); undefined where the kernel does not take these tensors (the caller
// then runs PyTorch's path).
at::Tensor fused_cross_entropy_or_undefined(const at::Tensor& logits, const at::Tensor& targets);

}  // namespace zplan::rt
