// Hugging Face families added beyond the built-in models: Phi-3 (fused qkv_proj) and Qwen2-MoE
// (shared expert), read from config.json fixtures in tests/data/hf/, and Mistral's sliding window.
#include <doctest/doctest.h>

#include "planner/io/hf_config.h"
#include "planner/io/model_loader.h"
#include "planner/memory/activations.h"
#include "planner/memory/params.h"

using namespace zplan;

TEST_CASE("Phi-3-mini's config.json gives its published 3,821,079,552 parameters") {
  const ModelSpec m = load_hf_config_file(std::string(ZPLAN_SOURCE_DIR) + "/tests/data/hf/phi-3-mini-4k.json");
  CHECK(m.family == "phi3");
  CHECK(m.qkv_projection == QkvProjection::fused);
  CHECK(m.fused_gate_up_proj);
  CHECK(count_parameters(m).total == 3821079552);
}

TEST_CASE("Phi-3's fused qkv_proj keeps the whole projection alive through SDPA's saved v") {
  ModelSpec fused = load_hf_config_file(std::string(ZPLAN_SOURCE_DIR) + "/tests/data/hf/phi-3-mini-4k.json");
  ModelSpec separate = fused;
  separate.qkv_projection = QkvProjection::separate;
  TrainingSpec t;
  t.seq_len = 4096;
  t.profile = Profile::hf;
  Strategy s;
  const ExecContext c = make_exec_context(t, s, 1);
  const uint64_t a = sum_bytes(block_activations(fused, 0, c).saved, 4096, 1);
  const uint64_t b = sum_bytes(block_activations(separate, 0, c).saved, 4096, 1);
  CHECK(a - b == 2ull * 4096 * static_cast<uint64_t>(fused.q_dim() + fused.kv_dim()));
  // zplan's runtime projects q, k, v as transformers does (one matmul, v a view): the same row.
  t.profile = Profile::zplan;
  const ExecContext z = make_exec_context(t, s, 1);
  CHECK(sum_bytes(block_activations(fused, 0, z).saved, 4096, 1) - sum_bytes(block_activations(separate, 0, z).saved, 4096, 1) ==
        a - b);
  // Ulysses' all-to-all makes new q, k, v: nothing of qkv_proj's output is kept.
  s.sp_degree = 2;
  const ExecContext u = make_exec_context(t, s, 2);
  CHECK(sum_bytes(block_activations(fused, 0, u).saved, 2048, 1) == sum_bytes(block_activations(separate, 0, u).saved, 2048, 1));
}

TEST_CASE("Phi-3's fused gate_up_proj keeps as many MLP bytes as separate gate and up, in one tensor") {
  const ModelSpec fused = load_hf_config_file(std::string(ZPLAN_SOURCE_DIR) + "/tests/data/hf/phi-3-mini-4k.json");
  ModelSpec separate = fused;
  separate.fused_gate_up_proj = false;
  TrainingSpec t;
  t.seq_len = 1024;
  const ExecContext c = make_exec_context(t, Strategy{}, 1);
  const std::vector<TensorRow> rows = block_activations(fused, 0, c).saved;
  CHECK(sum_bytes(rows, 1024, 1) == sum_bytes(block_activations(separate, 0, c).saved, 1024, 1));
  bool one_tensor = false;
  for (const TensorRow& r : rows) one_tensor |= r.name == "mlp.gate_up_out" && r.bytes_per_token == 2 * 2 * fused.ffn;
  CHECK(one_tensor);
}

TEST_CASE("Qwen1.5-MoE-A2.7B's config.json gives its published 14,315,784,192 parameters") {
  // Only with Qwen2-MoE's shared_expert_gate [1, C] in each of the 24 layers.
  const ModelSpec m = load_hf_config_file(std::string(ZPLAN_SOURCE_DIR) + "/tests/data/hf/qwen1.5-moe-a2.7b.json");
  CHECK(m.moe.shared_expert_gate);
  CHECK_FALSE(m.moe.normalize_topk);  // norm_topk_prob false
  CHECK(count_parameters(m).total == 14315784192);
}

TEST_CASE("Qwen2-MoE has routed and shared experts in every sparse layer") {
  const ModelSpec m = load_hf_config_file(std::string(ZPLAN_SOURCE_DIR) + "/tests/data/hf/qwen1.5-moe-a2.7b.json");
  CHECK(m.family == "qwen2_moe");
  CHECK(m.moe.num_experts == 60);
  CHECK(m.moe.shared_experts == 1);
  CHECK(m.moe.shared_expert_ffn == 5632);
  CHECK(m.sparse_layer_count() == m.layers);
  // Active parameters: 4 of 60 routed experts plus the shared expert and everything else.
  const ParamCounts pc = count_parameters(m);
  CHECK(pc.active_per_token < pc.total / 4);
}

TEST_CASE("Mistral beyond its sliding window: zplan's runtime keeps SDPA's bias and repeated k, v") {
  const ModelSpec m = load_model("mistral-7b");  // window 4096, 32 query and 8 KV heads
  TrainingSpec t;
  t.profile = Profile::zplan;
  Strategy s;
  auto bytes = [&](int64_t seq) {
    t.seq_len = seq;
    const ExecContext c = make_exec_context(t, s, 1);
    return sum_bytes(block_activations(m, 0, c).saved, seq, 1);
  };
  const uint64_t qd = static_cast<uint64_t>(m.q_dim()), kd = static_cast<uint64_t>(m.kv_dim());
  // Per token at 4096 (no mask) against 8192 (masked): k, v repeated to NH heads (2·(qd-kd) more)
  // and the bf16 [T, T] bias per sequence.
  CHECK(bytes(8192) - 2 * bytes(4096) == 2ull * 8192 * 8192 + 2ull * 8192 * 2 * (qd - kd));
}
