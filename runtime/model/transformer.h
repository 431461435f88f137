// transformer.h: a decoder-only language model built from a ModelSpec (the same struct the planner
// predicts from): GPT-2 style (LayerNorm, learned positions, Conv1D, gelu_new), Llama/Qwen3 style
// (RMSNorm, RoPE, GQA, q/k norm, SwiGLU; Phi-3's fused qkv_proj and gate_up_proj), Qwen3-MoE
// sparse layers and Qwen2-MoE's gated shared expert, sliding-window layers (Mistral), Gemma 3
// (gemma_blocks.h: sandwich norms, (1 + w) RMSNorm, scaled embeddings, local/global RoPE), with activation
// checkpointing of the first N layers (optionally keeping the checkpointed inputs in pinned host
// memory) and Hugging Face's ForCausalLMLoss.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "planner/config/model_spec.h"
#include "runtime/model/blocks.h"
#include "runtime/model/ulysses.h"

namespace zplan::rt {

struct CheckpointSlot;  // what the checkpoint autograd function needs to re-run one layer

struct NamedParam {
  std::string name;   // Hugging Face's state_dict key, e.g. "model.layers.3.self_attn.q_proj.weight"
  at::Tensor tensor;  // leaf with requires_grad; its .grad() is the gradient
  int64_t group = 0;  // decoder layer index, or layers (= the last group) for embeddings/norm/head
};

// Called around each parameter group's use (ZeRO-3 gathers and releases parameters there; ZeRO-2
// reduces a layer's gradients once its backward is done). Groups: 0..L-1 the decoder layers, L
// the rest (embeddings, final norm, head), whose before_forward comes first in forward; its
// backward end is the caller's (the trainer's) to signal. before/after_backward of a layer are
// autograd nodes on the layer's output and input, so they run just before and just after its
// backward (its recompute included, for checkpointed layers).
class ParamGroupHooks {
 public:
  virtual ~ParamGroupHooks() = default;
  virtual void before_forward(int64_t group) = 0;
  virtual void after_forward(int64_t group) = 0;
  virtual void before_backward(int64_t group) = 0;
  virtual void after_backward(int64_t group) = 0;
};

struct BuildOptions {
  at::ScalarType dtype = at::kFloat;   // parameter and compute dtype (bf16/fp16/fp32 recipes)
  at::Device device = at::kCPU;
  bool use_sdpa = false;               // fused SDPA (2.x) rather than HF's eager attention
  int64_t checkpointed_layers = 0;     // the first N layers recompute in backward
  bool cpu_checkpointing = false;      // their inputs wait in (pinned) host memory
  // RMSNorm (Llama/Qwen kind) through at::_fused_rms_norm instead of transformers' composite
  // expression (planner NormImpl); the trainer sets it only where the kernel exists (torch_compat.h).
  bool fused_rms_norm = false;
  // SwiGLU and RoPE through zplan's kernels (planner ElementwiseImpl); the trainer sets it only
  // where the build has them and the device is a GPU (fused_elementwise.h).
  bool fused_elementwise = false;
  // The plain loss path's cross-entropy through zplan's kernels (planner CrossEntropyImpl; lm_loss).
  bool fused_cross_entropy = false;
  // MoE experts through at::_grouped_mm (planner ExpertsImpl::grouped_mm) rather than one mm per
  // expert (ExpertsImpl::loop); the trainer sets it only where the kernel exists (torch_compat.h).
  bool grouped_mm_experts = false;
  double init_std = 0.02;              // HF initializer_range
  SequenceParallel sp;                 // Ulysses: forward takes this rank's T/P tokens
};

// Per-forward tensors shared by all layers (HF computes them once in the model's forward).
struct ForwardContext {
  RopeTables rope;         // cos/sin [B, T, HD] (rope models)
  RopeTables rope_local;   // Gemma 3's sliding layers: rope_local_theta, unscaled (else undefined)
  at::Tensor causal_mask;  // [T, T] additive mask (eager attention, layers without a window)
  // Sliding-window layers (spec.layer_slides at T_full tokens): the additive [T, T] mask with the
  // window (eager) or the boolean [B, 1, T, T] one (sdpa), once per forward as HF makes them.
  at::Tensor sliding_mask;
  int64_t tokens = 0;      // T_full: the sequence attention runs over
  bool use_sdpa = false;
  bool fused_rms_norm = false;     // BuildOptions::fused_rms_norm
  bool fused_elementwise = false;  // BuildOptions::fused_elementwise
  bool grouped_mm_experts = false; // BuildOptions::grouped_mm_experts
  double hidden_dropout = 0.0;     // GPT-2 resid/embd dropout (saves a bool mask)
  double attention_dropout = 0.0;  // on the attention probabilities (SDPA keeps an RNG state)
  bool save_params_by_reference = false;  // ZeRO-3: linear_hf's save_param (blocks.h)
  const SequenceParallel* sp = nullptr;   // Ulysses around attention (null: off)
};

// One decoder layer's parameters; undefined tensors are absent for this architecture.
struct LayerWeights {
  at::Tensor ln1_w, ln1_b, ln2_w, ln2_b;         // [C]
  at::Tensor post_attn_norm_w, post_mlp_norm_w;  // Gemma's sandwich norms [C]
  at::Tensor c_attn_w, c_attn_b;                 // GPT-2 Conv1D [C, 3C], [3C]
  at::Tensor q_w, q_b, k_w, k_b, v_w, v_b;       // [NH*HD, C], [KV*HD, C] (+ biases)
  at::Tensor qkv_w, qkv_b;                       // Phi-3 qkv_proj [NH*HD + 2*KV*HD, C] (+ bias)
  at::Tensor o_w, o_b;                           // [C, NH*HD] (GPT-2 c_proj Conv1D [C, C])
  at::Tensor q_norm_w, k_norm_w;                 // [HD] (Qwen3)
  at::Tensor fc_w, fc_b, proj_w, proj_b;         // GPT-2 MLP Conv1D [C, F], [F], [F, C], [C]
  at::Tensor gate_w, up_w, down_w;               // gated MLP [F, C], [F, C], [C, F]
  at::Tensor gate_up_w;                          // Phi-3 gate_up_proj [2F, C] (gate rows first)
  at::Tensor router_w;                           // MoE router [E, C]
  at::Tensor experts_gate_up, experts_down;      // [E, 2F', C], [E, C, F']
  at::Tensor shared_gate_w, shared_up_w, shared_down_w;  // shared expert [FS, C], [FS, C], [C, FS]
  at::Tensor shared_expert_gate_w;               // Qwen2-MoE's gate on the shared expert [1, C]
};

class DecoderLayer {
 public:
  DecoderLayer(const ModelSpec& spec, int64_t index, LayerWeights weights);
  // x [B, T, C] -> [B, T, C]
  at::Tensor forward(const at::Tensor& x, const ForwardContext& ctx) const;
  const LayerWeights& weights() const { return w_; }
  // HF's nn.Dropout(hidden_dropout) in training mode (identity when the rate is 0).
  static at::Tensor dropout(const at::Tensor& x, const ForwardContext& ctx);

 private:
  at::Tensor norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const ForwardContext& ctx) const;
  at::Tensor attention(const at::Tensor& x, const ForwardContext& ctx) const;
  at::Tensor mlp(const at::Tensor& x, const ForwardContext& ctx) const;

  const ModelSpec* spec_;
  int64_t index_;
  bool gpt2_layout_;
  bool sparse_;
  LayerWeights w_;
};

class TransformerModel {
 public:
  // Validates that the runtime implements `spec` (InputError otherwise) and builds the parameters
  // on opt.device with HF's init (normal(0, 0.02), norms 1, biases 0).
  TransformerModel(const ModelSpec& spec, const BuildOptions& opt);
  ~TransformerModel();
  TransformerModel(const TransformerModel&) = delete;
  TransformerModel& operator=(const TransformerModel&) = delete;

  // ids [B, T] int64 -> logits [B, T, V] in the compute dtype. With Ulysses (BuildOptions::sp)
  // ids are this rank's T = T_full/P tokens, at positions rank*T onwards.
  at::Tensor forward(const at::Tensor& ids);
  // ids -> the final norm's output [B, T, C], lm_head's input (the chunked loss takes it from here).
  at::Tensor forward_hidden(const at::Tensor& ids);
  const at::Tensor& head_weight() const { return head_w_; }  // [V, C] (embed_tokens when tied)
  bool fused_cross_entropy() const { return opt_.fused_cross_entropy; }
  const std::vector<NamedParam>& params() const { return params_; }
  uint64_t param_count() const;
  const ModelSpec& spec() const { return spec_; }
  // Indices into params() per hook group (ParamGroupHooks): layers first, the rest last.
  std::vector<std::vector<size_t>> param_groups() const;
  // release_params: the hooks free parameter storage between uses (ZeRO-3), so linear layers
  // must save their weights by reference.
  void set_hooks(ParamGroupHooks* hooks, bool release_params) {
    hooks_ = hooks;
    release_params_ = release_params;
  }
  // false: dropout off (torch's model.eval()), for the trainer's held-out evaluation.
  void set_training(bool training) { training_ = training; }

 private:
  // init: 'n' normal(0, init_std), '1' ones, '0' zeros.
  at::Tensor add_param(const std::string& name, std::vector<int64_t> shape, char init);

  ModelSpec spec_;
  BuildOptions opt_;
  std::vector<NamedParam> params_;
  bool training_ = true;
  at::Tensor wte_, wpe_, lnf_w_, lnf_b_, head_w_;
  std::vector<DecoderLayer> layers_;
  std::vector<std::unique_ptr<CheckpointSlot>> slots_;
  ForwardContext ctx_;
  ParamGroupHooks* hooks_ = nullptr;
  bool release_params_ = false;
  int64_t building_group_ = 0;  // the group add_param assigns
};

// Hugging Face ForCausalLMLoss: logits.float(), cross_entropy(mean, ignore_index -100).
// logits [B, T, V] (any dtype); targets [B, T] int64 (already shifted, -100 = ignored).
at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& targets);

// Throws InputError when the runtime cannot build `spec` (Gemma's blocks, ...): model_checks.cpp.
void check_runtime_supports(const ModelSpec& spec);

}  // namespace zplan::rt
