// The parameter table: one row per weight tensor of a ModelSpec (llm.c fill_in_parameter_sizes habit).
// Every parameter count in zplan (totals, per-layer sizes for ZeRO-3 gathers, the largest tensor
// for communication buffers, active parameters per token) is a sum over this one list, and the
// runtime (runtime/model) builds its modules from it, named as Hugging Face names them.
//
// Dims (see planner/config/model_spec.h): V vocab, P max_positions, C hidden, NH heads, KV kv_heads,
// HD head_dim, F dense ffn, E routed experts, FE expert ffn, FS shared-expert ffn.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "planner/config/model_spec.h"

namespace zplan {

// What a row is for. A norm or projection row is its weight, or its bias when ParamTensor::bias.
enum class TensorRole {
  token_embedding,     // wte / embed_tokens [V, C]
  position_embedding,  // wpe [P, C] (learned positions)
  attn_norm,           // norm before attention (ln_1, input_layernorm)
  attn_post_norm,      // norm after attention (Gemma's post_attention_layernorm)
  mlp_norm,            // norm before the MLP (ln_2, post_attention_layernorm, pre_feedforward_layernorm)
  mlp_post_norm,       // norm after the MLP (Gemma's post_feedforward_layernorm)
  q, k, v, o,          // attention projections
  q_norm, k_norm,      // per-head norms on q and k [HD]
  mlp_fc, mlp_proj,    // GELU MLP (GPT-2 c_fc, c_proj)
  mlp_gate, mlp_up, mlp_down,           // gated MLP
  router,                               // MoE router [E, C]
  expert_gate, expert_up, expert_down,  // all E routed experts of one kind
  shared_fc, shared_proj, shared_gate, shared_up, shared_down,  // shared-expert MLP
  shared_expert_gate,  // Qwen2-MoE's sigmoid gate on the shared expert [1, C]
  final_norm,          // ln_f / model.norm
  lm_head,             // [V, C], absent when tied to the embedding
};

// The normalisation weights (and LayerNorm biases): attn/mlp norms, their post norms, q/k norms, final norm.
bool is_norm(TensorRole role);

struct ParamTensor {
  std::string name;            // zplan's row name, e.g. "wte", "layers.3.attn.q", "layers.3.mlp.experts.gate"
  int64_t elements;            // product of shape
  int64_t layer;               // transformer block index, -1 outside blocks (embeddings, final norm, lm_head)
  bool expert;                 // a routed-expert weight (only K of its E experts are used per token)
  TensorRole role;
  bool bias;                   // the bias of that role's module, not its weight
  std::vector<int64_t> shape;  // as Hugging Face stores it: nn.Linear [out, in], GPT-2 Conv1D [in, out]
  // The parameter's name in transformers' model (its state_dict key). Consecutive rows with the
  // same hf_name are one fused tensor, concatenated along hf_fused_dim in table order (GPT-2's
  // c_attn holds q, k and v; experts.gate_up_proj holds the experts' gate and up).
  std::string hf_name;
  int hf_fused_dim;            // -1 when the row is a whole tensor
};

// Rows in model order: wte, wpe, then for each block its norms, attention and MLP tensors, then the
// final norm and lm_head (omitted when tied). Routed experts are one row per layer per kind holding
// all E experts (E*FE*C elements).
std::vector<ParamTensor> parameter_tensors(const ModelSpec& m);

// One tensor as transformers (and zplan's runtime) hold it: a run of rows sharing an hf_name.
struct HfTensor {
  std::string name;            // hf_name of its rows
  std::vector<int64_t> shape;  // the rows' shapes concatenated along their hf_fused_dim
  std::vector<size_t> rows;    // indices into the table, in order
  int64_t elements = 0;        // of all its rows: the tensor as one allocation
};
std::vector<HfTensor> hf_tensors(const std::vector<ParamTensor>& table);

struct ParamCounts {
  int64_t total = 0;               // every row
  int64_t embedding = 0;           // wte + wpe
  int64_t lm_head = 0;             // 0 when tied to wte
  int64_t final_norm = 0;          // weight (+ bias for LayerNorm)
  int64_t per_layer_max = 0;       // largest entry of per_layer
  int64_t largest_tensor = 0;      // largest single row
  std::vector<int64_t> per_layer;  // per block, size L
  int64_t active_per_token = 0;    // total with routed-expert rows scaled by K/E
};

// Computed only by summing parameter_tensors(m).
ParamCounts count_parameters(const ModelSpec& m);

// The table and its sums for the model last asked about, memoised per thread: the planner's
// search estimates hundreds of strategies of one model and should not rebuild them each time.
struct ModelTables {
  std::vector<ParamTensor> tensors;
  ParamCounts counts;
  std::vector<HfTensor> hf;  // hf_tensors(tensors), built once per model (the search asks per candidate)
  // Rows of each block (indices into tensors), in table order: the step simulation walks a
  // block's gradients once per layer of every timeline it builds.
  std::vector<std::vector<size_t>> block_rows;  // size L
};
const ModelTables& model_tables(const ModelSpec& m);

}  // namespace zplan
