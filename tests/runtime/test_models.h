// test_models.h: tiny ModelSpecs for the runtime's CPU tests (one per block family), and the
// quiet CPU run options they train with.
#pragma once
#include "planner/config/model_spec.h"
#include "runtime/run_api.h"

namespace zplan::test {

// `steps` optimizer steps on the CPU, no per-step lines.
inline RunOptions quiet_cpu_run(int steps) {
  RunOptions o;
  o.steps = steps;
  o.verbose = false;
  o.device = "cpu";
  return o;
}

inline ModelSpec tiny_qwen3() {
  ModelSpec s;
  s.name = "tiny-qwen3"; s.family = "qwen3";
  s.layers = 2; s.hidden = 32; s.heads = 4; s.kv_heads = 2; s.head_dim = 16; s.ffn = 48;
  s.vocab = 64; s.max_positions = 128;
  s.norm = NormKind::rms_norm; s.mlp = MlpKind::swiglu; s.position = PositionKind::rope;
  s.qk_norm = true; s.rope_theta = 1e6; s.norm_eps = 1e-6;
  return s;
}

inline ModelSpec tiny_llama() {  // Llama/Qwen2 style: no q/k norm, biased qkv, tied head
  ModelSpec s = tiny_qwen3();
  s.name = "tiny-llama"; s.family = "llama";
  s.qk_norm = false; s.qkv_bias = true; s.tied_embeddings = true; s.head_dim = 8; s.rope_theta = 5e5;
  return s;
}

inline ModelSpec tiny_gpt2() {
  ModelSpec s;
  s.name = "tiny-gpt2"; s.family = "gpt2";
  s.layers = 2; s.hidden = 32; s.heads = 4; s.kv_heads = 4; s.head_dim = 8; s.ffn = 128;
  s.vocab = 64; s.max_positions = 64;
  s.norm = NormKind::layer_norm; s.mlp = MlpKind::gelu_mlp; s.position = PositionKind::learned;
  s.tied_embeddings = true; s.qkv_bias = true; s.out_bias = true; s.norm_eps = 1e-5;
  s.qkv_projection = QkvProjection::c_attn; s.attention_softmax_fp32 = false;
  return s;
}

inline ModelSpec tiny_moe() {
  ModelSpec s = tiny_qwen3();
  s.name = "tiny-qwen3-moe"; s.family = "qwen3_moe";
  s.moe.num_experts = 8; s.moe.experts_per_token = 2; s.moe.expert_ffn = 24;
  s.moe.normalize_topk = true;
  return s;
}

inline ModelSpec tiny_phi3() {  // fused qkv_proj [(NH + 2KV)*HD, C] and gate_up_proj [2F, C]
  ModelSpec s = tiny_qwen3();
  s.name = "tiny-phi3"; s.family = "phi3";
  s.qk_norm = false; s.kv_heads = 4; s.head_dim = 8; s.rope_theta = 1e4; s.norm_eps = 1e-5;
  s.qkv_projection = QkvProjection::fused; s.fused_gate_up_proj = true;
  return s;
}

inline ModelSpec tiny_qwen2_moe() {  // Qwen1.5/2-MoE: biased qkv, shared expert with a sigmoid gate
  ModelSpec s = tiny_moe();
  s.name = "tiny-qwen2-moe"; s.family = "qwen2_moe";
  s.qk_norm = false; s.qkv_bias = true;
  s.moe.normalize_topk = false;  // Qwen1.5-MoE-A2.7B's norm_topk_prob
  s.moe.shared_experts = 1; s.moe.shared_expert_ffn = 40; s.moe.shared_expert_gate = true;
  return s;
}

// Gemma 3: sandwich norms, (1 + w) RMSNorm, scaled embeddings, GeGLU, tied head; layers 0 and 2
// slide (window 5) with the local RoPE base, layer 1 is global with linear scaling; scores scaled
// by query_pre_attn_scalar^-0.5 (24, not head_dim 16).
inline ModelSpec tiny_gemma3() {
  ModelSpec s = tiny_qwen3();
  s.name = "tiny-gemma3"; s.family = "gemma3";
  s.layers = 3; s.norm = NormKind::gemma_rms_norm; s.mlp = MlpKind::geglu;
  s.sandwich_norm = true; s.scaled_embeddings = true; s.tied_embeddings = true;
  s.sliding_window = 5; s.sliding_window_pattern = 2;
  s.rope_theta = 1e6; s.rope_local_theta = 1e4; s.rope_linear_factor = 4.0; s.query_pre_attn_scalar = 24;
  return s;
}

}  // namespace zplan::test
