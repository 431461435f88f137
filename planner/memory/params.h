// The parameter table: one row per weight tensor of a ModelSpec (llm.c fill_in_parameter_sizes habit).
// Every parameter count in zplan (totals, per-layer sizes for ZeRO-3 gathers, the largest tensor
// for communication buffers, active parameters per token) is a sum over this one list.
//
// Dims (see planner/config/model_spec.h): V vocab, P max_positions, C hidden, NH heads, KV kv_heads,
// HD head_dim, F dense ffn, E routed experts, FE expert ffn, FS shared-expert ffn.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "planner/config/model_spec.h"

namespace zplan {

struct ParamTensor {
  std::string name;  // e.g. "wte", "layers.3.attn.q", "layers.3.experts.gate"
  int64_t elements;  // product of the shape (written as a comment where the row is made)
  int64_t layer;     // transformer block index, -1 outside blocks (embeddings, final norm, lm_head)
  bool expert;       // a routed-expert weight (only K of its E experts are used per token)
};

// Rows in model order: wte, wpe, then for each block its norms, attention and MLP tensors, then the
// final norm and lm_head (omitted when tied). Routed experts are one row per layer per kind holding
// all E experts (E*FE*C elements).
std::vector<ParamTensor> parameter_tensors(const ModelSpec& m);

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
};
const ModelTables& model_tables(const ModelSpec& m);

}  // namespace zplan
