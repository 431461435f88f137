// DeepSpeed's host-side step mechanisms (see deepspeed_step.h).
#include "planner/cost/deepspeed_step.h"

#include <algorithm>

#include "planner/cost/step_terms.h"
#include "planner/framework/sharding_policy.h"
#include "planner/memory/params.h"
#include "planner/memory/precision_recipe.h"

namespace zplan {
namespace {

constexpr double kFp32Bytes = 4.0;

bool loss_scaled(Precision p) { return p == Precision::fp16 || p == Precision::amp_fp16; }

}  // namespace

double hf_layer_modules(const ModelSpec& m, int64_t layer) {
  // Attention: the module, its projections (q, k, v separate or one fused), the output
  // projection, q/k norms; GPT-2 also keeps two dropout modules in it.
  double n = 1.0 + (m.qkv_projection == QkvProjection::separate ? 3.0 : 1.0) + 1.0 + (m.qk_norm ? 2.0 : 0.0);
  if (m.qkv_projection == QkvProjection::c_attn) n += 2.0;
  n += 1.0 + 2.0 + (m.sandwich_norm ? 2.0 : 0.0);  // the decoder layer and its norms
  auto mlp = [&]() {  // the MLP module, its linears and the activation module (GPT-2: + dropout)
    const bool gated = m.mlp != MlpKind::gelu_mlp;
    return 1.0 + (gated ? (m.fused_gate_up_proj ? 2.0 : 3.0) : 2.0) + 1.0 + (m.qkv_projection == QkvProjection::c_attn ? 1.0 : 0.0);
  };
  if (m.is_moe() && m.layer_is_sparse(layer)) {
    // transformers 5: the sparse block, its router and one experts module holding the stacked
    // expert weights (with its activation), plus the shared-expert MLP when there is one.
    n += 4.0 + (m.moe.shared_experts > 0 ? mlp() : 0.0);
  } else {
    n += mlp();
  }
  return n;
}

double hf_top_modules(const ModelSpec& m) {
  // CausalLM wrapper, base model, token embedding, final norm, lm_head, and the rotary embedding
  // module or (learned positions) the position table and the embedding dropout.
  return 5.0 + (m.position == PositionKind::rope ? 1.0 : 2.0);
}

bool runs_deepspeed_zero3_hooks(const TrainingSpec& training, const Strategy& s) {
  return s.zero_stage >= 3 && training.framework == Framework::deepspeed && training.profile == Profile::hf;
}

double zero3_hooked_module_passes(const ModelSpec& m, const Strategy& s) {
  double all = hf_top_modules(m), recomputed = 0;
  for (int64_t i = 0; i < m.layers; ++i) {
    const double n = hf_layer_modules(m, i);
    all += n;
    if (i < s.checkpointed_layers) recomputed += n;
  }
  return (2.0 * all + recomputed) * static_cast<double>(std::max<int64_t>(1, s.grad_accumulation));
}

bool runs_deepspeed_gradient_hooks(const TrainingSpec& training, const Strategy& s) {
  if (training.framework != Framework::deepspeed || training.profile != Profile::hf) return false;
  return s.zero_stage == 2 || (s.zero_stage == 1 && training.overlap_comm == 1);
}

double deepspeed_gradient_hook_bytes(const ModelSpec& m, const Strategy& s) {
  const double psi = static_cast<double>(model_tables(m).counts.total);
  return 6.0 * psi * precision_recipe(s.precision).grad_bytes * static_cast<double>(std::max<int64_t>(1, s.grad_accumulation));
}

int deepspeed_first_steady_step(const TrainingSpec& training, const Strategy& s) {
  return runs_deepspeed_zero3_hooks(training, s) ? 3 : 2;
}

double host_memory_bytes_per_second_per_rank(const ClusterSpec& cluster) {
  const double per_gpu_gb = cluster.host_memory_bw_gb_per_s > 0
                                ? cluster.host_memory_bw_gb_per_s / std::max(1, cluster.gpus_per_node)
                                : kAssumedHostMemoryBwPerGpuGbPerS;
  return per_gpu_gb * 1e9;
}

double cpu_adam_seconds(double shard_params, const ClusterSpec& cluster, Precision precision, const StepMechanisms& k) {
  const PrecisionRecipe rc = precision_recipe(precision);
  double bytes = k.cpu_adam_bytes_per_param;
  // The stepped fp32 partition is cast to the 16-bit working dtype on the host (stage_1_and_2.py:
  // bit16_partition_buffer.copy_(fp32_partition); stage3.py: fp16_partitioned_groups_flat.copy_)
  // before it goes up: read fp32, write 16 bits.
  if (rc.param_bytes < kFp32Bytes) bytes += kFp32Bytes + rc.param_bytes;
  // fp16 runs with a dynamic loss scale: unscale_and_clip_grads multiplies the fp32 gradient
  // partition in place on the host (read and write) whenever the combined scale is not 1.
  if (loss_scaled(precision)) bytes += 2.0 * kFp32Bytes;
  const double bandwidth_seconds = shard_params * bytes / host_memory_bytes_per_second_per_rank(cluster);
  const int cores = std::max(1, cluster.cpu_cores / std::max(1, cluster.gpus_per_node));
  const double arithmetic_seconds = shard_params / (k.cpu_adam_params_per_second_per_core * cores);
  return std::max(bandwidth_seconds, arithmetic_seconds);
}

double offloaded_step_seconds(const ModelSpec& m, const ClusterSpec& cluster, const TrainingSpec& training,
                              const Strategy& s, const StepMechanisms& k) {
  const PrecisionRecipe rc = precision_recipe(s.precision);
  const double world = std::max(1, cluster.world_size());
  const ModelStateHomes homes = zero_state_homes(s.zero_stage, s.offload_optimizer, s.offload_params,
                                                 std::max(1, cluster.world_size()));
  const double psi = static_cast<double>(model_tables(m).counts.total);
  const double pcie = std::max(1.0, cluster.gpu.pcie_bw_gb_per_s) * 1e9;
  const double ga = static_cast<double>(std::max<int64_t>(1, s.grad_accumulation));
  double seconds = 0;
  if (!homes.optimizer_states.on_gpu()) {
    const double shard = homes.optimizer_states.partitioned ? psi / world : psi;
    seconds += cpu_adam_seconds(shard, cluster, s.precision, k);
    // Gradients go down as fp32 (cast on the GPU first). Stages 1/2 copy on the compute stream;
    // stage 3 on its reduce-and-partition stream, beside backward when overlap_comm is on.
    const bool stage3_overlap = s.zero_stage >= 3 && training.overlap_comm != 0;
    seconds += shard * kFp32Bytes / pcie * (stage3_overlap ? 1.0 - k.comm_overlap : 1.0);
    // The 16-bit partition goes up after the step, before the next forward, unless the
    // parameters themselves live on the host (then the cast partition stays there).
    if (homes.working_params.on_gpu()) seconds += shard * rc.param_bytes / pcie;
  }
  if (!homes.working_params.on_gpu()) {
    // ZeRO-3 parameter offload: each rank's partition goes up at every fetch (then is
    // all-gathered): forward, backward and the recompute of checkpointed layers.
    const double recomputed = static_cast<double>(s.checkpointed_layers) / std::max<double>(1.0, static_cast<double>(m.layers));
    seconds += (2.0 + recomputed) * psi * rc.param_bytes * ga / world / pcie;
  }
  return seconds;
}

}  // namespace zplan
