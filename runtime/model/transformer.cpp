// transformer.cpp: builds the decoder from a ModelSpec, runs it (with checkpointing of the first N
// layers through a reentrant custom autograd function, as torch.utils.checkpoint(use_reentrant=True)
// and DeepSpeed's activation checkpointing do) and computes HF's causal-LM loss.
#include "runtime/model/transformer.h"

#include <cmath>
#include <mutex>

#include "planner/input_error.h"

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

bool is_gpt2_layout(const ModelSpec& spec) { return spec.family == "gpt2"; }

}  // namespace

void check_runtime_supports(const ModelSpec& spec) {
  const std::string where = spec.source.empty() ? "model " + spec.name : spec.source;
  auto positive = [&](int64_t v, const char* field) {
    if (v <= 0) throw InputError(where, field, "must be > 0 for the runtime");
  };
  positive(spec.layers, "layers");
  positive(spec.hidden, "hidden");
  positive(spec.heads, "heads");
  positive(spec.kv_heads, "kv_heads");
  positive(spec.head_dim, "head_dim");
  positive(spec.vocab, "vocab");
  if (spec.heads % spec.kv_heads != 0)
    throw InputError(where, "kv_heads", "must divide heads (" + std::to_string(spec.heads) + ")");
  if (spec.sandwich_norm || spec.scaled_embeddings)
    throw InputError(where, "family", "Gemma-style blocks (sandwich norms, scaled embeddings) are not "
                                      "implemented by the runtime yet; use --profile hf");
  if (spec.is_moe() && spec.moe.shared_experts > 0)
    throw InputError(where, "moe.shared_experts", "shared experts are not implemented by the runtime");
  if (spec.is_moe() && (spec.moe.experts_per_token <= 0 || spec.moe.expert_ffn <= 0))
    throw InputError(where, "moe", "experts_per_token and expert_ffn must be > 0");
  if (is_gpt2_layout(spec) && spec.heads * spec.head_dim != spec.hidden)
    throw InputError(where, "head_dim", "GPT-2 layout needs heads * head_dim == hidden");
  if (spec.position == PositionKind::learned && spec.max_positions <= 0)
    throw InputError(where, "max_positions", "learned positions need max_positions > 0");
  if (spec.position == PositionKind::rope && spec.head_dim % 2 != 0)
    throw InputError(where, "head_dim", "RoPE needs an even head_dim");
  for (int64_t i = 0; i < spec.layers; ++i)
    if (!spec.layer_is_sparse(i) && spec.ffn <= 0)
      throw InputError(where, "ffn", "dense layers need ffn > 0");
}

// ModelSpec carries no rope_theta (it does not change memory); use each family's published value.
double rope_theta_for(const ModelSpec& spec) {
  if (spec.family == "qwen3" || spec.family == "qwen3_moe" || spec.family == "qwen2") return 1e6;
  if (spec.family == "llama") return 5e5;
  return 1e4;
}

// ---------------------------------------------------------------------------- DecoderLayer

DecoderLayer::DecoderLayer(const ModelSpec& spec, int64_t index, LayerWeights weights)
    : spec_(&spec),
      gpt2_layout_(is_gpt2_layout(spec)),
      sparse_(spec.layer_is_sparse(index)),
      eps_(spec.norm == NormKind::rms_norm ? 1e-6 : 1e-5),
      w_(std::move(weights)) {}

at::Tensor DecoderLayer::norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const {
  return spec_->norm == NormKind::rms_norm ? rms_norm_hf(x, w, eps_) : layer_norm_hf(x, w, b, eps_);
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
    // q_norm(q_proj(x).view(hidden_shape)).transpose(1, 2)
    q = linear_hf(x, w_.q_w, w_.q_b, by_ref).view({b, t, -1, hd});
    k = linear_hf(x, w_.k_w, w_.k_b, by_ref).view({b, t, -1, hd});
    if (spec_->qk_norm) {
      q = rms_norm_hf(q, w_.q_norm_w, eps_);
      k = rms_norm_hf(k, w_.k_norm_w, eps_);
    }
    q = q.transpose(1, 2);
    k = k.transpose(1, 2);
    v = linear_hf(x, w_.v_w, w_.v_b, by_ref).view({b, t, -1, hd}).transpose(1, 2);
  }
  if (spec_->position == PositionKind::rope) {
    q = apply_rope(q, ctx.rope);
    k = apply_rope(k, ctx.rope);
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
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  at::Tensor out = attention_core(q, k, v, scale, ctx.use_sdpa, ctx.causal_mask,
                                  ctx.attention_dropout);  // [B, T, NH, HD]
  if (ulysses) out = ulysses_heads_to_seq(out.transpose(1, 2), *ctx.sp).transpose(1, 2);
  out = out.reshape({b, t, -1}).contiguous();
  out = gpt2_layout_ ? conv1d_hf(out, w_.o_w, w_.o_b) : linear_hf(out, w_.o_w, w_.o_b, by_ref);
  return dropout(out, ctx);  // GPT-2 resid_dropout
}

at::Tensor DecoderLayer::mlp(const at::Tensor& x, const ForwardContext& ctx) const {
  const bool by_ref = ctx.save_params_by_reference;
  if (sparse_) {
    const at::Tensor x2d = x.view({-1, x.size(-1)});
    RouterOutput route = moe_router(x2d, w_.router_w, spec_->moe.experts_per_token,
                                    spec_->moe.normalize_topk, by_ref);
    return moe_experts_grouped(x2d, route, w_.experts_gate_up, w_.experts_down).reshape(x.sizes());
  }
  if (spec_->mlp == MlpKind::gelu_mlp) return gpt2_mlp(x, w_.fc_w, w_.fc_b, w_.proj_w, w_.proj_b);
  return gated_mlp(x, w_.gate_w, w_.up_w, w_.down_w, spec_->mlp == MlpKind::geglu, by_ref);
}

at::Tensor DecoderLayer::dropout(const at::Tensor& x, const ForwardContext& ctx) {
  return ctx.hidden_dropout > 0.0 ? at::dropout(x, ctx.hidden_dropout, /*train=*/true) : x;
}

at::Tensor DecoderLayer::forward(const at::Tensor& x, const ForwardContext& ctx) const {
  // residual = h; h = input_layernorm(h); h = self_attn(h); h = residual + h; (same for the MLP)
  at::Tensor h = x + attention(norm(x, w_.ln1_w, w_.ln1_b), ctx);
  return h + dropout(mlp(norm(h, w_.ln2_w, w_.ln2_b), ctx), ctx);  // GPT2MLP ends with its dropout
}

// ---------------------------------------------------------------------------- TransformerModel

at::Tensor TransformerModel::add_param(const std::string& name, std::vector<int64_t> shape,
                                       char init) {
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(opt_.dtype).device(opt_.device));
  {
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
  const int64_t c = spec_.hidden, hd = spec_.head_dim, f = spec_.ffn;
  const int64_t q_dim = spec_.q_dim(), kv_dim = spec_.kv_dim();
  const bool ln = spec_.norm == NormKind::layer_norm, gpt2 = is_gpt2_layout(spec_);
  building_group_ = spec_.layers;  // embeddings, final norm and head: the last group
  wte_ = add_param("embed_tokens", {spec_.vocab, c}, 'n');
  if (spec_.position == PositionKind::learned) wpe_ = add_param("wpe", {spec_.max_positions, c}, 'n');
  layers_.reserve(spec_.layers);
  for (int64_t i = 0; i < spec_.layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    building_group_ = i;
    LayerWeights w;
    w.ln1_w = add_param(p + "ln1.weight", {c}, '1');
    if (ln) w.ln1_b = add_param(p + "ln1.bias", {c}, '0');
    if (gpt2) {
      w.c_attn_w = add_param(p + "attn.c_attn.weight", {c, 3 * c}, 'n');
      if (spec_.qkv_bias) w.c_attn_b = add_param(p + "attn.c_attn.bias", {3 * c}, '0');
      w.o_w = add_param(p + "attn.c_proj.weight", {c, c}, 'n');
      if (spec_.out_bias) w.o_b = add_param(p + "attn.c_proj.bias", {c}, '0');
    } else {
      w.q_w = add_param(p + "attn.q_proj.weight", {q_dim, c}, 'n');
      if (spec_.qkv_bias) w.q_b = add_param(p + "attn.q_proj.bias", {q_dim}, '0');
      w.k_w = add_param(p + "attn.k_proj.weight", {kv_dim, c}, 'n');
      if (spec_.qkv_bias) w.k_b = add_param(p + "attn.k_proj.bias", {kv_dim}, '0');
      w.v_w = add_param(p + "attn.v_proj.weight", {kv_dim, c}, 'n');
      if (spec_.qkv_bias) w.v_b = add_param(p + "attn.v_proj.bias", {kv_dim}, '0');
      w.o_w = add_param(p + "attn.o_proj.weight", {c, q_dim}, 'n');
      if (spec_.out_bias) w.o_b = add_param(p + "attn.o_proj.bias", {c}, '0');
      if (spec_.qk_norm) {
        w.q_norm_w = add_param(p + "attn.q_norm.weight", {hd}, '1');
        w.k_norm_w = add_param(p + "attn.k_norm.weight", {hd}, '1');
      }
    }
    w.ln2_w = add_param(p + "ln2.weight", {c}, '1');
    if (ln) w.ln2_b = add_param(p + "ln2.bias", {c}, '0');
    if (spec_.layer_is_sparse(i)) {
      const int64_t e = spec_.moe.num_experts, fe = spec_.moe.expert_ffn;
      w.router_w = add_param(p + "mlp.gate.weight", {e, c}, 'n');
      w.experts_gate_up = add_param(p + "mlp.experts.gate_up_proj", {e, 2 * fe, c}, 'n');
      w.experts_down = add_param(p + "mlp.experts.down_proj", {e, c, fe}, 'n');
    } else if (spec_.mlp == MlpKind::gelu_mlp) {
      w.fc_w = add_param(p + "mlp.c_fc.weight", {c, f}, 'n');
      if (spec_.out_bias) w.fc_b = add_param(p + "mlp.c_fc.bias", {f}, '0');
      w.proj_w = add_param(p + "mlp.c_proj.weight", {f, c}, 'n');
      if (spec_.out_bias) w.proj_b = add_param(p + "mlp.c_proj.bias", {c}, '0');
    } else {
      w.gate_w = add_param(p + "mlp.gate_proj.weight", {f, c}, 'n');
      w.up_w = add_param(p + "mlp.up_proj.weight", {f, c}, 'n');
      w.down_w = add_param(p + "mlp.down_proj.weight", {c, f}, 'n');
    }
    layers_.emplace_back(spec_, i, std::move(w));
  }
  building_group_ = spec_.layers;
  lnf_w_ = add_param("norm.weight", {c}, '1');
  if (ln) lnf_b_ = add_param("norm.bias", {c}, '0');
  head_w_ = spec_.tied_embeddings ? wte_ : add_param("lm_head.weight", {spec_.vocab, c}, 'n');
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
  ctx_.hidden_dropout = training_ ? spec_.hidden_dropout : 0.0;
  ctx_.attention_dropout = training_ ? spec_.attention_dropout : 0.0;
  ctx_.save_params_by_reference = release_params_;
  if (spec_.position == PositionKind::rope) {
    ctx_.rope = rope_tables(b, t_full, spec_.head_dim, rope_theta_for(spec_), opt_.dtype, opt_.device);
    if (t_full != t) {
      ctx_.rope.cos = ctx_.rope.cos.narrow(1, first, t).contiguous();
      ctx_.rope.sin = ctx_.rope.sin.narrow(1, first, t).contiguous();
    }
  }
  // Eager attention runs over all T_full tokens (after Ulysses' exchange).
  if (!opt_.use_sdpa) ctx_.causal_mask = causal_mask_additive(t_full, opt_.dtype, opt_.device);

  const int64_t outer = spec_.layers;
  const auto hooks_address = reinterpret_cast<int64_t>(hooks_);
  if (hooks_) hooks_->before_forward(outer);
  at::Tensor x = at::embedding(wte_, ids);  // [B, T, C]
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
  return spec_.norm == NormKind::rms_norm ? rms_norm_hf(x, lnf_w_, 1e-6)
                                          : layer_norm_hf(x, lnf_w_, lnf_b_, 1e-5);
}

at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& targets) {
  const at::Tensor upcast = logits.to(at::kFloat);  // logits = logits.float()
  const int64_t v = upcast.size(-1);
  return at::cross_entropy_loss(upcast.view({-1, v}), targets.reshape({-1}), {},
                                at::Reduction::Mean, /*ignore_index=*/-100);
}

}  // namespace zplan::rt
