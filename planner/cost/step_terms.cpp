// Step-time terms (see step_terms.h). Per-layer counts below are of the operations a transformer
// block runs in eager PyTorch (Hugging Face modelling code and zplan's runtime alike); their scale
// is absorbed by the fitted constants, what matters is how they vary with shape and strategy.
#include "planner/cost/step_terms.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

#include "planner/cost/deepspeed_step.h"
#include "planner/cost/expert_costs.h"
#include "planner/cost/pass_costs.h"
#include "planner/cost/score_ops.h"
#include "planner/framework/sharding_policy.h"
#include "planner/memory/activations.h"
#include "planner/memory/exec_context.h"
#include "planner/memory/params.h"
#include "planner/memory/precision_recipe.h"
#include "planner/memory/sdpa_kernel.h"

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

// A norm that runs as one kernel (LayerNorm; RMSNorm through at::_fused_rms_norm in zplan's runtime)
// reads its input and writes its output; HF's RMSNorm upcasts to fp32 and runs pow, mean, rsqrt and
// two multiplies: ~7 kernels and ~8 fp32 passes.
bool one_kernel_norm(const ModelSpec& m, const ExecContext& c) {
  return m.norm == NormKind::layer_norm || runs_fused_rms_norm(m, c);
}
double norm_kernels(const ModelSpec& m, const ExecContext& c) { return one_kernel_norm(m, c) ? 1.0 : 7.0; }
double norm_bytes_per_element(const ModelSpec& m, const ExecContext& c, double a) {
  return one_kernel_norm(m, c) ? 3 * a : 32.0 + 2 * a;
}

// Attention that materialises its T x T scores (eager, SDPA's math path): the two products are
// cuBLAS batched GEMMs over (sequence, head) at their shape's roofline (with a head dim of 64-128
// their T x T output or input costs more HBM time than their FLOPs), one launch each, and the
// elementwise ops over the scores are counted per score (score_ops.h), forward and backward apart.
void add_materialised_scores(Pass& p, const ModelSpec& m, const Rates& r, const StepMechanisms& k,
                             double sequences, double seq, double sp, const ScoreOps& ops) {
  const double batch_heads = sequences * static_cast<double>(m.heads) / sp;
  const double hd = static_cast<double>(m.head_dim);
  gemm(p, r, seq, hd, seq, batch_heads);           // q k^T
  gemm(p, r, seq, seq, hd, batch_heads);           // probabilities x v
  p.kernels -= 2.0 * (batch_heads - 1.0);          // one batched launch each
  p.kernels += ops.kernels;
  const double scores = batch_heads * seq * seq;
  p.memory_bytes += scores * ops.forward_bytes;
  // Pass::memory_bytes is multiplied by training_passes_per_forward for a pass with backward;
  // the backward's own count replaces that multiple.
  p.backward_only_bytes += scores * (ops.backward_bytes - (k.training_passes_per_forward - 1.0) * ops.forward_bytes);
}

Pass layer_forward(const ModelSpec& m, const ExecContext& c, const Rates& r, const StepMechanisms& k,
                   int64_t layer, double tokens, double seq, double sp, ExpertPath experts) {
  const Attention attn = c.attention;
  Pass p;
  const double C = static_cast<double>(m.hidden), qd = static_cast<double>(m.q_dim()), kvd = static_cast<double>(m.kv_dim());
  const double a = r.act_bytes;
  // Attention block: norm, q/k/v (one fused GEMM or three), RoPE on q and k, attention, output.
  const double norms = 2.0 + (m.sandwich_norm ? 2.0 : 0.0);
  p.kernels += norms * norm_kernels(m, c) + (m.qk_norm ? 2.0 * norm_kernels(m, c) : 0.0);
  p.memory_bytes += tokens * C * norms * norm_bytes_per_element(m, c, a);
  if (m.qk_norm) p.memory_bytes += tokens * (qd + kvd) * norm_bytes_per_element(m, c, a);
  if (m.qkv_projection == QkvProjection::fused) gemm(p, r, tokens, C, qd + 2 * kvd);
  else { gemm(p, r, tokens, C, qd); gemm(p, r, tokens, C, kvd, 2); }
  gemm(p, r, tokens, qd, C);
  if (m.position == PositionKind::rope && c.fused_elementwise) {  // zplan's kernel: one read, one write
    p.kernels += 2;
    p.memory_bytes += tokens * (qd + kvd) * 2.0 * a;
  } else if (m.position == PositionKind::rope) {  // rotate_half: two slices, neg, cat, two muls, add per tensor
    p.kernels += 12;
    p.memory_bytes += tokens * (qd + kvd) * 8.0 * a;
  }
  p.kernels += 6;                                    // head reshapes/transposes, two residual adds
  p.memory_bytes += tokens * (2.0 * (qd + 2 * kvd) + 6.0 * C) * a;
  if (m.qkv_bias) {  // GPT-2's c_attn is one projection, the others three
    const double projections = m.qkv_projection == QkvProjection::separate ? 3.0 : 1.0;
    for (int i = 0; i < static_cast<int>(projections); ++i) add_bias_gradient(p, k, tokens, (qd + 2 * kvd) / projections, a);
  }
  if (m.out_bias) add_bias_gradient(p, k, tokens, C, a);
  // Hidden dropout after the attention output and after the MLP output: two kernels each way.
  if (m.hidden_dropout > 0) for (int i = 0; i < 2; ++i) add_dropout(p, k, tokens * C, a);
  // Score and value products: causal kernels skip the masked half; past a sliding window the mask is
  // explicit and every score is computed (below).
  const double window = m.layer_slides(layer, static_cast<int64_t>(seq)) ? static_cast<double>(m.sliding_window) : seq;
  const double sequences = tokens / (seq / sp);      // micro-batch
  const double heads_share = qd / sp;                // Ulysses: all tokens, 1/SP of the heads
  // 16-bit kernels' rate at this head dimension (fp32 runs the memory-efficient kernel).
  const double head_dim_rate = r.act_bytes == 2 ? flash_attention_head_dim_rate(k, static_cast<double>(m.head_dim)) : 1.0;
  if (attn == Attention::eager) {
    // Full T x T scores: the mask is added, not skipped.
    add_materialised_scores(p, m, r, k, sequences, seq, sp, eager_attention_score_ops(m, c, a));
  } else if (sdpa_runs_math_path(m, c, window < seq)) {
    // SDPA's math path (sdpa_kernel.h; fp32 with GQA): like eager attention, over every score; GQA's
    // k and v are repeat_interleave'd first (per token).
    add_materialised_scores(p, m, r, k, sequences, seq, sp, sdpa_math_score_ops());
    p.memory_bytes += tokens * (2.0 * qd + 2.0 * qd) * a;
  } else if (window < seq) {
    // Past the window the mask is explicit: the memory-efficient kernel computes every T x T score
    // (masked_attention_rate); the useful FLOPs stay the window's.
    p.attention_flops = 4.0 * sequences * seq * window * heads_share;
    p.kernels += 1;
    const double computed_flops = 4.0 * sequences * seq * seq * heads_share;
    const double rate = r.act_bytes == 2 ? head_dim_rate * k.masked_attention_rate : 1.0;
    p.attention_seconds = computed_flops / r.peak / rate;
  } else {
    const double keys = seq / 2.0;
    p.attention_flops = 4.0 * sequences * seq * keys * heads_share;
    p.kernels += 1;
    p.attention_seconds = p.attention_flops / r.peak * (1.0 / head_dim_rate + k.flash_attention_half_rate_keys / std::max(1.0, keys));
  }
  // MLP or MoE block.
  const bool sparse = m.is_moe() && m.layer_is_sparse(layer);
  // zplan_swiglu: the runtime's SwiGLU kernel (dense MLPs; a shared expert runs PyTorch's ops).
  auto dense_mlp = [&](double ffn, bool zplan_swiglu) {
    const bool gated = m.mlp != MlpKind::gelu_mlp;
    gemm(p, r, tokens, C, ffn, gated ? 2 : 1);
    gemm(p, r, tokens, ffn, C);
    if (m.out_bias) {  // GPT-2's c_fc and c_proj
      add_bias_gradient(p, k, tokens, ffn * (gated ? 2.0 : 1.0), a);
      add_bias_gradient(p, k, tokens, C, a);
    }
    if (zplan_swiglu) {  // one kernel: read gate and up, write the product
      p.kernels += 1;
      p.memory_bytes += tokens * ffn * a * 3.0;
      return;
    }
    const double act_passes = m.composite_gelu ? 8.0 : 2.0;  // GPT-2's tanh GELU runs as ~8 kernels
    // transformers' NewGELUActivation calls torch.pow, which autocast runs in fp32: under AMP the
    // input is cast up and the rest of the chain runs on 4-byte elements, then c_proj's addmm
    // casts the result back to 16 bits (read 4 B, write 2 B).
    const bool fp32_gelu = m.composite_gelu && c.autocast;
    p.kernels += act_passes / 2.0 + (gated ? 1.0 : 0.0) + (fp32_gelu ? 2.0 : 0.0);
    p.memory_bytes += tokens * ffn * ((fp32_gelu ? 4.0 : a) * act_passes + a * (gated ? 3.0 : 0.0) + (fp32_gelu ? 6.0 + 6.0 : 0.0));
  };
  if (!sparse) {
    dense_mlp(static_cast<double>(m.ffn), c.fused_elementwise && m.mlp == MlpKind::swiglu);
    return p;
  }
  add_routed_experts(p, m, c, r, k, tokens, experts);
  if (m.moe.shared_experts > 0) dense_mlp(static_cast<double>(m.moe.shared_expert_ffn), false);
  return p;
}


}  // namespace

double flash_attention_head_dim_rate(const StepMechanisms& k, double head_dim) {
  const auto& t = k.flash_attention_head_dim_rates;
  if (head_dim <= t.front().first) return t.front().second;
  for (size_t i = 1; i < t.size(); ++i)
    if (head_dim <= t[i].first)
      return t[i - 1].second + (t[i].second - t[i - 1].second) * (head_dim - t[i - 1].first) / (t[i].first - t[i - 1].first);
  return t.back().second;
}

const char* step_term_name(size_t term) {
  static const char* names[kStepTermCount] = {"matmul", "attention",  "memory_bound",  "optimizer",    "kernels",    "micro_steps",
                                              "comm",   "offload",    "host_syncs",    "offload_step", "zero3_hooks",
                                              "zero2_hooks",  "checkpoint_hooks"};
  return term < kStepTermCount ? names[term] : "?";
}

double optimizer_pass_bytes_per_param(Precision precision, OptimizerPass pass) {
  const PrecisionRecipe rc = precision_recipe(precision);
  const double states = 2.0 * (rc.master_bytes + rc.optimizer_bytes);  // read and write
  switch (pass) {
    case OptimizerPass::fused_master:  // read the 16-bit gradient, write the 16-bit weight
      return rc.grad_bytes + states + rc.param_bytes;
    case OptimizerPass::upcast:  // + write and read the fp32 gradient, read the master to copy it back
      return rc.grad_bytes + 2.0 * rc.fp32_grad_bytes + states + rc.master_bytes + rc.param_bytes;
    case OptimizerPass::generic: break;
  }
  return 2.0 * rc.param_bytes + rc.grad_bytes + states + rc.fp32_grad_bytes;
}

StepTerms step_terms(const ModelSpec& m, const ClusterSpec& cluster, const TrainingSpec& training, const Strategy& s,
                     const StepMechanisms& k) {
  StepTerms out;
  const ModelTables& tables = model_tables(m);
  const ParamCounts& pc = tables.counts;
  const PrecisionRecipe rc = precision_recipe(s.precision);
  const double world = std::max(1, cluster.world_size());
  const double sp = std::max(1, s.sp_degree);
  const double seq = static_cast<double>(training.seq_len);
  const double tokens = static_cast<double>(s.micro_batch) * seq / sp;  // per rank per micro-step
  const double ga = static_cast<double>(s.grad_accumulation);
  Rates r;
  r.peak = std::max(1.0, peak_flops(cluster.gpu, s.precision));
  r.hbm = std::max(1.0, cluster.gpu.memory_bw_gb_per_s) * 1e9;
  r.act_bytes = rc.compute_bytes;
  r.fp32_peak = std::max(1.0, cluster.gpu.fp32_tflops * 1e12);
  r.misaligned_gemm_rate = k.misaligned_gemm_rate;

  // Forward of every layer, and of the embedding, head and loss.
  const ExecContext context = make_exec_context(training, s, cluster.world_size());
  const ExpertPath path = expert_path(training, context, cluster.gpu);
  Pass fwd, recompute;
  // A layer's pass depends on the layer only through its kind (sparse MLP, sliding window): each
  // kind is costed once (the search asks for thousands of step times), and added layer by layer
  // in order as before, so the sums are the same to the last bit.
  std::array<std::optional<Pass>, 4> by_kind;
  for (int64_t i = 0; i < m.layers; ++i) {
    const size_t kind = (m.is_moe() && m.layer_is_sparse(i) ? 1u : 0u) +
                        (m.layer_slides(i, static_cast<int64_t>(seq)) ? 2u : 0u);
    if (!by_kind[kind]) by_kind[kind] = layer_forward(m, context, r, k, i, tokens, seq, sp, path);
    const Pass& layer = *by_kind[kind];
    add(fwd, layer, 1.0);
    if (i < s.checkpointed_layers) add(recompute, layer, 1.0);
  }
  Pass head;
  // The chunked loss path (planner/memory/loss_path.h) runs lm_head's GEMMs once per chunk of
  // ceil(tokens / chunks) rows: the same FLOPs, but each chunk reads the whole [V, C] weight again.
  const double loss_chunks = static_cast<double>(std::max<int64_t>(1, s.loss_chunks));
  gemm(head, r, std::ceil(tokens / loss_chunks), static_cast<double>(m.hidden), static_cast<double>(m.vocab), loss_chunks);
  head.kernels += 14.0 + norm_kernels(m, context);           // embedding, final norm, upcast, log-softmax, NLL, mean
  if (m.hidden_dropout > 0) add_dropout(head, k, tokens * static_cast<double>(m.hidden), r.act_bytes);  // embd_pdrop
  // Loss path over [tokens, V]: 16-bit logits, fp32 upcast, log-softmax and its gradient (~30 B each).
  // zplan's cross-entropy kernels (plain path) read the logits forward, read them again and write
  // their gradient in backward: 3 x the logits' bytes per step, which the passes below multiply back.
  const bool fused_ce = context.fused_cross_entropy && s.loss_chunks <= 1;
  const double loss_bytes_per_logit = fused_ce ? 3.0 * r.act_bytes / k.training_passes_per_forward : k.loss_path_bytes_per_logit;
  head.memory_bytes += tokens * static_cast<double>(m.vocab) * loss_bytes_per_logit + tokens * static_cast<double>(m.hidden) * 4.0 * r.act_bytes;
  add(fwd, head, 1.0);
  // Training = forward + backward (twice the GEMM work: input and weight gradients; flash
  // attention's backward runs five products to the forward's two) + recompute, per micro-step.
  const double attn_backward = training.attention == Attention::eager ? k.eager_attention_backward_ratio
                                                                       : k.flash_attention_backward_ratio;
  const double passes = k.training_passes_per_forward;
  auto train_term = [&](const Pass& f, bool with_backward) {
    StepTermVector v{};
    v[kMatmulTerm] = f.matmul_seconds * (with_backward ? passes : 1.0) * ga;
    v[kAttentionTerm] = f.attention_seconds * (with_backward ? 1.0 + attn_backward : 1.0) * ga;
    v[kMemoryBoundTerm] = (f.memory_bytes * (with_backward ? passes : 1.0) + (with_backward ? f.backward_only_bytes : 0.0)) * ga / r.hbm;
    v[kKernelTerm] = (f.kernels * (with_backward ? passes : 1.0) + (with_backward ? f.backward_only_kernels : 0.0)) * ga;
    v[kHostSyncTerm] = f.host_syncs * ga;              // the syncs sit in forward
    return v;
  };
  out.total = train_term(fwd, true);
  out.recompute = train_term(recompute, false);
  // transformers' gradient checkpointing runs each wrapped layer under torch.utils.checkpoint
  // (use_reentrant=False): the layer's saved tensors go through its Python pack hooks in the
  // forward, and its recompute in backward runs under its recomputation hooks and determinism
  // check. Counted per op of those layers (their kernels), beside the recompute's own launches.
  if (context.profile == Profile::hf) out.recompute[kCheckpointHookTerm] = recompute.kernels * ga;
  for (size_t i = 0; i < kStepTermCount; ++i) out.total[i] += out.recompute[i];
  // Each further chunk launches its own elementwise kernels (upcast, logsumexp, target gather,
  // in-place softmax gradient, cast back: about 10); no recompute and no host synchronisation.
  out.total[kKernelTerm] += 10.0 * (loss_chunks - 1.0) * ga;
  out.model_flops_per_token = passes * (fwd.matmul_flops + fwd.attention_flops) / std::max(1.0, tokens);

  const double psi = static_cast<double>(pc.total);
  // Where the states live and which collectives a step runs: the ZeRO rows of
  // planner/framework/sharding_policy.h (every framework priced as DeepSpeed at its stage).
  const ModelStateHomes homes = zero_state_homes(s.zero_stage, s.offload_optimizer, s.offload_params,
                                                 std::max(1, cluster.world_size()));
  const double local = homes.optimizer_states.partitioned ? psi / world : psi;
  // Weight-gradient writes per micro-step (into the rank's shard when they are reduce-scattered);
  // AMP casts the fp32 weights to 16 bits each forward (and again for each recomputed layer) and
  // the 16-bit weight gradients back to fp32.
  double per_micro = psi * rc.grad_bytes / (homes.gradients_reduce_scattered ? world : 1.0);
  if (rc.param_bytes == 4 && rc.compute_bytes == 2) per_micro += k.amp_cast_bytes_per_param * psi * (2.0 + static_cast<double>(s.checkpointed_layers) / std::max<double>(1.0, static_cast<double>(m.layers)));
  out.total[kMemoryBoundTerm] += per_micro * ga / r.hbm;
  // GPU AdamW on the local shard: reads weights, gradients, master copy and both moments, writes
  // all but the gradients (the minimum; a multi-pass foreach implementation moves more, which its
  // fitted weight absorbs); one kernel-equivalent per parameter tensor and state.
  const bool runtime_masters = context.profile == Profile::zplan && has_fp32_master(s.precision);
  const OptimizerPass pass = !runtime_masters ? OptimizerPass::generic
                             : context.fused_master_adamw ? OptimizerPass::fused_master : OptimizerPass::upcast;
  if (homes.optimizer_states.on_gpu()) {
    const double bytes = local * optimizer_pass_bytes_per_param(s.precision, pass);
    out.total[kOptimizerTerm] = bytes / r.hbm;
  }
  // Launches per tensor: zplan's fused-master kernel 1; its upcast path 3 (cast, AdamW, copy back).
  const double optimizer_kernels = pass == OptimizerPass::fused_master ? 1.0
                                   : pass == OptimizerPass::upcast  ? 3.0
                                                                     : k.optimizer_kernels_per_tensor;
  out.total[kKernelTerm] += optimizer_kernels * static_cast<double>(tables.tensors.size());
  out.total[kMicroStepTerm] = ga;

  // Collectives: ring all-reduce moves 2(N-1)/N of the data per rank, reduce-scatter and all-gather
  // (N-1)/N each; a share `comm_overlap` hides behind backward. Ulysses all-to-alls are exposed.
  const bool multi_node = cluster.nodes > 1;
  const double link_gb = multi_node ? cluster.inter_node_bw_gb_per_s / std::max(1, cluster.gpus_per_node)
                                    : cluster.gpu.intra_node_bw_gb_per_s;
  const double bw = std::max(1.0, link_gb) * 1e9;
  const double frac = world > 1 ? (world - 1) / world : 0.0;
  double comm_bytes = 0;
  if (world > 1) {
    comm_bytes += (homes.gradients_reduce_scattered ? 1.0 : 2.0) * frac * psi * rc.grad_bytes;
    if (homes.params_gathered_after_step) comm_bytes += frac * psi * rc.param_bytes;
    if (homes.params_gathered_per_micro_step) comm_bytes += 2.0 * frac * psi * rc.param_bytes * ga;
  }
  out.total[kCommTerm] = comm_bytes / bw * (1.0 - k.comm_overlap);
  if (sp > 1) {
    const double per_token = static_cast<double>(2 * m.q_dim() + 2 * m.kv_dim()) * rc.compute_bytes;
    out.total[kCommTerm] += 2.0 * per_token * tokens * ga * static_cast<double>(m.layers) * (sp - 1) / sp / bw;
  }
  // DeepSpeed's offloaded step (CPU Adam, its PCIe copies, parameter offload's weight streams) and
  // ZeRO-3's module hooks (Hugging Face module tree): planner/cost/deepspeed_step.h.
  out.total[kOffloadStepTerm] = offloaded_step_seconds(m, cluster, training, s, k);
  if (runs_deepspeed_zero3_hooks(training, s)) out.total[kZero3HookTerm] = zero3_hooked_module_passes(m, s);
  if (runs_deepspeed_gradient_hooks(training, s)) {
    out.total[kZero2HookTerm] = static_cast<double>(tables.hf.size()) * ga;
    out.total[kMemoryBoundTerm] += deepspeed_gradient_hook_bytes(m, s) / r.hbm;
  }
  // CPU checkpoints go out and back over PCIe.
  const double pcie = std::max(1.0, cluster.gpu.pcie_bw_gb_per_s) * 1e9;
  if (s.cpu_checkpointing) {
    const double ckpt = static_cast<double>(sum_bytes(checkpointed_block_saved(m, context), context.tokens_per_rank(), context.micro_batch)) *
                        static_cast<double>(s.checkpointed_layers) * ga;
    out.total[kOffloadTerm] += 2.0 * ckpt / pcie * k.cpu_checkpoint_exposed_share;
  }
  out.tokens_per_step = static_cast<double>(s.micro_batch) * seq * ga * world / sp;
  return out;
}

}  // namespace zplan
