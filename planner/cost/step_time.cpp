// Step-time model (see step_time.h).
#include "planner/cost/step_time.h"

#include <algorithm>

#include "planner/memory/activations.h"
#include "planner/memory/params.h"
#include "planner/memory/precision_recipe.h"

namespace zplan {
namespace {

double peak_flops(const GpuSpec& g, Precision p) {
  switch (p) {
    case Precision::bf16:
    case Precision::bf16_pure:
    case Precision::amp_bf16: return g.bf16_tflops * 1e12;
    case Precision::fp16:
    case Precision::amp_fp16: return g.fp16_tflops * 1e12;
    case Precision::fp32: return g.fp32_tflops * 1e12;
  }
  return g.fp32_tflops * 1e12;
}

}  // namespace

StepTime estimate_step_time(const ModelSpec& m, const ClusterSpec& cluster,
                            const TrainingSpec& training, const Strategy& s,
                            const CostOptions& o) {
  StepTime t;
  const ParamCounts& pc = model_tables(m).counts;
  const PrecisionRecipe r = precision_recipe(s.precision);
  const double world = std::max(1, cluster.world_size());
  const double sp = std::max(1, s.sp_degree);
  const double seq = static_cast<double>(training.seq_len);
  // Matmul FLOPs per token (forward): 2 x active non-embedding parameters, plus the lm_head
  // (2CV, also when tied), plus causal attention QK^T and PV: 2 x 2 x (T/2) x NH*HD per layer.
  const double active_blocks = static_cast<double>(pc.active_per_token - pc.embedding - pc.lm_head);
  const double head = 2.0 * static_cast<double>(m.hidden) * static_cast<double>(m.vocab);
  const double attn_per_layer = 2.0 * seq * static_cast<double>(m.q_dim());
  const double fwd = 2.0 * active_blocks + head + attn_per_layer * static_cast<double>(m.layers);
  t.model_flops_per_token = 3.0 * fwd;
  const double recompute_fraction = static_cast<double>(s.checkpointed_layers) / static_cast<double>(std::max<int64_t>(1, m.layers));
  const double per_layer_fwd = (fwd - head) / static_cast<double>(std::max<int64_t>(1, m.layers));
  // Tokens one rank computes per optimizer step: B x T / SP per micro-step x grad accumulation.
  const double tokens_rank = static_cast<double>(s.micro_batch) * seq / sp * static_cast<double>(s.grad_accumulation);
  const double rate = peak_flops(cluster.gpu, s.precision) * o.compute_efficiency;
  t.compute_seconds = tokens_rank * t.model_flops_per_token / rate;
  t.recompute_seconds = tokens_rank * per_layer_fwd * static_cast<double>(m.layers) * recompute_fraction / rate;
  t.compute_seconds += t.recompute_seconds;
  // Collectives: ring all-reduce moves 2(N-1)/N of the data per rank, reduce-scatter and
  // all-gather (N-1)/N each.
  const double psi = static_cast<double>(pc.total);
  const bool multi_node = cluster.nodes > 1;
  const double link_gb = multi_node ? cluster.inter_node_bw_gb_per_s / std::max(1, cluster.gpus_per_node)
                                    : cluster.gpu.intra_node_bw_gb_per_s;
  const double bw = std::max(1.0, link_gb) * 1e9 * o.link_efficiency;
  const double frac = world > 1 ? (world - 1) / world : 0.0;
  double comm_bytes = 0;
  if (world > 1) {
    const double grad_bytes = psi * r.grad_bytes;
    comm_bytes += (s.zero_stage >= 2 ? 1.0 : 2.0) * frac * grad_bytes;   // reduce-scatter or all-reduce
    if (s.zero_stage >= 1 && s.zero_stage <= 2) comm_bytes += frac * psi * r.param_bytes;  // param all-gather
    if (s.zero_stage >= 3) comm_bytes += 2.0 * frac * psi * r.param_bytes * s.grad_accumulation;  // fwd + bwd gathers
  }
  double exposed = comm_bytes / bw * (1.0 - o.comm_overlap);
  if (sp > 1) {
    // Ulysses: q, k, v and the output cross an all-to-all in forward and backward, per layer.
    const double per_token = static_cast<double>(2 * m.q_dim() + 2 * m.kv_dim()) * r.compute_bytes;
    const double a2a = 2.0 * per_token * tokens_rank * static_cast<double>(m.layers) * (sp - 1) / sp;
    exposed += a2a / bw;  // all-to-alls sit on the critical path of attention
  }
  t.comm_seconds = exposed;
  // Offload: gradients down and parameters up over PCIe, CPU Adam on the rank's shard.
  const double pcie = std::max(1.0, cluster.gpu.pcie_bw_gb_per_s) * 1e9 * 0.8;
  const double shard = psi / world;
  if (s.offload_optimizer) {
    const int cores_per_rank = std::max(1, cluster.cpu_cores / std::max(1, cluster.gpus_per_node));
    const double cpu_adam = shard / (o.cpu_adam_params_per_second_per_core * cores_per_rank);
    const double transfers = shard * (r.grad_bytes + r.param_bytes) / pcie;
    t.offload_seconds += cpu_adam + transfers;
  }
  if (s.offload_params) t.offload_seconds += 2.0 * psi * r.param_bytes * s.grad_accumulation / world / pcie;
  if (s.cpu_checkpointing) {
    const ExecContext c = make_exec_context(training, s, cluster.world_size());
    const double ckpt = static_cast<double>(sum_bytes(checkpointed_block_saved(m, c), c.tokens_per_rank(), c.micro_batch)) *
                        static_cast<double>(s.checkpointed_layers) * static_cast<double>(s.grad_accumulation);
    // Copies out and back overlap with compute except for about half (DeepSpeed copies synchronously
    // per checkpoint).
    t.offload_seconds += 2.0 * ckpt / pcie * 0.5;
  }
  // GPU Adam: reads and writes ~16-20 bytes per parameter of the local optimizer shard.
  if (!s.offload_optimizer) {
    const double opt_params = s.zero_stage >= 1 ? shard : psi;
    t.optimizer_seconds = opt_params * 20.0 / (cluster.gpu.memory_bw_gb_per_s * 1e9 * 0.7);
  }
  t.step_seconds = t.compute_seconds + t.comm_seconds + t.offload_seconds + t.optimizer_seconds;
  const double tokens_cluster = static_cast<double>(s.micro_batch) * seq * static_cast<double>(s.grad_accumulation) * world / sp;
  t.tokens_per_second = t.step_seconds > 0 ? tokens_cluster / t.step_seconds : 0;
  return t;
}

}  // namespace zplan
