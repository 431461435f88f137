// DeepSpeed 0.19 GPU buffers sized from the parameter table (planner/memory/deepspeed_gpu_buffers.h),
// each checked against the formula of DeepSpeed's source for a stated model.
#include <doctest/doctest.h>

#include "planner/io/model_loader.h"
#include "planner/memory/deepspeed_gpu_buffers.h"
#include "planner/memory/params.h"

using namespace zplan;

namespace {
const ModelTables& table(const char* model) { return model_tables(load_model(model)); }
}  // namespace

TEST_CASE("ZeRO-1/2 offload: temp_grad_buffer_for_gpu_offload is the largest parameter in 16-bit") {
  // stage_1_and_2.py: torch.zeros(largest_param_numel, dtype=bf16, device=GPU).
  // Qwen3-0.6B: the (tied) embedding 151936 x 1024.
  CHECK(largest_parameter_elements(table("qwen3-0.6b")) == 151936LL * 1024);
  CHECK(zero12_offload_gpu_grad_buffer_bytes(table("qwen3-0.6b"), 2) == 151936ULL * 1024 * 2);
  // Llama-3.2-1B: the embedding 128256 x 2048 = 525,336,576 bytes in bf16.
  CHECK(zero12_offload_gpu_grad_buffer_bytes(table("llama-3.2-1b"), 2) == 525'336'576ULL);
  // Qwen3-30B-A3B: experts.gate_up_proj, one fused tensor of 128 experts x (2 x 768) x 2048, larger
  // than the embedding (151936 x 2048).
  CHECK(largest_parameter_elements(table("qwen3-30b")) == 128LL * 2 * 768 * 2048);
}

TEST_CASE("ZeRO-3 keeps a block gathered when the trace reuses it within max_reuse_distance") {
  // Qwen3-0.6B, defaults (persistence 1e5, reuse distance 1e9). A block holds 15,728,640
  // non-persistent elements (q 2048x1024, k and v 1024x1024, o 1024x2048, gate/up/down 3072x1024);
  // the tied lm_head 155,582,464. A tensor of block l is reused after 2 x (the tensors after it in
  // the block + (27 - l) blocks + 1,024 final norm + 155,582,464 lm_head) elements. Block 6's
  // first tensor, q_proj: 2 x (13,633,792 + 2,304 norms + 21 x 15,728,640 + 1,024 + 155,582,464)
  // = 999.0M < 1e9, kept. Block 5's last, down_proj: 2 x (22 x 15,728,640 + 1,024 + 155,582,464)
  // = 1,003.2M, released.
  const Zero3Retention r = zero3_reuse_retention(table("qwen3-0.6b").tensors, 28, true, 100'000, 1'000'000'000);
  REQUIRE(r.block_elements.size() == 28);
  CHECK(r.block_elements[27] == 15'728'640);
  CHECK(r.block_elements[6] == 15'728'640);
  CHECK(r.block_elements[5] == 0);
  CHECK(r.block_elements[0] == 0);
  // A threshold between block 6's down_proj (2 x 485,889,472 = 971.8M) and its q_proj keeps only
  // a suffix of the block: down_proj, up_proj, gate_proj and what follows q_proj's reuse point.
  const Zero3Retention part = zero3_reuse_retention(table("qwen3-0.6b").tensors, 28, true, 100'000, 980'000'000);
  CHECK(part.block_elements[6] > 0);
  CHECK(part.block_elements[6] < 15'728'640);
  CHECK(part.block_elements[7] == 15'728'640);
  // The tied embedding: next used by the lm_head after all 28 blocks and the final norm (440M).
  CHECK(r.embedding_elements == 151936LL * 1024);

  // stage3_max_reuse_distance 0: every release happens, nothing is kept.
  const Zero3Retention none = zero3_reuse_retention(table("qwen3-0.6b").tensors, 28, true, 100'000, 0);
  for (int64_t e : none.block_elements) CHECK(e == 0);
  CHECK(none.embedding_elements == 0);
}
