// The loss path's tensors (see loss_path.h for the tables and the mechanisms).
#include "planner/memory/loss_path.h"

#include <algorithm>

namespace zplan {

namespace {
constexpr int kFp32 = 4;
}

uint64_t loss_chunk_tokens(uint64_t tokens, int64_t chunks) {
  const uint64_t k = static_cast<uint64_t>(std::max<int64_t>(1, chunks));
  return (tokens + k - 1) / k;
}

PlainLossHeld plain_loss_forward(Timeline& t, const PlainLossShape& s) {
  const uint64_t tv = s.tokens * s.vocab;
  PlainLossHeld held;
  held.logits = t.alloc(Category::logits, "logits", "", tv * static_cast<uint64_t>(s.compute_bytes));
  if (s.fused_kernel) {
    // The node keeps the logits; the per-token log-sum-exp and target weight are fp32 [N] each.
    held.saved = t.alloc(Category::logits, "cross-entropy lse and weights", "", s.tokens * 2 * kFp32);
    held.logits_saved = true;
    return held;
  }
  // logits.float(), then log_softmax keeps its fp32 output for nll_loss and backward.
  const int upcast = s.compute_bytes == kFp32 ? -1 : t.alloc(Category::logits, "logits.float()", "", tv * kFp32);
  held.saved = t.alloc(Category::logits, "log_softmax", "", tv * kFp32);
  if (upcast >= 0) t.free(upcast);
  return held;
}

int plain_loss_backward(Timeline& t, const PlainLossShape& s, const PlainLossHeld& held, bool logits_held) {
  const uint64_t tv = s.tokens * s.vocab;
  if (s.fused_kernel) {
    const int grad = t.alloc(Category::logits, "logits grad", "", tv * static_cast<uint64_t>(s.compute_bytes));
    t.free(held.saved);
    if (!logits_held) t.free(held.logits);
    return grad;
  }
  // nll_loss_backward writes a zero-filled [N, V] fp32 gradient, log_softmax_backward a second
  // one; then the upcast's backward casts it to the logits' dtype.
  const int nll_grad = t.alloc(Category::logits, "nll_loss grad", "", tv * kFp32);
  const int lsm_grad = t.alloc(Category::logits, "log_softmax grad", "", tv * kFp32);
  t.free(nll_grad);
  t.free(held.saved);
  if (s.compute_bytes == kFp32) return lsm_grad;
  const int grad = t.alloc(Category::logits, "logits grad", "", tv * static_cast<uint64_t>(s.compute_bytes));
  t.free(lsm_grad);
  return grad;
}

ChunkedLossHeld chunked_loss_forward(Timeline& t, const ChunkedLossShape& s) {
  ChunkedLossHeld held;
  held.grad_hidden = t.alloc(Category::logits, "loss path: grad of hidden states (chunked)", "",
                             s.tokens * s.hidden * static_cast<uint64_t>(s.compute_bytes));
  held.grad_head = t.alloc(Category::logits, "loss path: grad of lm_head (chunked)", "",
                           s.vocab * s.hidden * static_cast<uint64_t>(s.head_grad_bytes));
  // One chunk (the largest; every chunk repeats the same events): at::mm's logits, their fp32
  // copy, at::logsumexp's `(self - maxes).exp_()` (ATen ReduceOps.cpp: an fp32 [n, V] beside its
  // input), the gradient built in place in the copy and cast back; the matmuls into d h and d W
  // write into the held tensors.
  const uint64_t nv = loss_chunk_tokens(s.tokens, s.chunks) * s.vocab;
  auto logsumexp_temp = [&] { t.free(t.alloc(Category::logits, "loss path: chunk logsumexp exp(z - max)", "", nv * kFp32)); };
  if (s.compute_bytes == kFp32) {
    const int z = t.alloc(Category::logits, "loss path: chunk logits (fp32)", "", nv * kFp32);
    logsumexp_temp();
    t.free(z);
    return held;
  }
  const int logits = t.alloc(Category::logits, "loss path: chunk logits", "", nv * static_cast<uint64_t>(s.compute_bytes));
  const int upcast = t.alloc(Category::logits, "loss path: chunk logits.float() / its gradient", "", nv * kFp32);
  t.free(logits);
  logsumexp_temp();
  const int cast = t.alloc(Category::logits, "loss path: chunk gradient cast", "", nv * static_cast<uint64_t>(s.compute_bytes));
  t.free(upcast);
  t.free(cast);
  return held;
}

int64_t offered_loss_chunks(int64_t tokens_per_sequence_per_rank) {
  if (tokens_per_sequence_per_rank < 2) return 0;
  const int64_t n = (tokens_per_sequence_per_rank + kOfferedLossChunkTokens - 1) / kOfferedLossChunkTokens;
  return std::max<int64_t>(2, n);
}

}  // namespace zplan
