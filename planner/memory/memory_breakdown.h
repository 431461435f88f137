// MemoryBreakdown: the one shape shared by prediction (planner/memory/) and measurement (runtime/).
// All values are bytes on the busiest rank unless a field says otherwise. Component fields describe
// the composition of memory at the moment of the peak; `phases` holds the allocated bytes the
// timeline reaches at each phase boundary the runtime can also observe.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace zplan {

// Phase boundaries in step order. The runtime reads the allocator at the same points.
enum class Phase { after_init, forward_end, backward_peak, optimizer_step, step_end, count };
const char* to_string(Phase p);

struct PhaseMemory {
  Phase phase = Phase::after_init;
  uint64_t allocated_bytes = 0;      // current allocated at the boundary
  uint64_t peak_allocated_bytes = 0; // highest allocated reached inside this phase
};

struct HostMemory {
  uint64_t baseline_bytes = 0;       // per process: interpreter/runtime, libraries, CUDA host side
  uint64_t model_load_bytes = 0;     // transient full-model copy while loading (per node)
  uint64_t optimizer_bytes = 0;      // offloaded fp32 master + Adam m, v + fp32 grads (per node)
  uint64_t params_bytes = 0;         // offloaded 16-bit params (per node)
  uint64_t checkpoints_bytes = 0;    // CPU-checkpointed activations, pinned (per node)
  uint64_t pinned_buffers_bytes = 0; // staging buffers for offload transfers (per node)
  uint64_t steady_bytes = 0;         // per node while training (everything but the load transient)
  uint64_t peak_bytes = 0;           // per node
  uint64_t capacity_bytes = 0;       // per node
};

struct MemoryBreakdown {
  // ---- model states resident on the GPU ----
  uint64_t weights_bytes = 0;          // parameters (16-bit or fp32; ZeRO-3: shard + persistent)
  uint64_t grads_bytes = 0;            // gradients (full, partition, or fp32 accumulation buffer)
  uint64_t master_weights_bytes = 0;   // fp32 master copy of the weights (bf16/fp16 recipes)
  uint64_t optimizer_states_bytes = 0; // Adam exp_avg + exp_avg_sq
  // ---- what a step adds ----
  uint64_t activations_bytes = 0;      // saved for backward (all layers, incl. checkpoints)
  uint64_t logits_bytes = 0;           // logits, fp32 upcast, loss and its gradient
  uint64_t working_bytes = 0;          // transient: layer being recomputed/differentiated, op scratch
  uint64_t comm_buffers_bytes = 0;     // reduce buckets, ZeRO-3 gathered params, all-to-all outputs
  uint64_t optimizer_temp_bytes = 0;   // transient buffers inside the optimizer step
  // ---- totals ----
  uint64_t peak_allocated_bytes = 0;   // max allocated over the step (torch max_memory_allocated)
  uint64_t reserved_bytes = 0;         // peak reserved by the caching allocator
  uint64_t fragmentation_bytes = 0;    // reserved - allocated at the peak
  uint64_t cuda_context_bytes = 0;     // CUDA context, cuBLAS/NCCL workspaces outside the allocator
  uint64_t capacity_bytes = 0;         // device memory
  std::vector<PhaseMemory> phases;     // in Phase order
  Phase peak_phase = Phase::backward_peak;
  HostMemory host;

  // reserved + context: what nvidia-smi would show, and what must stay under capacity.
  uint64_t device_total_bytes() const { return reserved_bytes + cuda_context_bytes; }
};

}  // namespace zplan
