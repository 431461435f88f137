// Host RAM model (see host_memory.h).
#include "planner/memory/host_memory.h"

#include <algorithm>

#include "planner/framework/sharding_policy.h"
#include "planner/memory/activations.h"
#include "planner/memory/deepspeed_host_buffers.h"
#include "planner/memory/params.h"
#include "planner/memory/precision_recipe.h"

namespace zplan {
namespace {
constexpr uint64_t kGiB = 1024ull * 1024ull * 1024ull;
}  // namespace

HostMemory estimate_host_memory(const ModelSpec& m, const ClusterSpec& cluster,
                                const TrainingSpec& training, const Strategy& s,
                                const ExecContext& c) {
  HostMemory h;
  const uint64_t procs = static_cast<uint64_t>(std::max(1, cluster.gpus_per_node));
  const uint64_t ranks = static_cast<uint64_t>(std::max(1, cluster.world_size()));
  const uint64_t params = static_cast<uint64_t>(model_tables(m).counts.total);
  const PrecisionRecipe r = precision_recipe(s.precision);
  // A training Python process (torch + transformers + DeepSpeed, a CUDA context, the kernels its
  // first steps loaded, NCCL) holds 2.05-2.28 GiB resident at the end of a step when nothing is
  // offloaded: 14 runs in tests/regression/measured/hf_deepspeed*/ (0.65 GiB before the model was
  // built). zplan's C++ runtime: about 1.5 GiB (not measured).
  const uint64_t per_process = training.profile == Profile::hf ? kGiB * 21 / 10 : kGiB + kGiB / 2;
  h.baseline_bytes = per_process * procs;
  // Where each model state lives: the ZeRO rows of planner/framework/sharding_policy.h.
  const ModelStateHomes homes = zero_state_homes(s.zero_stage, s.offload_optimizer, s.offload_params, static_cast<int64_t>(ranks));
  // Loading: without zero.Init every process materialises the whole model in its load dtype before
  // moving it to the GPU (DeepSpeed #5290); with partitioned parameters (ZeRO-3) each rank holds
  // its shard only.
  const uint64_t load_per_process = homes.working_params.partitioned ? params * r.param_bytes / ranks : params * r.param_bytes;
  h.model_load_bytes = load_per_process * procs;
  if (training.framework == Framework::deepspeed) {
    // DeepSpeed's own list of host buffers, pinned ones rounded by the pinned allocator.
    OffloadShape shape;
    shape.zero_stage = s.zero_stage;
    shape.offload_optimizer = s.offload_optimizer;
    shape.offload_params = s.offload_params;
    shape.data_parallel = static_cast<int64_t>(ranks);  // ZeRO shards over DP x SP (seq_data_parallel_group)
    shape.param_bytes = r.param_bytes;
    shape.sub_group_size = training.sub_group_size;
    shape.param_persistence_threshold = training.param_persistence_threshold;
    for (const HostBuffer& b : deepspeed_offload_host_buffers(model_tables(m), shape)) {
      uint64_t* term = b.kind == HostBufferKind::optimizer ? &h.optimizer_bytes
                       : b.kind == HostBufferKind::params  ? &h.params_bytes
                                                           : &h.pinned_buffers_bytes;
      *term += resident_bytes(b) * procs;
    }
  } else {
    // Other frameworks' offload (unmeasured): fp32 master + exp_avg + exp_avg_sq + an fp32
    // gradient shard per rank, 16-bit parameter shards, one reduce bucket of pinned staging.
    const uint64_t shard = static_cast<uint64_t>(shard_elements(static_cast<int64_t>(params), static_cast<int64_t>(ranks)));
    const bool optimizer_on_host = !homes.optimizer_states.on_gpu(), params_on_host = !homes.working_params.on_gpu();
    if (optimizer_on_host) h.optimizer_bytes = shard * (4 + 8 + 4) * procs;
    if (params_on_host) h.params_bytes = shard * r.param_bytes * procs;
    if (optimizer_on_host || params_on_host)
      h.pinned_buffers_bytes = static_cast<uint64_t>(std::min<int64_t>(training.reduce_bucket_elems,
                                                                        static_cast<int64_t>(params))) * 2 * procs;
  }
  if (s.cpu_checkpointing) {
    const auto rows = checkpointed_block_saved(m, c);
    const uint64_t per_layer = sum_bytes(rows, c.tokens_per_rank(), c.micro_batch);
    h.checkpoints_bytes = per_layer * static_cast<uint64_t>(s.checkpointed_layers) * procs;
  }
  const uint64_t steady = h.baseline_bytes + h.optimizer_bytes + h.params_bytes + h.checkpoints_bytes +
                          h.pinned_buffers_bytes;
  h.steady_bytes = steady;
  h.peak_bytes = std::max(steady, h.baseline_bytes + h.model_load_bytes);
  h.capacity_bytes = cluster.host_ram_bytes;
  return h;
}

}  // namespace zplan
