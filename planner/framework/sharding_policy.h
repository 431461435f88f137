// Sharding policy: where each model state lives, derived once from (framework, ZeRO stage,
// offloads, data-parallel x sequence-parallel ranks). One row per state, Megatron
// DistributedOptimizer-style:
//
//   state                 | plain / HF, runtime | DDP        | DeepSpeed ZeRO-s               | FSDP2
//   ----------------------+---------------------+------------+--------------------------------+-----------------
//   fp32 master params    | whole, init         | not kept   | /N if s>=1; host w/ opt offload| not kept
//   working params        | whole               | whole      | /N if s=3; host w/ param offl. | /N (host w/ offl.)
//   gradient accumulator  | .grad, per step     | .grad      | partition /N if s>=1, per step | fp32 shards /N
//                         |                     |            | (s=3: whole run); host w/ opt offload
//   optimizer states      | first step (runtime:| first step | /N if s>=1; s=0 init, else     | /N, first step
//                         | init)               |            | first step; host w/ opt offload|
//
// N = DP x SP ranks: with Ulysses, DeepSpeed shards over the seq_data_parallel group, i.e. the
// whole world (DeepSpeed sequence/layer.py). ZeRO stages as "which model states are divided"
// follow llm-analysis DSZeRO and llm.c shard_at_stage; DeepSpeed 0.19's stage 1 keeps only the
// rank's gradient partition too (stage_1_and_2.py copy_grads_in_partition, contiguous_gradients),
// so stages 1 and 2 divide the gradients alike.
//
// The step timeline reads the framework's row (framework_policy.h). The step-time model, the
// host-RAM model and the search's lower bound read zero_state_homes(): they price every framework
// as DeepSpeed at the same stage (FSDP2 below stage 3 therefore differs from its timeline row; kept
// as it was when this file was introduced, see docs/architecture.md).
#pragma once
#include <cstdint>

#include "planner/config/training_spec.h"

namespace zplan {

// Elements of a tensor of `elements` held by one of `ranks` ranks (DeepSpeed pads the flat
// partition so that it divides evenly: ceil).
inline int64_t shard_elements(int64_t elements, int64_t ranks) { return (elements + ranks - 1) / ranks; }

enum class StateDevice { gpu, host };
// When a state comes into existence; it then lives until the end of the run unless its framework
// frees it (gradients at zero_grad / the optimizer step).
enum class CreatedAt { never, init, first_step, each_step };

struct StateHome {
  bool partitioned = false;               // split over `ranks` (one flat partition per rank)
  int64_t ranks = 1;                      // DP x SP ranks a partitioned state is split over
  StateDevice device = StateDevice::gpu;  // host: offloaded (host_memory.cpp counts it)
  CreatedAt created = CreatedAt::init;

  int64_t divisor() const { return partitioned ? ranks : 1; }
  int64_t elements_per_rank(int64_t elements) const { return shard_elements(elements, divisor()); }
  bool on_gpu() const { return device == StateDevice::gpu; }
};

struct ModelStateHomes {
  StateHome master_params;         // fp32 master copy the optimizer steps on
  StateHome working_params;        // 16-bit (or fp32) parameters forward and backward read
  StateHome gradient_accumulator;  // the gradient kept across micro-steps until the step
  StateHome optimizer_states;      // Adam exp_avg + exp_avg_sq

  // Collectives of one step (priced by planner/cost/step_terms.cpp).
  bool gradients_reduce_scattered = false;      // else all-reduced (ring: twice the bytes)
  bool params_gathered_after_step = false;      // updated partitions all-gathered once per step
  bool params_gathered_per_micro_step = false;  // gathered for forward and again for backward
};

// DeepSpeed's ZeRO rules: stage 1 partitions the optimizer states and the fp32 master (and, in
// DeepSpeed 0.19, the kept gradients), stage 2 the gradients, stage 3 the parameters; optimizer
// offload moves the master, the Adam states and the gradient partition to the host, parameter
// offload the parameters. `shard_ranks` is DP x SP.
ModelStateHomes zero_state_homes(int zero_stage, bool offload_optimizer, bool offload_params, int64_t shard_ranks);

}  // namespace zplan
