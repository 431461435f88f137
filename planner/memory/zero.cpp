// ZeRO divisors (see zero.h).
#include "planner/memory/zero.h"

namespace zplan {

ZeroDivisors zero_divisors(int zero_stage, int64_t shard_ranks) {
  ZeroDivisors d;
  if (zero_stage >= 1) d.optimizer = shard_ranks;
  // The gradients a rank keeps through the step: DeepSpeed 0.19's stage 1 with
  // contiguous_gradients (its default) copies only its own partition out of the reduce bucket,
  // exactly like stage 2 (stage_1_and_2.py copy_grads_in_partition); full .grad tensors are
  // transient in both.
  if (zero_stage >= 1) d.grads = shard_ranks;
  if (zero_stage >= 3) d.weights = shard_ranks;
  return d;
}

}  // namespace zplan
