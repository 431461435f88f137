// ZeRO divisors (see zero.h).
#include "planner/memory/zero.h"

namespace zplan {

ZeroDivisors zero_divisors(int zero_stage, int64_t shard_ranks) {
  ZeroDivisors d;
  if (zero_stage >= 1) d.optimizer = shard_ranks;
  if (zero_stage >= 2) d.grads = shard_ranks;
  if (zero_stage >= 3) d.weights = shard_ranks;
  return d;
}

}  // namespace zplan
