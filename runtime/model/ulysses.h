// ulysses.h: Ulysses sequence parallelism (DeepSpeed-Ulysses, Jacobs et al. 2023). Each of the P
// ranks of the group holds T/P tokens of every sequence; around attention an all-to-all trades
// that for all T tokens of NH/P heads, and a second one trades back. The all-to-all comes from the
// trainer (the communicator's), so the model code needs no process group. Both exchanges are
// autograd functions whose backward is the opposite exchange.
#pragma once

#include <cstdint>
#include <functional>

#include "runtime/torch_compat.h"

namespace zplan::rt {

struct SequenceParallel {
  int64_t degree = 1;  // P; 1 = off
  int64_t rank = 0;    // this rank's place in the group: it holds tokens [rank*T/P, (rank+1)*T/P)
  // in [P*n] -> out [P*n]: block j of in goes to rank j, block i of out came from rank i.
  std::function<void(const at::Tensor&, at::Tensor&)> all_to_all;
};

// [B, H, T/P, HD] (all heads, local tokens) -> [B, H/P, T, HD] (local heads, all tokens).
at::Tensor ulysses_seq_to_heads(const at::Tensor& x, const SequenceParallel& sp);
// [B, H/P, T, HD] -> [B, H, T/P, HD].
at::Tensor ulysses_heads_to_seq(const at::Tensor& x, const SequenceParallel& sp);

}  // namespace zplan::rt
