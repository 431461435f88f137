// DeepSpeed 0.19 GPU buffers sized from the parameter table (see deepspeed_gpu_buffers.h).
#include "planner/memory/deepspeed_gpu_buffers.h"

#include <algorithm>

namespace zplan {

int64_t largest_parameter_elements(const ModelTables& tables) {
  int64_t largest = 0;
  for (const HfTensor& h : tables.hf) largest = std::max(largest, h.elements);
  return largest;
}

uint64_t zero12_offload_gpu_grad_buffer_bytes(const ModelTables& tables, int grad_bytes) {
  return static_cast<uint64_t>(largest_parameter_elements(tables)) * static_cast<uint64_t>(grad_bytes);
}

Zero3Retention zero3_reuse_retention(const std::vector<ParamTensor>& tensors, int64_t blocks, bool tied_embeddings,
                                     int64_t persistence_threshold, int64_t max_reuse_distance) {
  Zero3Retention r;
  r.block_elements.assign(static_cast<size_t>(std::max<int64_t>(blocks, 0)), 0);
  std::vector<int64_t> block_total(r.block_elements.size(), 0);
  int64_t embedding = 0, final_norm = 0, lm_head = 0;
  for (const ParamTensor& t : tensors) {
    if (t.layer >= 0 && t.layer < blocks) block_total[static_cast<size_t>(t.layer)] += t.elements;
    else if (t.role == TensorRole::token_embedding) embedding += t.elements;
    else if (t.role == TensorRole::lm_head) lm_head += t.elements;
    else if (t.role == TensorRole::final_norm) final_norm += t.elements;
  }
  if (tied_embeddings) lm_head = embedding;  // the lm_head module's weight is the embedding
  int64_t all_blocks = 0;
  for (int64_t e : block_total) all_blocks += e;

  // Elements of the trace after block l's forward up to its backward: the later blocks, the
  // final norm and the lm_head, each twice (forward then backward).
  std::vector<int64_t> later(block_total.size(), 0);
  int64_t acc = 0;
  for (size_t l = block_total.size(); l-- > 0;) {
    later[l] = acc;
    acc += block_total[l];
  }
  // Walk each block's tensors from its last (forward order of the table) to its first: a tensor
  // waits for the tensors after it in its block, twice, too.
  std::vector<int64_t> after_in_block(block_total.size(), 0);
  for (size_t i = tensors.size(); i-- > 0;) {
    const ParamTensor& t = tensors[i];
    if (t.layer < 0 || t.layer >= blocks) continue;
    const size_t l = static_cast<size_t>(t.layer);
    const int64_t distance = 2 * (after_in_block[l] + later[l] + final_norm + lm_head);
    if (t.elements >= persistence_threshold && distance < max_reuse_distance) r.block_elements[l] += t.elements;
    after_in_block[l] += t.elements;
  }
  // The token embedding: tied, its next use is the lm_head at the forward's end (then the lm_head's
  // backward, then the embedding's backward after all blocks again); untied, the embedding's own
  // backward at the very end.
  const int64_t embedding_distance =
      tied_embeddings ? all_blocks + final_norm : 2 * (all_blocks + final_norm + lm_head);
  if (embedding >= persistence_threshold && embedding_distance < max_reuse_distance) r.embedding_elements = embedding;
  return r;
}

}  // namespace zplan
