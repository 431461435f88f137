// ModelSpec: what the model is (architecture hyper-parameters), independent of how it is trained
// or on which machine. Loaded from models/*.yaml or a Hugging Face config.json (planner/io/).
//
// Dims used in comments across planner/: B = micro-batch, T = tokens per sequence (per rank after
// sequence parallelism), C = hidden size, L = layers, NH = query heads, KV = key/value heads,
// HD = head dim, F = FFN inner size, V = vocabulary, E = routed experts, K = experts per token.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace zplan {

// layer_norm: nn.LayerNorm (weight and bias). rms_norm: LlamaRMSNorm (x * rsqrt(mean(x^2) + eps)
// cast back to the input dtype, then * weight). gemma_rms_norm: Gemma3RMSNorm (the fp32
// normalised x times (1 + weight) in fp32, then cast back).
enum class NormKind { layer_norm, rms_norm, gemma_rms_norm };
// gelu_mlp: up -> GELU -> down (GPT-2).  swiglu: silu(gate) * up -> down (Llama, Qwen).
// geglu: gelu_tanh(gate) * up -> down (Gemma).
enum class MlpKind { gelu_mlp, swiglu, geglu };
enum class PositionKind { learned, rope };
// How q, k and v are projected (Hugging Face's modules decide the tensors and what attention keeps):
//  separate: q_proj, k_proj, v_proj (Llama, Qwen, Mistral, Gemma).
//  fused:    one nn.Linear qkv_proj [NH*HD + 2*KV*HD, C]; v stays a view of its output (Phi-3).
//  c_attn:   GPT-2's Conv1D c_attn [C, 3C]: q, k, v are split views of one output. GPT-2's
//            other projections (attention c_proj, MLP c_fc/c_proj) are Conv1D too, weights [in, out].
enum class QkvProjection { separate, fused, c_attn };

struct MoeSpec {
  // ---- routed experts ----
  int num_experts = 0;            // E; 0 means a dense model
  int experts_per_token = 0;      // K (top-k)
  int64_t expert_ffn = 0;         // inner size of one routed expert
  bool normalize_topk = true;     // renormalise the top-k router weights
  // ---- shared experts (DeepSeek / Qwen2-MoE style); 0 for Qwen3-MoE ----
  int shared_experts = 0;
  int64_t shared_expert_ffn = 0;  // inner size of the whole shared-expert MLP
  // Qwen2-MoE scales the shared expert's output by sigmoid(shared_expert_gate(x)), an nn.Linear
  // [1, C] per sparse layer; DeepSeek adds it unscaled.
  bool shared_expert_gate = false;
  // ---- which layers are sparse ----
  int first_dense_layers = 0;     // leading layers with a dense MLP (DeepSeek first_k_dense_replace)
  int sparse_step = 1;            // layer i (0-based) is sparse when (i+1) % sparse_step == 0
  std::vector<int> dense_layers;  // explicit dense layers (Qwen mlp_only_layers)
};

struct ModelSpec {
  // ---- identity ----
  std::string name;               // registry name, e.g. "qwen3-30b-a3b"
  // HF model_type ("gpt2", "llama", "qwen3", "qwen3_moe", "gemma3", ...): a label for reports.
  // Behaviour follows the fields below, never this string.
  std::string family;
  std::string source;             // file it was loaded from (for error messages)
  int64_t published_parameters = 0;  // total from the model card, 0 if unknown (tests compare)
  // ---- shape ----
  int64_t layers = 0;             // L
  int64_t hidden = 0;             // C
  int64_t heads = 0;              // NH
  int64_t kv_heads = 0;           // KV (== NH without GQA)
  int64_t head_dim = 0;           // HD (not always C / NH: Qwen3, Gemma-3)
  int64_t ffn = 0;                // F of the dense MLP
  int64_t vocab = 0;              // V (padded size as stored in the checkpoint)
  int64_t max_positions = 0;      // learned-position table size / context limit
  // ---- block details ----
  NormKind norm = NormKind::rms_norm;
  double norm_eps = 1e-6;         // epsilon of every norm (HF rms_norm_eps / layer_norm_epsilon)
  MlpKind mlp = MlpKind::swiglu;
  // GELU as transformers' "gelu_new" (NewGELUActivation: tanh formula as separate ops, which keep
  // four intermediates) rather than one fused op (F.gelu, "gelu"/"gelu_pytorch_tanh"). GPT-2's
  // default; only read for gelu_mlp.
  bool composite_gelu = false;
  PositionKind position = PositionKind::rope;
  double rope_theta = 10000.0;    // RoPE base frequency (HF rope_theta); unused for learned positions
  // Gemma 3: sliding-window layers rotate with their own base (rope_local_base_freq, 10000);
  // 0 = every layer uses rope_theta.
  double rope_local_theta = 0.0;
  // Linear RoPE scaling (rope_scaling {rope_type: linear, factor}) on the layers that use
  // rope_theta: inv_freq / factor (Gemma 3 4B-27B: 8). 1 = none.
  double rope_linear_factor = 1.0;
  // Attention scores are scaled by query_pre_attn_scalar^-0.5 (Gemma); 0 = head_dim^-0.5.
  double query_pre_attn_scalar = 0.0;
  QkvProjection qkv_projection = QkvProjection::separate;
  bool fused_gate_up_proj = false; // one gate_up_proj nn.Linear [2F, C] for the gated MLP (Phi-3)
  // Eager attention's softmax runs in fp32 and is cast back (Llama's softmax(dtype=float32));
  // false: in the input dtype (GPT-2's eager attention).
  bool attention_softmax_fp32 = true;
  bool tied_embeddings = false;   // lm_head shares the embedding matrix
  bool qk_norm = false;           // per-head RMSNorm on q and k (Qwen3, Gemma-3)
  bool qkv_bias = false;          // bias on q/k/v projections (GPT-2, Qwen2)
  bool out_bias = false;          // bias on attention output and MLP projections (GPT-2)
  bool sandwich_norm = false;     // extra post-attention and post-MLP norms (Gemma-2/3)
  bool scaled_embeddings = false; // embeddings multiplied by sqrt(C) (Gemma)
  // ---- sliding-window attention (Gemma-2/3, Mistral v0.1) ----
  int64_t sliding_window = 0;     // tokens a sliding layer attends to; 0 = every layer is global
  int sliding_window_pattern = 0; // every N-th layer (1-based) is global, the rest slide; 0 = all slide
  // ---- dropout (HF configs: resid_pdrop/attn_pdrop/embd_pdrop; 0 for modern LLMs) ----
  double hidden_dropout = 0.0;    // after attention/MLP outputs and embeddings (saves a mask)
  double attention_dropout = 0.0; // inside attention (flash keeps only an RNG state)
  // ---- mixture of experts ----
  MoeSpec moe;

  bool is_moe() const { return moe.num_experts > 0; }
  // True when layer `i` (0-based) uses routed experts rather than a dense MLP.
  bool layer_is_sparse(int64_t i) const;
  int64_t sparse_layer_count() const;
  // True when layer `i` (0-based) is a sliding-window layer (HF layer_types "sliding_attention"),
  // whatever the sequence length: Gemma 3 picks its RoPE base by this.
  bool layer_is_local(int64_t i) const {
    if (sliding_window <= 0) return false;
    return sliding_window_pattern <= 0 || (i + 1) % sliding_window_pattern != 0;
  }
  // True when layer `i` (0-based) uses a sliding window shorter than `seq` tokens (then attention
  // needs an explicit mask instead of the causal flag).
  bool layer_slides(int64_t i, int64_t seq) const { return seq > sliding_window && layer_is_local(i); }
  int64_t q_dim() const { return heads * head_dim; }
  int64_t kv_dim() const { return kv_heads * head_dim; }
};

}  // namespace zplan
