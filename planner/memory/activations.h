// What one transformer block saves for backward, as a list of tensors (llm.c
// fill_in_activation_sizes habit): one row per tensor an autograd node keeps alive from the block's
// forward until its backward. Rows follow the op sequence of Hugging Face transformers' modelling
// code (which zplan's runtime mirrors), op by op, with the dtype each op produces under each
// precision recipe; docs/memory-model.md lists them with their sources.
//
// Dims: t = B*T/SP tokens on this rank, C hidden, F FFN, qd = NH*HD, kd = KV*HD, V vocab.
// Recompute: a checkpointed layer keeps only its input (one row); while it is recomputed in
// backward its full row set exists once more (planner/memory/timeline.cpp), so the checkpoint
// policy changes row sizes, never the code path.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "planner/config/model_spec.h"
#include "planner/memory/exec_context.h"

namespace zplan {

// One tensor (or `count` equal tensors) of a block.
struct TensorRow {
  std::string name;
  int64_t bytes_per_token = 0;     // scales with t
  int64_t bytes_per_sequence = 0;  // scales with B (eager attention's T x T terms, per rank)
  int64_t fixed_bytes = 0;         // independent of tokens (e.g. AMP's 16-bit weight casts)
  int64_t count = 1;               // separate allocations the bytes are split into (allocator)

  uint64_t bytes(int64_t tokens, int64_t batch) const {
    return static_cast<uint64_t>(bytes_per_token * tokens + bytes_per_sequence * batch + fixed_bytes);
  }
};

struct BlockActivations {
  std::vector<TensorRow> saved;               // kept for backward
  std::vector<TensorRow> forward_transient;   // extra live tensors at the block's forward peak
  std::vector<TensorRow> backward_transient;  // gradient working set at the block's backward peak
};

uint64_t sum_bytes(const std::vector<TensorRow>& rows, int64_t tokens, int64_t batch);

// Rows of decoder layer `layer` (dense or MoE by the model's layer pattern).
BlockActivations block_activations(const ModelSpec& m, int64_t layer, const ExecContext& c);

// Whether this model's norms run through at::_fused_rms_norm: the Llama/Qwen RMSNorm kind in a
// context that fuses it (ExecContext::fused_rms_norm); Gemma's (1 + w) norm and LayerNorm do not.
bool runs_fused_rms_norm(const ModelSpec& m, const ExecContext& c);

// Rows of a checkpointed layer: only its input (the residual stream tensor).
std::vector<TensorRow> checkpointed_block_saved(const ModelSpec& m, const ExecContext& c);

// Outside the blocks: embedding output and its dropout mask, RoPE cos/sin, eager mask,
// final norm and the lm_head input.
BlockActivations stem_activations(const ModelSpec& m, const ExecContext& c);

}  // namespace zplan
