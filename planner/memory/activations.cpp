// Saved-tensor tables of decoder blocks (see activations.h). Each add_* helper follows one module of
// Hugging Face transformers' modelling code (models/llama, qwen3, qwen3_moe, gemma3, gpt2; 5.x) and
// the derivative formulas of PyTorch's autograd (tools/autograd/derivatives.yaml): an op keeps the
// operands its backward formula needs, so e.g. `weight * x` keeps x (the weight is a parameter,
// already resident), `pow(x, 2)` keeps x, softmax keeps its output, flash attention keeps
// q, k, v, out and the fp32 log-sum-exp. Under torch.autocast every matmul casts an fp32 input to
// 16 bits and keeps the cast copy, once per consumer; fp32 leaf weights are cast once per forward
// and cached (kept by backward), non-leaf weight slices (MoE experts) are cast at every call.
#include "planner/memory/activations.h"

#include <algorithm>

#include "planner/memory/params.h"
#include "planner/memory/sdpa_kernel.h"

namespace zplan {
namespace {

constexpr int kFp32 = 4;
constexpr int kIndexBytes = 8;  // int64 indices

struct Rows {
  std::vector<TensorRow>& out;
  void add(const std::string& name, int64_t per_token, int64_t count = 1) {
    if (per_token > 0) out.push_back({name, per_token, 0, 0, count});
  }
  void add_per_sequence(const std::string& name, int64_t per_sequence) {
    if (per_sequence > 0) out.push_back({name, 0, per_sequence, 0, 1});
  }
  void add_fixed(const std::string& name, int64_t bytes, int64_t count = 1) {
    if (bytes > 0) out.push_back({name, 0, 0, bytes, count});
  }
};

// A norm over `width` features per token, normalised in groups of `group` (the head dimension for
// q/k norms, else the whole width), whose input has dtype `in_bytes`; returns the output dtype bytes.
//  LlamaRMSNorm:  x32 = x.float(); x32 * rsqrt(mean(x32^2)) -> .to(x.dtype) -> weight * that
//                 keeps x32 (pow, mul) and the normalised tensor in the input dtype (weight mul).
//  fused:         zplan's runtime on a GPU (ExecContext::fused_rms_norm): at::_fused_rms_norm keeps
//                 its input and the fp32 1/rms of each group (FusedRmsNormBackward0: input, rstd).
//  Gemma3RMSNorm: keeps x.float() and the fp32 normalised tensor (multiplied by 1 + weight).
//  LayerNorm:     native_layer_norm keeps its input (plus per-token mean/rstd, fp32).
int add_norm(Rows& r, const std::string& name, const ModelSpec& m, int64_t width, int in_bytes,
             const ExecContext& c, int64_t group = 0) {
  if (m.norm == NormKind::layer_norm) {
    r.add(name + ".input", in_bytes * width);
    r.add(name + ".mean_rstd", 2 * kFp32);
    // autocast runs layer_norm in fp32; otherwise the output keeps the input dtype.
    return c.autocast ? kFp32 : in_bytes;
  }
  if (m.norm == NormKind::gemma_rms_norm) {
    r.add(name + ".input_fp32", kFp32 * width);
    r.add(name + ".normed_fp32", kFp32 * width);
    return in_bytes;  // output.type_as(x)
  }
  if (runs_fused_rms_norm(m, c)) {
    r.add(name + ".input", in_bytes * width);
    r.add(name + ".rstd", kFp32 * (width / (group > 0 ? group : width)));
    return in_bytes;  // input and weight share the dtype on this path
  }
  r.add(name + ".input_fp32", kFp32 * width);
  r.add(name + ".normed", in_bytes * width);
  return std::max(c.param_bytes, in_bytes);  // weight (param dtype) * normed (input dtype)
}

// The input of `consumers` matmuls reading one tensor of `width` features in dtype `in_bytes`.
// Without autocast the tensor itself is kept once; under autocast an fp32 input is cast to 16 bits
// by each consumer and each cast copy is kept.
void add_matmul_input(Rows& r, const std::string& name, int64_t width, int in_bytes, int consumers,
                      const ExecContext& c) {
  if (c.autocast && in_bytes == kFp32) {
    for (int i = 0; i < consumers; ++i) r.add(name + ".cast" + std::to_string(i), c.compute_bytes * width);
  } else {
    r.add(name, in_bytes * width);
  }
}

// KV features one rank holds inside attention per token of t. Ulysses splits heads by SP; with
// fewer KV heads than SP each rank keeps one replicated KV head over the whole sequence.
int64_t attention_kv_dim(const ModelSpec& m, const ExecContext& c) {
  const int64_t sp = c.sp_degree;
  const int64_t kv_per_rank = (m.kv_heads + sp - 1) / sp;
  return kv_per_rank * sp * m.head_dim;
}

// The q, k, v an attention kernel keeps: views of one fused c_attn output (GPT-2), or separate
// tensors with `kv_elems` features each for k and v (repeated KV heads: NH*HD).
void add_qkv(Rows& saved, bool fused_qkv, int cb, int64_t qd, int64_t kd, int64_t kv_elems) {
  if (fused_qkv) {
    saved.add("attn.qkv", cb * (qd + 2 * kd));
    return;
  }
  saved.add("attn.q", cb * qd);
  saved.add("attn.k", cb * kv_elems);
  saved.add("attn.v", cb * kv_elems);
}

// Attention core from q/k/v projection outputs to the o_proj input.
void add_attention(BlockActivations& b, const ModelSpec& m, const ExecContext& c, bool sliding) {
  Rows saved{b.saved}, fwd{b.forward_transient}, bwd{b.backward_transient};
  const int cb = c.compute_bytes;
  const int64_t qd = m.q_dim(), kd = m.kv_dim(), kd_attn = attention_kv_dim(m, c);
  const bool fused_qkv = m.qkv_projection == QkvProjection::c_attn;  // q, k, v: views of one c_attn output
  if (m.qk_norm) {
    add_norm(saved, "attn.q_norm", m, qd, cb, c, m.head_dim);
    add_norm(saved, "attn.k_norm", m, kd, cb, c, m.head_dim);
  }
  const int64_t sp = c.sp_degree;
  const int64_t seq = c.seq_len, heads_per_rank = m.heads / sp;
  const int64_t scores = heads_per_rank * seq * seq;  // elements of [NH/SP, T, T] per sequence
  if (c.attention == Attention::eager) {
    // repeat_kv materialises k and v for every query head. Llama/Qwen/Gemma call
    // softmax(dtype=float32) and cast back, GPT-2 softmaxes in the input dtype (fp32 under
    // autocast, which lists softmax); zplan's runtime uses the fp32 softmax for every family.
    // Softmax keeps its output; the matmul with v keeps the 16-bit probabilities, or the dropout
    // output, whose bool mask dropout keeps.
    add_qkv(saved, fused_qkv, cb, qd, kd, qd);
    // Without GQA repeat_kv returns v itself, a view of Phi-3's fused qkv_proj output; matmul
    // flattens it to [B*NH, T, HD] without a copy only when B = 1 (and no all-to-all made it anew),
    // and then keeps the whole projection output.
    if (m.qkv_projection == QkvProjection::fused && m.kv_heads == m.heads && c.micro_batch == 1 && sp == 1)
      saved.add("attn.qkv_proj_rest", cb * (qd + kd));
    const int softmax_bytes = (m.attention_softmax_fp32 || c.autocast || c.profile == Profile::zplan) ? kFp32 : cb;
    saved.add_per_sequence("attn.softmax_out", softmax_bytes * scores);
    if (m.attention_dropout > 0) {
      saved.add_per_sequence("attn.dropout_mask", scores);
      saved.add_per_sequence("attn.dropout_out", cb * scores);
    } else if (softmax_bytes != cb) {
      saved.add_per_sequence("attn.probs", cb * scores);
    }
    saved.add("attn.out_contiguous", cb * qd);  // transpose(1, 2).contiguous() for o_proj
    fwd.add_per_sequence("attn.scores", cb * scores);
    fwd.add_per_sequence("attn.scores_fp32", kFp32 * scores);
    bwd.add_per_sequence("attn.grad_probs", (kFp32 + 2 * cb) * scores);
  } else if (sdpa_runs_math_path(m, c, sliding)) {
    // SDPA's math path (sdpa_kernel.h) keeps q, k, v, the fp32 softmax [NH, T, T] and its output
    // (copied contiguous for o_proj). Without GQA the efficient kernel takes fp32 and keeps what
    // flash keeps (the branch below).
    // Both pass GQA's un-repeated k/v (enable_gqa); the k/v kept are as wide as q in zplan's runtime
    // and as wide as its projection in transformers (both validated by measured peaks).
    const int64_t kv_saved = c.profile == Profile::zplan ? qd : kd_attn;
    add_qkv(saved, fused_qkv, cb, qd, kd, kv_saved);
    saved.add_per_sequence("attn.softmax_out", kFp32 * scores);
    if (m.attention_dropout > 0) saved.add_per_sequence("attn.dropout_mask", scores);
    saved.add("attn.out", cb * qd);
    saved.add("attn.out_contiguous", cb * qd);
    fwd.add_per_sequence("attn.scores", kFp32 * scores);
    bwd.add_per_sequence("attn.grad_probs", 2 * kFp32 * scores);
  } else {
    // Flash SDPA keeps q, k, v (16-bit: autocast casts fp32 RoPE outputs), out and the fp32
    // log-sum-exp [B, NH, T]; with GQA it reads un-repeated k/v (enable_gqa). zplan's runtime under
    // a sliding-window mask repeats k and v first (no enable_gqa with a mask), so SDPA (the
    // efficient kernel, which takes a bias and fp32) keeps the repeated copies.
    const bool repeated_kv = sliding && c.profile == Profile::zplan;
    add_qkv(saved, fused_qkv, cb, qd, kd, repeated_kv ? qd : kd_attn);
    // Phi-3's v is a view of the fused qkv_proj output (q and k become new tensors at RoPE):
    // SDPA keeping v keeps the whole tensor, in transformers and in zplan's runtime alike.
    // (Ulysses' all-to-all, or repeat_kv's copy, makes a new v first.)
    if (m.qkv_projection == QkvProjection::fused && sp == 1 && !(repeated_kv && m.kv_heads < m.heads))
      saved.add("attn.qkv_proj_rest", cb * (qd + kd));
    saved.add("attn.out", cb * qd);
    saved.add("attn.lse", kFp32 * m.heads);
    // Ulysses: the all-to-all back to sequence-sharded layout allocates o_proj's input.
    if (sp > 1) saved.add("attn.out_all_to_all", cb * qd);
    if (sliding) {
      // A sliding window needs an explicit mask: SDPA converts it to a 16-bit [B, 1, T, T] bias
      // that it keeps, and GQA without enable_gqa (transformers only uses it mask-free) keeps a
      // repeated copy of the KV heads.
      saved.add_per_sequence("attn.sliding_mask", cb * seq * seq);
      if (!repeated_kv) saved.add("attn.kv_repeated", cb * std::max<int64_t>(0, qd - kd_attn));
    }
    // Flash backward: dq/dk/dv, an fp32 dq accumulator and the fp32 softmax row sums.
    bwd.add("attn.grad_out", cb * qd);
    bwd.add("attn.grad_qkv", cb * (qd + 2 * kd_attn));
    bwd.add("attn.dq_accum_fp32", kFp32 * qd);
    bwd.add("attn.softmax_d", kFp32 * m.heads);
  }
  if (sp > 1) {
    // All-to-all output buffers exist next to their inputs while q, k, v are exchanged.
    fwd.add("ulysses.all_to_all_in", cb * (qd + 2 * kd));
  }
  // RoPE on an autocast fp32 stream produces fp32 q/k before the 16-bit cast (transient).
  if (c.autocast && m.position == PositionKind::rope) fwd.add("attn.rope_fp32", kFp32 * (qd + kd));
}

// Dense MLP from its (normed) input to the down projection input.
void add_dense_mlp(BlockActivations& b, const ModelSpec& m, int64_t ffn, const std::string& prefix,
                   const ExecContext& c) {
  Rows saved{b.saved}, bwd{b.backward_transient};
  const int cb = c.compute_bytes;
  // zplan's SwiGLU kernel (runtime/kernels/swiglu.cu) keeps gate and up and recomputes silu in its
  // backward; a shared expert (prefix moe.shared) stays PyTorch's silu and mul.
  const bool swiglu_keeps_inputs_only = c.fused_elementwise && m.mlp == MlpKind::swiglu && prefix == "mlp";
  if (m.mlp == MlpKind::gelu_mlp && !m.composite_gelu) {
    // A fused GELU keeps its input; c_proj keeps its output.
    saved.add(prefix + ".fc_out", cb * ffn);
    saved.add(prefix + ".act_out", cb * ffn);
  } else if (m.mlp == MlpKind::gelu_mlp) {
    // GPT-2 gelu_new: 0.5*a*(1+tanh(sqrt(2/pi)*(a+0.044715*a^3))) as separate ops keeps pow's
    // input, tanh's output, 0.5*a and 1+tanh. Autocast runs pow in fp32 (it keeps the fp32 cast of
    // a), so tanh and 1+tanh are fp32 and the fp32 product is cast again for c_proj.
    const int tanh_bytes = c.autocast ? kFp32 : cb;
    saved.add(prefix + ".pow_input", tanh_bytes * ffn);
    saved.add(prefix + ".tanh", tanh_bytes * ffn);
    saved.add(prefix + ".half_a", cb * ffn);
    saved.add(prefix + ".one_plus_tanh", tanh_bytes * ffn);
    saved.add(prefix + ".act_out", cb * ffn);
  } else if (m.fused_gate_up_proj && prefix == "mlp" && c.profile == Profile::zplan) {
    // Phi-3: gate, up = gate_up_proj(x).chunk(2); down(up * act(gate)). act keeps the gate half
    // and mul the up half, two views that keep the one [2F] output; mul keeps act's output too.
    // transformers does the same, but the hf profile keeps the two-row form its Phi-3 records
    // were validated with (same bytes; one allocation moves its reserved prediction, unmeasured).
    saved.add(prefix + ".gate_up_out", 2 * cb * ffn);
    if (!swiglu_keeps_inputs_only) saved.add(prefix + ".act_out", cb * ffn);
    saved.add(prefix + ".product", cb * ffn);
  } else {
    // down(act(gate(x)) * up(x)): act keeps gate's output, mul keeps act's and up's outputs,
    // down keeps the product.
    saved.add(prefix + ".gate_out", cb * ffn);
    if (!swiglu_keeps_inputs_only) saved.add(prefix + ".act_out", cb * ffn);
    saved.add(prefix + ".up_out", cb * ffn);
    saved.add(prefix + ".product", cb * ffn);
  }
  bwd.add(prefix + ".grads", 3 * cb * ffn);
}

// Qwen3-MoE / Mixtral sparse block in transformers 5.x: router linear, softmax in fp32, top-k,
// renormalise, then the experts. The default grouped_mm path sorts the t*K (token, expert) pairs by
// expert and runs one grouped matmul for gate_up and one for down over all experts at once; it is
// not on autocast's list, so under AMP the experts run in fp32 on the fp32 params. The eager path
// loops over the experts that were hit, slicing weight[expert] (a non-leaf, so autocast casts it
// at every call and keeps the cast) and index_add_-ing results.
void add_moe_mlp(BlockActivations& b, const ModelSpec& m, int norm_out_bytes, const ExecContext& c) {
  Rows saved{b.saved}, fwd{b.forward_transient}, bwd{b.backward_transient};
  const int cb = c.compute_bytes;
  const int64_t C = m.hidden, E = m.moe.num_experts, K = m.moe.experts_per_token, Fe = m.moe.expert_ffn;
  add_matmul_input(saved, "moe.router_input", C, norm_out_bytes, 1, c);
  saved.add("moe.router_probs_fp32", kFp32 * E);
  saved.add("moe.topk", (kIndexBytes + 2 * kFp32) * K + kFp32);
  saved.add("moe.routing_weights", cb * K);
  const bool grouped = c.experts != ExpertsImpl::eager;  // zplan's loop saves what grouped_mm does
  // Expert dtype: grouped_mm runs in the norm output's dtype (fp32 under AMP), eager in 16 bits.
  const int eb = grouped ? std::max(cb, norm_out_bytes) : cb;
  // Per routed (token, expert) pair: the gathered input, gate_up output [2Fe], SiLU output,
  // product, the down output kept by the routing-weight multiply, and the sort/gather indices.
  if (c.profile == Profile::zplan) {
    // zplan's runtime: one row per tensor, which its backward releases one node at a time
    // (runtime_layer_order.h); the sort/gather indices go with the input, the sorted routing
    // weights with the down output (both are released by the same nodes).
    saved.add("moe.experts.input", (eb * C + 2 * kIndexBytes) * K);
    saved.add("moe.experts.gate_up_out", 2 * eb * Fe * K);
    saved.add("moe.experts.act_out", eb * Fe * K);
    saved.add("moe.experts.product", eb * Fe * K);
    saved.add("moe.experts.down_out", (eb * C + eb) * K);
  } else {
    const int64_t per_pair = eb * C + 2 * eb * Fe + eb * Fe + eb * Fe + eb * C + eb + 2 * kIndexBytes;
    saved.add("moe.experts", per_pair * K, grouped ? 1 : E);
  }
  if (!grouped) {
    if (c.autocast) saved.add_fixed("moe.expert_weight_casts", 2 * 3 * C * Fe * E, E);
    fwd.add("moe.one_hot_mask", kIndexBytes * K * E);
    if (norm_out_bytes == kFp32) fwd.add("moe.gathered_fp32", kFp32 * C * K);
    // Backward of `weight[expert]` (select) materialises a zero-filled gradient of the whole
    // stacked expert tensor for every expert; one is alive next to the accumulating buffer.
    bwd.add_fixed("moe.select_backward_full", c.param_bytes * 2 * Fe * C * E);
  }
  bwd.add("moe.expert_grads", 3 * eb * Fe * K);
  if (m.moe.shared_experts > 0) {
    // A dense MLP on the same input (its matmul input is the router's, kept once above).
    add_dense_mlp(b, m, m.moe.shared_expert_ffn, "moe.shared", c);
    // Qwen2-MoE: sigmoid(shared_expert_gate(h)) * shared_expert(h); the multiply keeps the
    // shared expert's output [t, C] and the sigmoid's [t, 1] (sigmoid's backward reads it too).
    if (m.moe.shared_expert_gate) saved.add("moe.shared_gate", cb * C + cb);
  }
}

// Elements of the matmul weights of one layer (what autocast casts and caches): the layer's rows
// of the parameter table, less norms and biases, and less routed experts (non-leaf slices, cast
// per call, counted with the expert rows).
int64_t layer_matmul_weight_elements(const ModelSpec& m, int64_t layer) {
  int64_t n = 0;
  for (const ParamTensor& p : model_tables(m).tensors)
    if (p.layer == layer && !p.expert && !p.bias && !is_norm(p.role))
      n += p.elements;
  return n;
}

}  // namespace

uint64_t sum_bytes(const std::vector<TensorRow>& rows, int64_t tokens, int64_t batch) {
  uint64_t s = 0;
  for (const TensorRow& r : rows) s += r.bytes(tokens, batch);
  return s;
}

bool runs_fused_rms_norm(const ModelSpec& m, const ExecContext& c) {
  return c.fused_rms_norm && m.norm == NormKind::rms_norm;
}

BlockActivations block_activations(const ModelSpec& m, int64_t layer, const ExecContext& c) {
  BlockActivations b;
  Rows saved{b.saved};
  const int rb = c.residual_bytes, cb = c.compute_bytes;
  const int64_t C = m.hidden;
  const bool fused_qkv = m.qkv_projection == QkvProjection::c_attn;  // one c_attn matmul reads ln_1
  // ---- attention half ----
  const int ln1 = add_norm(saved, "input_norm", m, C, rb, c);
  add_matmul_input(saved, "attn.qkv_input", C, ln1, fused_qkv ? 1 : 3, c);
  add_attention(b, m, c, m.layer_slides(layer, c.seq_len));
  int attn_out_bytes = cb;  // o_proj output
  if (m.sandwich_norm) attn_out_bytes = add_norm(saved, "post_attn_norm", m, C, cb, c);
  if (m.hidden_dropout > 0) saved.add("attn.resid_dropout_mask", C);  // bool mask
  const int residual_after_attn = std::max(rb, attn_out_bytes);
  if (c.use_cache) {
    // A DynamicCache left on while training concatenates k and v into per-layer buffers created in
    // k's dtype (fp32 RoPE output under AMP), kept until the outputs are dropped.
    const int k_bytes = c.autocast && m.position == PositionKind::rope ? kFp32 : cb;
    saved.add("kv_cache", 2 * k_bytes * m.kv_dim());
  }
  // ---- MLP half ----
  const int ln2 = add_norm(saved, m.sandwich_norm ? "pre_mlp_norm" : "post_attn_norm", m, C,
                           residual_after_attn, c);
  if (m.layer_is_sparse(layer)) {
    add_moe_mlp(b, m, ln2, c);
  } else {
    add_matmul_input(saved, "mlp.input", C, ln2, m.mlp == MlpKind::gelu_mlp ? 1 : 2, c);
    add_dense_mlp(b, m, m.ffn, "mlp", c);
  }
  if (m.sandwich_norm) add_norm(saved, "post_mlp_norm", m, C, cb, c);
  if (m.hidden_dropout > 0) saved.add("mlp.resid_dropout_mask", C);
  if (c.autocast) {
    // fp32 leaf weights cast once per forward and cached; the casts are what backward keeps.
    saved.add_fixed("autocast.weight_casts", 2 * layer_matmul_weight_elements(m, layer));
  }
  // ---- gradient working set besides the rows above: the residual-stream gradient and its
  // partial sums, and the fp32 norm backward temporaries ----
  Rows bwd{b.backward_transient};
  bwd.add("residual_grads", 2 * std::max(rb, cb) * C);
  // The composite norm's backward runs through fp32 temporaries; the fused kernel writes the input's
  // gradient directly in the input dtype.
  if (runs_fused_rms_norm(m, c)) bwd.add("norm_backward_grad_input", std::max(rb, cb) * C);
  else bwd.add("norm_backward_fp32", 2 * kFp32 * C);
  return b;
}

std::vector<TensorRow> checkpointed_block_saved(const ModelSpec& m, const ExecContext& c) {
  return {{"checkpoint.input", c.residual_bytes * m.hidden, 0, 0, 1}};
}

BlockActivations stem_activations(const ModelSpec& m, const ExecContext& c) {
  BlockActivations b;
  Rows saved{b.saved};
  const int rb = c.residual_bytes;
  saved.add("input_ids_and_labels", 2 * kIndexBytes);
  if (m.position == PositionKind::rope) saved.add("rope.cos_sin", 2 * rb * m.head_dim);
  // Gemma 3's sliding layers rotate with a second table (rope_local_theta), which zplan's runtime
  // keeps next to the first for the whole forward (transformers makes one too; the hf profile was
  // validated without it).
  bool local_rope = false;
  for (int64_t i = 0; i < m.layers; ++i) local_rope |= m.rope_local_theta > 0 && m.layer_is_local(i);
  if (local_rope && m.position == PositionKind::rope && c.profile == Profile::zplan)
    saved.add("rope.local_cos_sin", 2 * rb * m.head_dim);
  if (m.hidden_dropout > 0) saved.add("embedding.dropout_mask", m.hidden);
  if (c.attention == Attention::eager) saved.add_per_sequence("attn.causal_mask", rb * c.seq_len * c.seq_len);
  // zplan's runtime keeps the boolean [B, 1, T, T] sliding-window mask of an SDPA forward until
  // the next forward (transformers makes one too; the hf profile was validated without it).
  bool slides = false;
  for (int64_t i = 0; i < m.layers; ++i) slides |= m.layer_slides(i, c.seq_len);
  if (slides && c.attention != Attention::eager && c.profile == Profile::zplan)
    saved.add_per_sequence("attn.sliding_mask_bool", c.seq_len * c.seq_len);
  const int out = add_norm(saved, "final_norm", m, m.hidden, rb, c);
  add_matmul_input(saved, "lm_head.input", m.hidden, out, 1, c);
  if (c.autocast) saved.add_fixed("autocast.lm_head_cast", 2 * m.vocab * m.hidden);
  return b;
}

}  // namespace zplan
