// blocks.h: the op-level building blocks of zplan's runtime model, written to issue the SAME ATen
// ops in the SAME dtypes as Hugging Face transformers 5.17's modelling code, so that one op-level
// table of saved tensors (docs/runtime.md) predicts both. Each function names the HF code it mirrors.
//
// Dims: B = micro-batch, T = tokens, C = hidden, NH = query heads, KV = key/value heads,
// HD = head dim, F = MLP inner size, V = vocab, E = routed experts, K = experts per token,
// N = B*T tokens, S = N*K token-expert pairs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/torch_compat.h"

namespace zplan::rt {

// ---- normalisation ----
// LlamaRMSNorm / Qwen3RMSNorm: upcast to fp32, x * rsqrt(mean(x^2) + eps), cast back, * weight.
at::Tensor rms_norm_hf(const at::Tensor& x, const at::Tensor& weight, double eps);
// nn.LayerNorm (GPT-2 ln_1/ln_2/ln_f): one fused op in the input dtype.
at::Tensor layer_norm_hf(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                         double eps);

// ---- projections ----
// nn.Linear: weight [out, in], optional bias. save_param: a custom autograd function that saves the
// weight Variable itself rather than at::linear's transposed view of it, so that ZeRO-3 can release
// the weight's storage after forward and gather it again before backward (a saved view would keep
// the gathered storage alive; DeepSpeed replaces F.linear for the same reason). Same saved bytes.
at::Tensor linear_hf(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                     bool save_param = false);
// GPT-2 Conv1D: weight [in, out]; addmm(bias, x.view(-1, in), weight).view(..., out).
at::Tensor conv1d_hf(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// ---- activations ----
// NewGELUActivation ("gelu_new"): 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3))), written out op by op.
at::Tensor gelu_new(const at::Tensor& x);

// ---- rotary embeddings ----
// LlamaRotaryEmbedding.forward: cos/sin [B, T, HD] in `dtype`, computed in fp32 without autograd.
// linear_factor != 1: linear scaling (_compute_linear_scaling_rope_parameters: inv_freq / factor).
struct RopeTables {
  at::Tensor cos;  // [B, T, HD]
  at::Tensor sin;  // [B, T, HD]
};
RopeTables rope_tables(int64_t batch, int64_t tokens, int64_t head_dim, double theta,
                       at::ScalarType dtype, at::Device device, double linear_factor = 1.0);
// apply_rotary_pos_emb for one of q/k: x [B, H, T, HD] -> x*cos + rotate_half(x)*sin; zplan_kernel:
// as one kernel (fused_elementwise.h) where it takes x and the tables.
at::Tensor apply_rope(const at::Tensor& x, const RopeTables& rope, bool zplan_kernel = false);

// ---- attention core ----
// q [B, NH, T, HD], k/v [B, KV, T, HD] -> [B, T, NH, HD] (HF transposes back before o_proj).
// sdpa: at::scaled_dot_product_attention(is_causal, enable_gqa) as HF's sdpa_attention_forward.
// eager: HF eager_attention_forward (repeat_kv, matmul*scale + additive causal mask, fp32 softmax
// cast back, dropout, matmul). `causal_mask` is the [T, T] additive mask in the compute dtype
// (eager only). dropout_p > 0: SDPA's dropout_p / HF's dropout on the attention probabilities.
// sdpa_mask (sdpa only): a boolean [B, 1, T, T] mask (true = attend) for sliding-window layers:
// k and v are repeated to NH heads and SDPA runs without is_causal, as HF does with a mask.
at::Tensor attention_core(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          double scale, bool use_sdpa, const at::Tensor& causal_mask,
                          double dropout_p = 0.0, const at::Tensor& sdpa_mask = at::Tensor());
// window > 0: also masks keys `window` or more tokens behind the query (transformers'
// sliding_window_overlay: key > query - window), so each query sees at most `window` tokens.
at::Tensor causal_mask_additive(int64_t tokens, at::ScalarType dtype, at::Device device,
                                int64_t window = 0);
// The same window as a boolean [B, 1, T, T] mask, true where a query attends (sdpa).
at::Tensor sliding_mask_bool(int64_t batch, int64_t tokens, int64_t window, at::Device device);

// ---- MLPs ----
// LlamaMLP: down(act(gate(x)) * up(x)); act = silu (swiglu) or gelu tanh (geglu). zplan_swiglu:
// silu(gate) * up as zplan's kernel (fused_elementwise.h) where it takes the tensors (not geglu).
at::Tensor gated_mlp(const at::Tensor& x, const at::Tensor& gate_w, const at::Tensor& up_w,
                     const at::Tensor& down_w, bool gelu_tanh, bool save_params = false, bool zplan_swiglu = false);
// Phi3MLP: gate, up = gate_up_proj(x).chunk(2, -1); down(up * act(gate)). gate_up_w [2F, C].
at::Tensor fused_gated_mlp(const at::Tensor& x, const at::Tensor& gate_up_w, const at::Tensor& down_w,
                           bool gelu_tanh, bool save_params = false, bool zplan_swiglu = false);
// GPT2MLP: c_proj(gelu_new(c_fc(x))), Conv1D layout.
at::Tensor gpt2_mlp(const at::Tensor& x, const at::Tensor& fc_w, const at::Tensor& fc_b,
                    const at::Tensor& proj_w, const at::Tensor& proj_b);

// ---- mixture of experts (Qwen3-MoE, Qwen2-MoE; transformers 5.17 default experts_implementation) ----
// Router (Qwen3MoeTopKRouter): linear -> softmax in fp32 -> top-k -> renormalise -> cast back.
struct RouterOutput {
  at::Tensor weights;  // [N, K] in the router logits' dtype
  at::Tensor experts;  // [N, K] int64
};
RouterOutput moe_router(const at::Tensor& x2d, const at::Tensor& router_w, int64_t top_k,
                        bool normalize, bool save_params = false);
// grouped_mm_experts_forward: gather token copies, sort by expert, grouped gate_up projection,
// silu(gate)*up, grouped down projection, * routing weight, unsort, sum over K.
// x2d [N, C]; gate_up [E, 2F, C]; down [E, C, F]. Returns [N, C]. use_grouped_mm: one
// at::_grouped_mm per projection (CUDA, libtorch >= 2.9); otherwise the per-expert loop
// (grouped_linear).
at::Tensor moe_experts_grouped(const at::Tensor& x2d, const RouterOutput& route,
                               const at::Tensor& gate_up, const at::Tensor& down, bool use_grouped_mm);
// Qwen2MoeSparseMoeBlock's shared expert: a SwiGLU MLP on x2d [N, C], scaled by
// sigmoid(shared_expert_gate(x2d)) when gate_w [1, C] is defined. Returns [N, C].
at::Tensor moe_shared_expert(const at::Tensor& x2d, const at::Tensor& gate_w, const at::Tensor& up_w,
                             const at::Tensor& down_w, const at::Tensor& shared_expert_gate_w,
                             bool save_params = false);
// Grouped linear over rows sorted by expert: out[rows of e] = in[rows of e] @ weight[e]^T.
// input [S, in], weight [E, out, in], rows_per_expert (host) sums to S. A custom autograd
// function that saves (input, weight) like torch._grouped_mm, so the weight gradient is one
// [E, out, in] tensor rather than one full-size zeros tensor per expert (select_backward).
at::Tensor grouped_linear(const at::Tensor& input, const at::Tensor& weight,
                          const std::vector<int64_t>& rows_per_expert);

}  // namespace zplan::rt
