// ZeRO stages as "which model states are divided by the data-parallel degree" (llm-analysis DSZeRO,
// llm.c shard_at_stage). Stage 1 shards optimizer states (and the fp32 master), stage 2 also the
// gradients, stage 3 also the parameters. DeepSpeed 0.19 keeps only the rank's gradient partition
// at stage 1 too (zero.cpp), so here stages 1 and 2 divide the gradients alike. With Ulysses, DeepSpeed shards over DP x SP ranks, i.e.
// the whole world (DeepSpeed sequence/layer.py; seq_data_parallel group).
#pragma once
#include <cstdint>

namespace zplan {

struct ZeroDivisors {
  int64_t weights = 1;    // divisor for 16-bit (or fp32) parameters
  int64_t grads = 1;      // divisor for gradients
  int64_t optimizer = 1;  // divisor for master weights and Adam states
};

ZeroDivisors zero_divisors(int zero_stage, int64_t shard_ranks);

// Elements of a tensor of `elements` held by one of `ranks` ranks (DeepSpeed pads the flat
// partition so that it divides evenly: ceil).
inline int64_t shard_elements(int64_t elements, int64_t ranks) { return (elements + ranks - 1) / ranks; }

}  // namespace zplan
