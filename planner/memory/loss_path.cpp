// The chunked loss path's tensors (see loss_path.h for the table and the mechanism).
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
