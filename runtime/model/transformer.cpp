// transformer.cpp: builds the decoder from a ModelSpec, runs it (with checkpointing of the first N
// layers through a reentrant custom autograd function, as torch.utils.checkpoint(use_reentrant=True)
// and DeepSpeed's activation checkpointing do) and computes HF's causal-LM loss.
#include "runtime/model/transformer.h"

#include <cmath>
#include <mutex>

#include "planner/memory/params.h"
#include "runtime/model/fused_rms_norm.h"
#include "runtime/model/gemma_blocks.h"
#include "runtime/model/autocast.h"
#include "runtime/model/weight_slots.h"

namespace zplan::rt {

struct CheckpointSlot {
  const DecoderLayer* layer = nullptr;
  const ForwardContext* ctx = nullptr;
  bool to_host = false;
  bool replay_rng = false;  // dropout inside: recompute with the forward's RNG state
};

namespace {

at::Tensor rng_state(at::Device device) {
  at::Generator gen = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_rng_state(at::Device device, const at::Tensor& state) {
  at::Generator gen = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

// Saves only the layer input (on the device, or in pinned host memory with cpu checkpointing),
// runs the layer without autograd, and in backward re-runs it with autograd and back-propagates
// through the recomputed graph (parameter grads accumulate as usual).
struct CheckpointFn : public torch::autograd::Function<CheckpointFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            int64_t slot_address) {
    const auto* slot = reinterpret_cast<const CheckpointSlot*>(slot_address);
    ctx->saved_data["slot"] = slot_address;
    // amp: the recompute runs under the forward's autocast dtype (Undefined: off).
    ctx->saved_data["autocast"] = static_cast<int64_t>(AutocastGuard::current(x.device().type()));
    if (slot->replay_rng) ctx->saved_data["rng"] = rng_state(x.device());  // preserve_rng_state
    if (slot->to_host) {
      auto host_opts = x.options().device(at::kCPU).pinned_memory(x.is_cuda());
      at::Tensor host = at::empty(x.sizes(), host_opts);
      host.copy_(x, /*non_blocking=*/x.is_cuda());
      ctx->saved_data["host"] = host;
      ctx->saved_data["device"] = x.device();
    } else {
      ctx->save_for_backward({x});
    }
    at::NoGradGuard no_grad;
    return slot->layer->forward(x, *slot->ctx);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto* slot = reinterpret_cast<const CheckpointSlot*>(ctx->saved_data["slot"].toInt());
    at::Tensor x;
    if (slot->to_host) {
      const at::Tensor host = ctx->saved_data["host"].toTensor();
      x = host.to(ctx->saved_data["device"].toDevice(), /*non_blocking=*/true);
    } else {
      x = ctx->get_saved_variables()[0];
    }
    at::Tensor input = x.detach().requires_grad_(true);
    at::Tensor out;
    {
      at::AutoGradMode enable_grad(true);
      AutocastGuard autocast(input.device().type(), static_cast<at::ScalarType>(ctx->saved_data["autocast"].toInt()));
      at::Tensor now;
      if (slot->replay_rng) {
        now = rng_state(input.device());
        set_rng_state(input.device(), ctx->saved_data["rng"].toTensor());
      }
      out = slot->layer->forward(input, *slot->ctx);
      if (slot->replay_rng) set_rng_state(input.device(), now);
    }
    torch::autograd::backward({out}, {grads[0]});
    return {input.grad(), at::Tensor()};
  }
};

// Identity in forward; in backward calls a ParamGroupHooks method for one group before passing
// the gradient on. On a layer's output it runs before that layer's backward, on its input after it.
struct GroupBoundaryFn : public torch::autograd::Function<GroupBoundaryFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            int64_t hooks_address, int64_t group, bool before_backward) {
    ctx->saved_data["hooks"] = hooks_address;
    ctx->saved_data["group"] = group;
    ctx->saved_data["before"] = before_backward;
    return x.view_as(x);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* hooks = reinterpret_cast<ParamGroupHooks*>(ctx->saved_data["hooks"].toInt());
    const int64_t group = ctx->saved_data["group"].toInt();
    if (ctx->saved_data["before"].toBool()) hooks->before_backward(group);
    else hooks->after_backward(group);
    return {grads[0], at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// GPT-2's Conv1D modules: c_attn [C, 3C] split into q, k, v, and c_proj [C, C].
bool is_gpt2_layout(const ModelSpec& spec) { return spec.qkv_projection == QkvProjection::c_attn; }

// The norm the spec names (RMSNorm, Gemma's (1 + w) RMSNorm, LayerNorm): the one switch for every
// norm of the model. `fused_rms_norm` (BuildOptions) runs the RMSNorm kind through
// at::_fused_rms_norm; the planner's block table follows the same choice (ExecContext::fused_rms_norm).
at::Tensor model_norm(const ModelSpec& spec, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                      bool fused_rms_norm) {
  switch (spec.norm) {
    case NormKind::gemma_rms_norm: return gemma_rms_norm(x, w, spec.norm_eps);
    case NormKind::rms_norm: return fused_rms_norm ? rt::fused_rms_norm(x, w, spec.norm_eps) : rms_norm_hf(x, w, spec.norm_eps);
    case NormKind::layer_norm: break;
  }
  return layer_norm_hf(x, w, b, spec.norm_eps);
}

}  // namespace

// ---------------------------------------------------------------------------- DecoderLayer

DecoderLayer::DecoderLayer(const ModelSpec& spec, int64_t index, LayerWeights weights)
    : spec_(&spec),
      index_(index),
      gpt2_layout_(is_gpt2_layout(spec)),
      sparse_(spec.layer_is_sparse(index)),
      w_(std::move(weights)) {}

at::Tensor DecoderLayer::norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                              const ForwardContext& ctx) const {
  return model_norm(*spec_, x, w, b, ctx.fused_rms_norm);
}

at::Tensor DecoderLayer::attention(const at::Tensor& x, const ForwardContext& ctx) const {
  const int64_t b = x.size(0), t = x.size(1), hd = spec_->head_dim;
  const bool by_ref = ctx.save_params_by_reference;
  at::Tensor q, k, v;  // [B, H, T, HD]
  if (gpt2_layout_) {
    // query, key, value = self.c_attn(hidden_states).split(self.split_size, dim=2)
    auto parts = conv1d_hf(x, w_.c_attn_w, w_.c_attn_b).split(spec_->hidden, 2);
    q = parts[0].view({b, t, -1, hd}).transpose(1, 2);
    k = parts[1].view({b, t, -1, hd}).transpose(1, 2);
    v = parts[2].view({b, t, -1, hd}).transpose(1, 2);
  } else {
    // Phi-3: qkv = self.qkv_proj(x); q, k, v = qkv[..., :NH*HD], the next KV*HD, the rest. v
    // stays a view of qkv (what attention keeps of it keeps all of qkv: docs/memory-model.md).
    at::Tensor qkv;
    if (w_.qkv_w.defined()) qkv = linear_hf(x, w_.qkv_w, w_.qkv_b, by_ref);
    const int64_t qd = spec_->q_dim(), kd = spec_->kv_dim();
    // q_norm(q_proj(x).view(hidden_shape)).transpose(1, 2)
    q = (qkv.defined() ? qkv.narrow(-1, 0, qd) : linear_hf(x, w_.q_w, w_.q_b, by_ref)).view({b, t, -1, hd});
    k = (qkv.defined() ? qkv.narrow(-1, qd, kd) : linear_hf(x, w_.k_w, w_.k_b, by_ref)).view({b, t, -1, hd});
    if (spec_->qk_norm) {  // HF Gemma norms after the transpose instead: same values, same saved bytes
      q = norm(q, w_.q_norm_w, at::Tensor(), ctx);
      k = norm(k, w_.k_norm_w, at::Tensor(), ctx);
    }
    q = q.transpose(1, 2);
    k = k.transpose(1, 2);
    v = (qkv.defined() ? qkv.narrow(-1, qd + kd, kd) : linear_hf(x, w_.v_w, w_.v_b, by_ref))
            .view({b, t, -1, hd}).transpose(1, 2);
  }
  if (spec_->position == PositionKind::rope) {
    const RopeTables& rope = uses_local_rope(*spec_, index_) ? ctx.rope_local : ctx.rope;
    q = apply_rope(q, rope, ctx.fused_elementwise);
    k = apply_rope(k, rope, ctx.fused_elementwise);
  }
  const bool ulysses = ctx.sp != nullptr && ctx.sp->degree > 1;
  if (ulysses) {
    // Fewer KV heads than ranks: replicate them so that each rank gets the one its query heads use.
    const int64_t kv = k.size(1), p = ctx.sp->degree;
    if (kv < p) {
      k = k.unsqueeze(2).expand({b, kv, p / kv, t, hd}).reshape({b, p, t, hd});
      v = v.unsqueeze(2).expand({b, kv, p / kv, t, hd}).reshape({b, p, t, hd});
    }
    q = ulysses_seq_to_heads(q, *ctx.sp);  // [B, NH/P, T_full, HD]
    k = ulysses_seq_to_heads(k, *ctx.sp);
    v = ulysses_seq_to_heads(v, *ctx.sp);
  }
  const double scale = attention_scale(*spec_);
  const bool slides = spec_->layer_slides(index_, ctx.tokens);  // masked as HF only when T > window
  at::Tensor out = attention_core(q, k, v, scale, ctx.use_sdpa, slides ? ctx.sliding_mask : ctx.causal_mask,
                                  ctx.attention_dropout, slides && ctx.use_sdpa ? ctx.sliding_mask : at::Tensor());
  // [B, T, NH, HD]
  if (ulysses) out = ulysses_heads_to_seq(out.transpose(1, 2), *ctx.sp).transpose(1, 2);
  out = out.reshape({b, t, -1}).contiguous();
  out = gpt2_layout_ ? conv1d_hf(out, w_.o_w, w_.o_b) : linear_hf(out, w_.o_w, w_.o_b, by_ref);
  return dropout(out, ctx);  // GPT-2 resid_dropout
}

at::Tensor DecoderLayer::mlp(const at::Tensor& x, const ForwardContext& ctx) const {
  const bool by_ref = ctx.save_params_by_reference;
  if (sparse_) {
    const at::Tensor x2d = x.view({-1, x.size(-1)});
    at::Tensor shared;  // Qwen2-MoE computes its shared expert first
    if (w_.shared_gate_w.defined())
      shared = moe_shared_expert(x2d, w_.shared_gate_w, w_.shared_up_w, w_.shared_down_w,
                                 w_.shared_expert_gate_w, by_ref);
    RouterOutput route = moe_router(x2d, w_.router_w, spec_->moe.experts_per_token,
                                    spec_->moe.normalize_topk, by_ref);
    at::Tensor out = moe_experts_grouped(x2d, route, w_.experts_gate_up, w_.experts_down, ctx.grouped_mm_experts);
    if (shared.defined()) out.add_(shared);  // expert_output += shared_expert_output
    return out.reshape(x.sizes());
  }
  if (spec_->mlp == MlpKind::gelu_mlp) return gpt2_mlp(x, w_.fc_w, w_.fc_b, w_.proj_w, w_.proj_b);
  if (w_.gate_up_w.defined())
    return fused_gated_mlp(x, w_.gate_up_w, w_.down_w, spec_->mlp == MlpKind::geglu, by_ref, ctx.fused_elementwise);
  return gated_mlp(x, w_.gate_w, w_.up_w, w_.down_w, spec_->mlp == MlpKind::geglu, by_ref, ctx.fused_elementwise);
}

at::Tensor DecoderLayer::dropout(const at::Tensor& x, const ForwardContext& ctx) {
  return ctx.hidden_dropout > 0.0 ? at::dropout(x, ctx.hidden_dropout, /*train=*/true) : x;
}

at::Tensor DecoderLayer::forward(const at::Tensor& x, const ForwardContext& ctx) const {
  if (spec_->sandwich_norm) {  // Gemma: post_attention_layernorm / post_feedforward_layernorm
    // before each residual add, pre_feedforward_layernorm (ln2) before the MLP.
    const at::Tensor h = x + norm(attention(norm(x, w_.ln1_w, w_.ln1_b, ctx), ctx), w_.post_attn_norm_w, at::Tensor(), ctx);
    return h + norm(mlp(norm(h, w_.ln2_w, w_.ln2_b, ctx), ctx), w_.post_mlp_norm_w, at::Tensor(), ctx);
  }
  // residual = h; h = input_layernorm(h); h = self_attn(h); h = residual + h; (same for the MLP)
  at::Tensor h = x + attention(norm(x, w_.ln1_w, w_.ln1_b, ctx), ctx);
  return h + dropout(mlp(norm(h, w_.ln2_w, w_.ln2_b, ctx), ctx), ctx);  // GPT2MLP ends with its dropout
}

// ---------------------------------------------------------------------------- TransformerModel

at::Tensor TransformerModel::add_param(const std::string& name, std::vector<int64_t> shape,
                                       char init) {
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(opt_.dtype).device(opt_.device));
  if (!t.is_meta()) {  // a meta-device model (shapes only, tests) has no values to set
    at::NoGradGuard no_grad;
    if (init == 'n') t.normal_(0.0, opt_.init_std);
    else if (init == '1') t.fill_(1.0);
    else t.zero_();
  }
  t.requires_grad_(true);
  params_.push_back(NamedParam{name, t, building_group_});
  return t;
}

TransformerModel::TransformerModel(const ModelSpec& spec, const BuildOptions& opt)
    : spec_(spec), opt_(opt) {
  check_runtime_supports(spec_);
  // The planner's parameter table (planner/memory/params.h) lists every tensor once; each
  // Hugging Face tensor (a run of rows, fused for GPT-2's c_attn and the experts' gate_up_proj)
  // becomes one parameter under its HF name, in table order (embeddings, blocks, norm, head).
  const std::vector<ParamTensor> table = parameter_tensors(spec_);
  std::vector<LayerWeights> weights(static_cast<size_t>(spec_.layers));
  for (const HfTensor& t : hf_tensors(table)) {
    const ParamTensor& row = table[t.rows.front()];
    building_group_ = row.layer < 0 ? spec_.layers : row.layer;
    at::Tensor p = add_param(t.name, t.shape, gemma_norm_init(spec_, init_kind(row)));
    if (row.layer >= 0) {
      layer_slot(weights[static_cast<size_t>(row.layer)], row, t) = p;
    } else if (row.role == TensorRole::token_embedding) {
      wte_ = p;
    } else if (row.role == TensorRole::position_embedding) {
      wpe_ = p;
    } else if (row.role == TensorRole::final_norm) {
      (row.bias ? lnf_b_ : lnf_w_) = p;
    } else {
      head_w_ = p;  // lm_head
    }
  }
  if (spec_.tied_embeddings) head_w_ = wte_;
  building_group_ = spec_.layers;
  layers_.reserve(spec_.layers);
  for (int64_t i = 0; i < spec_.layers; ++i) layers_.emplace_back(spec_, i, std::move(weights[static_cast<size_t>(i)]));
  for (int64_t i = 0; i < spec_.layers; ++i) slots_.push_back(std::make_unique<CheckpointSlot>());
}

TransformerModel::~TransformerModel() = default;

std::vector<std::vector<size_t>> TransformerModel::param_groups() const {
  std::vector<std::vector<size_t>> groups(static_cast<size_t>(spec_.layers + 1));
  for (size_t i = 0; i < params_.size(); ++i) groups[static_cast<size_t>(params_[i].group)].push_back(i);
  return groups;
}

uint64_t TransformerModel::param_count() const {
  uint64_t n = 0;
  for (const auto& p : params_) n += static_cast<uint64_t>(p.tensor.numel());
  return n;
}

at::Tensor TransformerModel::forward(const at::Tensor& ids) {
  return at::linear(forward_hidden(ids), head_w_);  // lm_head (no bias; tied to embed_tokens when the spec says so)
}

at::Tensor TransformerModel::forward_hidden(const at::Tensor& ids) {
  const int64_t b = ids.size(0), t = ids.size(1);
  const int64_t t_full = t * opt_.sp.degree, first = opt_.sp.rank * t;  // Ulysses: this rank's slice
  ctx_ = ForwardContext{};
  if (opt_.sp.degree > 1) ctx_.sp = &opt_.sp;
  ctx_.use_sdpa = opt_.use_sdpa;
  ctx_.fused_rms_norm = opt_.fused_rms_norm;
  ctx_.fused_elementwise = opt_.fused_elementwise;
  ctx_.grouped_mm_experts = opt_.grouped_mm_experts;
  ctx_.hidden_dropout = training_ ? spec_.hidden_dropout : 0.0;
  ctx_.attention_dropout = training_ ? spec_.attention_dropout : 0.0;
  ctx_.save_params_by_reference = release_params_;
  if (spec_.position == PositionKind::rope) {
    ctx_.rope = rope_tables(b, t_full, spec_.head_dim, spec_.rope_theta, opt_.dtype, opt_.device,
                            spec_.rope_linear_factor);
    if (needs_local_rope(spec_))  // Gemma 3: rotary_emb_local (rope_local_base_freq, no scaling)
      ctx_.rope_local = rope_tables(b, t_full, spec_.head_dim, spec_.rope_local_theta, opt_.dtype, opt_.device);
    for (RopeTables* r : {&ctx_.rope, &ctx_.rope_local}) {
      if (t_full == t || !r->cos.defined()) continue;
      r->cos = r->cos.narrow(1, first, t).contiguous();
      r->sin = r->sin.narrow(1, first, t).contiguous();
    }
  }
  // Eager attention runs over all T_full tokens (after Ulysses' exchange). Each mask exists only
  // when some layer uses it.
  ctx_.tokens = t_full;
  bool any_slides = false, any_global = false;
  for (int64_t i = 0; i < spec_.layers; ++i) (spec_.layer_slides(i, t_full) ? any_slides : any_global) = true;
  if (!opt_.use_sdpa && any_global) ctx_.causal_mask = causal_mask_additive(t_full, opt_.dtype, opt_.device);
  if (any_slides)
    ctx_.sliding_mask = opt_.use_sdpa ? sliding_mask_bool(b, t_full, spec_.sliding_window, opt_.device)
                                      : causal_mask_additive(t_full, opt_.dtype, opt_.device, spec_.sliding_window);

  const int64_t outer = spec_.layers;
  const auto hooks_address = reinterpret_cast<int64_t>(hooks_);
  if (hooks_) hooks_->before_forward(outer);
  at::Tensor x = spec_.scaled_embeddings ? gemma_scaled_embedding(wte_, ids, spec_.hidden)
                                         : at::embedding(wte_, ids);  // [B, T, C]
  if (wpe_.defined()) {
    const at::Tensor pos = at::arange(first, first + t, ids.options().dtype(at::kLong)).unsqueeze(0);
    x = x + at::embedding(wpe_, pos);       // inputs_embeds + position_embeds
  }
  x = DecoderLayer::dropout(x, ctx_);       // GPT-2 self.drop (embd_pdrop)
  const int64_t n_ckpt = std::min<int64_t>(opt_.checkpointed_layers, spec_.layers);
  for (int64_t i = 0; i < spec_.layers; ++i) {
    if (hooks_) {
      x = GroupBoundaryFn::apply(x, hooks_address, i, /*before_backward=*/false);
      hooks_->before_forward(i);
    }
    if (i < n_ckpt) {
      CheckpointSlot* slot = slots_[i].get();
      slot->layer = &layers_[i];
      slot->ctx = &ctx_;
      slot->to_host = opt_.cpu_checkpointing;
      slot->replay_rng = spec_.hidden_dropout > 0.0 || spec_.attention_dropout > 0.0;
      x = CheckpointFn::apply(x, reinterpret_cast<int64_t>(slot));
    } else {
      x = layers_[i].forward(x, ctx_);
    }
    if (hooks_) {
      hooks_->after_forward(i);
      x = GroupBoundaryFn::apply(x, hooks_address, i, /*before_backward=*/true);
    }
  }
  if (hooks_) hooks_->after_forward(outer);
  return model_norm(spec_, x, lnf_w_, lnf_b_, ctx_.fused_rms_norm);
}

at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& targets) {
  const at::Tensor upcast = logits.to(at::kFloat);  // logits = logits.float()
  const int64_t v = upcast.size(-1);
  return at::cross_entropy_loss(upcast.view({-1, v}), targets.reshape({-1}), {},
                                at::Reduction::Mean, /*ignore_index=*/-100);
}

}  // namespace zplan::rt
