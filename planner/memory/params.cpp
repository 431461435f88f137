// Parameter table (see params.h). Shapes are written as Hugging Face stores them: nn.Linear
// [out, in], GPT-2's Conv1D [in, out] (qkv_projection c_attn); the element count is what the
// planner sums, the shape and name are what the runtime builds.
#include "planner/memory/params.h"

#include <algorithm>
#include <array>

#include "planner/memory/hf_names.h"

namespace zplan {

namespace {

// Appends rows of one model, filling the Hugging Face name and fused dimension of each.
class TableBuilder {
 public:
  explicit TableBuilder(const ModelSpec& m) : m_(m) {}

  void add(const std::string& name, TensorRole role, int64_t layer, std::vector<int64_t> shape,
           bool bias = false, bool expert = false) {
    int64_t elements = 1;
    for (int64_t d : shape) elements *= d;
    rows_.push_back({name, elements, layer, expert, role, bias, std::move(shape),
                     hf_parameter_name(m_, role, layer, bias), hf_fused_dim(m_, role, bias)});
  }
  // A projection from `in` to `out` features: [out, in] (nn.Linear) or [in, out] (Conv1D).
  void add_projection(const std::string& name, TensorRole role, int64_t layer, int64_t in, int64_t out) {
    add(name, role, layer, conv1d() ? std::vector<int64_t>{in, out} : std::vector<int64_t>{out, in});
  }
  bool conv1d() const { return m_.qkv_projection == QkvProjection::c_attn; }
  std::vector<ParamTensor> take() { return std::move(rows_); }

 private:
  const ModelSpec& m_;
  std::vector<ParamTensor> rows_;
};

// Rows of one normalisation layer: weight [dim] and, for LayerNorm, bias [dim].
void add_norm(TableBuilder& t, const ModelSpec& m, const std::string& name, TensorRole role, int64_t dim,
              int64_t layer) {
  t.add(name + ".weight", role, layer, {dim});
  if (m.norm == NormKind::layer_norm) t.add(name + ".bias", role, layer, {dim}, true);
}

void add_attention(TableBuilder& t, const ModelSpec& m, const std::string& p, int64_t l) {
  const int64_t C = m.hidden, Q = m.q_dim(), KVD = m.kv_dim(), HD = m.head_dim;
  t.add_projection(p + "attn.q", TensorRole::q, l, C, Q);    // [NH*HD, C]
  t.add_projection(p + "attn.k", TensorRole::k, l, C, KVD);  // [KV*HD, C]
  t.add_projection(p + "attn.v", TensorRole::v, l, C, KVD);  // [KV*HD, C]
  if (m.qkv_bias) {
    t.add(p + "attn.q_bias", TensorRole::q, l, {Q}, true);   // [NH*HD]
    t.add(p + "attn.k_bias", TensorRole::k, l, {KVD}, true); // [KV*HD]
    t.add(p + "attn.v_bias", TensorRole::v, l, {KVD}, true); // [KV*HD]
  }
  if (m.qk_norm) {
    t.add(p + "attn.q_norm", TensorRole::q_norm, l, {HD});   // [HD], shared by all heads
    t.add(p + "attn.k_norm", TensorRole::k_norm, l, {HD});   // [HD]
  }
  t.add_projection(p + "attn.o", TensorRole::o, l, Q, C);    // [C, NH*HD]
  if (m.out_bias) t.add(p + "attn.o_bias", TensorRole::o, l, {C}, true);  // [C]
}

// A dense MLP of inner size f (also used for the shared experts, `shared` true).
void add_dense_mlp(TableBuilder& t, const ModelSpec& m, const std::string& p, int64_t f, int64_t l,
                   bool shared) {
  const int64_t C = m.hidden;
  if (m.mlp == MlpKind::gelu_mlp) {
    const TensorRole fc = shared ? TensorRole::shared_fc : TensorRole::mlp_fc;
    const TensorRole proj = shared ? TensorRole::shared_proj : TensorRole::mlp_proj;
    t.add_projection(p + "fc", fc, l, C, f);                       // [F, C]
    if (m.out_bias) t.add(p + "fc_bias", fc, l, {f}, true);        // [F]
    t.add_projection(p + "proj", proj, l, f, C);                   // [C, F]
    if (m.out_bias) t.add(p + "proj_bias", proj, l, {C}, true);    // [C]
    return;
  }
  // swiglu/geglu: nn.Linear in every supported model.
  t.add(p + "gate", shared ? TensorRole::shared_gate : TensorRole::mlp_gate, l, {f, C});  // [F, C]
  t.add(p + "up", shared ? TensorRole::shared_up : TensorRole::mlp_up, l, {f, C});        // [F, C]
  t.add(p + "down", shared ? TensorRole::shared_down : TensorRole::mlp_down, l, {C, f});  // [C, F]
}

// Routed experts: router plus all E experts of each kind in one row.
void add_experts(TableBuilder& t, const ModelSpec& m, const std::string& p, int64_t l) {
  const int64_t C = m.hidden, E = m.moe.num_experts, FE = m.moe.expert_ffn;
  t.add(p + "router", TensorRole::router, l, {E, C});  // [E, C]
  if (m.mlp != MlpKind::gelu_mlp)
    t.add(p + "experts.gate", TensorRole::expert_gate, l, {E, FE, C}, false, true);  // [E, FE, C]
  t.add(p + "experts.up", TensorRole::expert_up, l, {E, FE, C}, false, true);        // [E, FE, C]
  t.add(p + "experts.down", TensorRole::expert_down, l, {E, C, FE}, false, true);    // [E, C, FE]
  // Shared experts (DeepSeek / Qwen2-MoE): one dense MLP of the combined inner size, and
  // Qwen2-MoE's gate on its output, nn.Linear(C, 1).
  if (m.moe.shared_experts > 0 && m.moe.shared_expert_ffn > 0) {
    add_dense_mlp(t, m, p + "shared.", m.moe.shared_expert_ffn, l, true);
    if (m.moe.shared_expert_gate) t.add(p + "shared_gate", TensorRole::shared_expert_gate, l, {1, C});  // [1, C]
  }
}

}  // namespace

bool is_norm(TensorRole role) {
  switch (role) {
    case TensorRole::attn_norm:
    case TensorRole::attn_post_norm:
    case TensorRole::mlp_norm:
    case TensorRole::mlp_post_norm:
    case TensorRole::q_norm:
    case TensorRole::k_norm:
    case TensorRole::final_norm: return true;
    default: return false;
  }
}

std::vector<ParamTensor> parameter_tensors(const ModelSpec& m) {
  TableBuilder t(m);
  const int64_t C = m.hidden;
  t.add("wte", TensorRole::token_embedding, -1, {m.vocab, C});  // [V, C]
  if (m.position == PositionKind::learned)
    t.add("wpe", TensorRole::position_embedding, -1, {m.max_positions, C});  // [P, C]
  for (int64_t l = 0; l < m.layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    add_norm(t, m, p + "attn_norm", TensorRole::attn_norm, C, l);  // input norm (ln_1)
    add_attention(t, m, p, l);
    if (m.sandwich_norm) add_norm(t, m, p + "attn_post_norm", TensorRole::attn_post_norm, C, l);
    add_norm(t, m, p + "mlp_norm", TensorRole::mlp_norm, C, l);    // pre-MLP norm (ln_2)
    if (m.layer_is_sparse(l))
      add_experts(t, m, p + "mlp.", l);
    else
      add_dense_mlp(t, m, p + "mlp.", m.ffn, l, false);
    if (m.sandwich_norm) add_norm(t, m, p + "mlp_post_norm", TensorRole::mlp_post_norm, C, l);
  }
  add_norm(t, m, "final_norm", TensorRole::final_norm, C, -1);     // ln_f
  if (!m.tied_embeddings) t.add("lm_head", TensorRole::lm_head, -1, {m.vocab, C});  // [V, C]
  return t.take();
}

std::vector<HfTensor> hf_tensors(const std::vector<ParamTensor>& table) {
  std::vector<HfTensor> out;
  for (size_t i = 0; i < table.size(); ++i) {
    const ParamTensor& row = table[i];
    if (!out.empty() && out.back().name == row.hf_name && row.hf_fused_dim >= 0) {
      out.back().shape[static_cast<size_t>(row.hf_fused_dim)] += row.shape[static_cast<size_t>(row.hf_fused_dim)];
      out.back().rows.push_back(i);
      out.back().elements += row.elements;
      continue;
    }
    out.push_back({row.hf_name, row.shape, {i}, row.elements});
  }
  return out;
}

namespace {

// Every field parameter_tensors() reads, so that two specs with equal keys have equal tables.
// Numbers, not a string: model_tables() is asked several times per search candidate.
struct TableKey {
  std::array<int64_t, 26> fields{};
  std::vector<int> dense_layers;
};

std::array<int64_t, 26> table_key_fields(const ModelSpec& m) {
  return {m.layers, m.hidden, m.heads, m.kv_heads, m.head_dim, m.ffn, m.vocab, m.max_positions,
          static_cast<int64_t>(m.norm), static_cast<int64_t>(m.mlp), static_cast<int64_t>(m.position),
          static_cast<int64_t>(m.qkv_projection), static_cast<int64_t>(m.fused_gate_up_proj),
          static_cast<int64_t>(m.tied_embeddings), static_cast<int64_t>(m.qk_norm),
          static_cast<int64_t>(m.qkv_bias), static_cast<int64_t>(m.out_bias),
          static_cast<int64_t>(m.sandwich_norm), static_cast<int64_t>(m.moe.num_experts),
          static_cast<int64_t>(m.moe.experts_per_token), m.moe.expert_ffn,
          static_cast<int64_t>(m.moe.shared_experts), m.moe.shared_expert_ffn,
          static_cast<int64_t>(m.moe.shared_expert_gate),
          static_cast<int64_t>(m.moe.first_dense_layers), static_cast<int64_t>(m.moe.sparse_step)};
}

}  // namespace

const ModelTables& model_tables(const ModelSpec& m) {
  thread_local TableKey key;
  thread_local ModelTables tables;
  const std::array<int64_t, 26> fields = table_key_fields(m);
  if (fields != key.fields || m.moe.dense_layers != key.dense_layers || tables.tensors.empty()) {
    tables.tensors = parameter_tensors(m);
    tables.counts = count_parameters(m);
    tables.hf = hf_tensors(tables.tensors);
    tables.block_rows.assign(static_cast<size_t>(std::max<int64_t>(m.layers, 0)), {});
    for (size_t i = 0; i < tables.tensors.size(); ++i)
      if (tables.tensors[i].layer >= 0) tables.block_rows[static_cast<size_t>(tables.tensors[i].layer)].push_back(i);
    key = {fields, m.moe.dense_layers};
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
    } else if (t.role == TensorRole::token_embedding || t.role == TensorRole::position_embedding) {
      c.embedding += t.elements;
    } else if (t.role == TensorRole::lm_head) {
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
