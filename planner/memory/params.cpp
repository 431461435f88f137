// Parameter table (see params.h). Shapes are written [in, out] for projections as in llm.c; the
// element count is what matters, not the storage order.
#include "planner/memory/params.h"

#include <algorithm>

namespace zplan {

namespace {

// Rows of one normalisation layer: weight [C] and, for LayerNorm, bias [C].
void add_norm(std::vector<ParamTensor>& rows, const ModelSpec& m, const std::string& name, int64_t dim,
              int64_t layer) {
  rows.push_back({name + ".weight", dim, layer, false});                       // [dim]
  if (m.norm == NormKind::layer_norm) rows.push_back({name + ".bias", dim, layer, false});  // [dim]
}

void add_attention(std::vector<ParamTensor>& rows, const ModelSpec& m, const std::string& p, int64_t l) {
  const int64_t C = m.hidden, Q = m.q_dim(), KVD = m.kv_dim(), HD = m.head_dim;
  rows.push_back({p + "attn.q", C * Q, l, false});      // [C, NH*HD]
  rows.push_back({p + "attn.k", C * KVD, l, false});    // [C, KV*HD]
  rows.push_back({p + "attn.v", C * KVD, l, false});    // [C, KV*HD]
  if (m.qkv_bias) {
    rows.push_back({p + "attn.q_bias", Q, l, false});   // [NH*HD]
    rows.push_back({p + "attn.k_bias", KVD, l, false}); // [KV*HD]
    rows.push_back({p + "attn.v_bias", KVD, l, false}); // [KV*HD]
  }
  if (m.qk_norm) {
    rows.push_back({p + "attn.q_norm", HD, l, false});  // [HD], shared by all heads
    rows.push_back({p + "attn.k_norm", HD, l, false});  // [HD]
  }
  rows.push_back({p + "attn.o", Q * C, l, false});      // [NH*HD, C]
  if (m.out_bias) rows.push_back({p + "attn.o_bias", C, l, false});  // [C]
}

// A dense MLP of inner size f (also used for the shared experts).
void add_dense_mlp(std::vector<ParamTensor>& rows, const ModelSpec& m, const std::string& p, int64_t f,
                   int64_t l) {
  const int64_t C = m.hidden;
  if (m.mlp == MlpKind::gelu_mlp) {
    rows.push_back({p + "fc", C * f, l, false});                         // [C, F]
    if (m.out_bias) rows.push_back({p + "fc_bias", f, l, false});       // [F]
    rows.push_back({p + "proj", f * C, l, false});                       // [F, C]
    if (m.out_bias) rows.push_back({p + "proj_bias", C, l, false});     // [C]
    return;
  }
  rows.push_back({p + "gate", C * f, l, false});  // [C, F]  swiglu/geglu gate
  rows.push_back({p + "up", C * f, l, false});    // [C, F]
  rows.push_back({p + "down", f * C, l, false});  // [F, C]
}

// Routed experts: router plus all E experts of each kind in one row.
void add_experts(std::vector<ParamTensor>& rows, const ModelSpec& m, const std::string& p, int64_t l) {
  const int64_t C = m.hidden, E = m.moe.num_experts, FE = m.moe.expert_ffn;
  rows.push_back({p + "router", E * C, l, false});  // [E, C]
  if (m.mlp != MlpKind::gelu_mlp) rows.push_back({p + "experts.gate", E * FE * C, l, true});  // [E, FE, C]
  rows.push_back({p + "experts.up", E * FE * C, l, true});    // [E, FE, C]
  rows.push_back({p + "experts.down", E * C * FE, l, true});  // [E, C, FE]
  // Shared experts (DeepSeek / Qwen2-MoE): one dense MLP of the combined inner size. Qwen2-MoE's
  // scalar shared_expert_gate [C, 1] is not modelled (C parameters per layer).
  if (m.moe.shared_experts > 0 && m.moe.shared_expert_ffn > 0)
    add_dense_mlp(rows, m, p + "shared.", m.moe.shared_expert_ffn, l);
}

}  // namespace

std::vector<ParamTensor> parameter_tensors(const ModelSpec& m) {
  std::vector<ParamTensor> rows;
  const int64_t C = m.hidden;
  rows.push_back({"wte", m.vocab * C, -1, false});  // [V, C]
  if (m.position == PositionKind::learned) rows.push_back({"wpe", m.max_positions * C, -1, false});  // [P, C]
  for (int64_t l = 0; l < m.layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    add_norm(rows, m, p + "attn_norm", C, l);                               // input norm (ln_1)
    add_attention(rows, m, p, l);
    if (m.sandwich_norm) add_norm(rows, m, p + "attn_post_norm", C, l);     // Gemma post_attention_layernorm
    add_norm(rows, m, p + "mlp_norm", C, l);                                // pre-MLP norm (ln_2)
    if (m.layer_is_sparse(l))
      add_experts(rows, m, p + "mlp.", l);
    else
      add_dense_mlp(rows, m, p + "mlp.", m.ffn, l);
    if (m.sandwich_norm) add_norm(rows, m, p + "mlp_post_norm", C, l);      // Gemma post_feedforward_layernorm
  }
  add_norm(rows, m, "final_norm", C, -1);                                   // ln_f
  if (!m.tied_embeddings) rows.push_back({"lm_head", m.vocab * C, -1, false});  // [C, V]
  return rows;
}

namespace {

// Every field parameter_tensors() reads, so that two specs with equal keys have equal tables.
std::string table_key(const ModelSpec& m) {
  std::string k = m.family;
  for (int64_t v : {m.layers, m.hidden, m.heads, m.kv_heads, m.head_dim, m.ffn, m.vocab, m.max_positions,
                    static_cast<int64_t>(m.norm), static_cast<int64_t>(m.mlp), static_cast<int64_t>(m.position),
                    static_cast<int64_t>(m.tied_embeddings), static_cast<int64_t>(m.qk_norm),
                    static_cast<int64_t>(m.qkv_bias), static_cast<int64_t>(m.out_bias),
                    static_cast<int64_t>(m.sandwich_norm), static_cast<int64_t>(m.moe.num_experts),
                    static_cast<int64_t>(m.moe.experts_per_token), m.moe.expert_ffn,
                    static_cast<int64_t>(m.moe.shared_experts), m.moe.shared_expert_ffn,
                    static_cast<int64_t>(m.moe.first_dense_layers), static_cast<int64_t>(m.moe.sparse_step)})
    k += "|" + std::to_string(v);
  for (int d : m.moe.dense_layers) k += "," + std::to_string(d);
  return k;
}

}  // namespace

const ModelTables& model_tables(const ModelSpec& m) {
  thread_local std::string key;
  thread_local ModelTables tables;
  std::string k = table_key(m);
  if (k != key || tables.tensors.empty()) {
    tables.tensors = parameter_tensors(m);
    tables.counts = count_parameters(m);
    key = std::move(k);
  }
  return tables;
}

ParamCounts count_parameters(const ModelSpec& m) {
  ParamCounts c;
  c.per_layer.assign(static_cast<size_t>(std::max<int64_t>(m.layers, 0)), 0);
  int64_t expert_elements = 0;
  for (const ParamTensor& t : parameter_tensors(m)) {
    c.total += t.elements;
    c.largest_tensor = std::max(c.largest_tensor, t.elements);
    if (t.expert) expert_elements += t.elements;
    if (t.layer >= 0) {
      c.per_layer[static_cast<size_t>(t.layer)] += t.elements;
    } else if (t.name == "wte" || t.name == "wpe") {
      c.embedding += t.elements;
    } else if (t.name == "lm_head") {
      c.lm_head += t.elements;
    } else {
      c.final_norm += t.elements;
    }
  }
  for (int64_t n : c.per_layer) c.per_layer_max = std::max(c.per_layer_max, n);
  // Each token runs K of the E routed experts; everything else is used by every token.
  int64_t active_experts = 0;
  if (m.moe.num_experts > 0)
    active_experts = expert_elements / m.moe.num_experts * m.moe.experts_per_token;
  c.active_per_token = c.total - expert_elements + active_experts;
  return c;
}

}  // namespace zplan
