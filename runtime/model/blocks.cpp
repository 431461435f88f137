// blocks.cpp: op-for-op ports of transformers 5.17's modelling code (llama, qwen3, qwen3_moe,
// qwen2_moe, phi3, gpt2, integrations/moe.py). Comments quote the HF line each statement mirrors where the order of ops
// matters for what autograd saves; docs/runtime.md lists the saved tensors per block.
#include "runtime/model/blocks.h"

#include "runtime/model/autocast.h"
#include "runtime/model/fused_elementwise.h"

#include <cmath>
#include <functional>
#include <limits>

namespace zplan::rt {
namespace {

c10::optional<at::Tensor> opt(const at::Tensor& t) {
  return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt;
}

// repeat_kv: [B, KV, T, HD] -> [B, KV*n_rep, T, HD] (expand + reshape: one copy).
at::Tensor repeat_kv(const at::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  const int64_t b = x.size(0), kv = x.size(1), t = x.size(2), hd = x.size(3);
  return x.unsqueeze(2).expand({b, kv, n_rep, t, hd}).reshape({b, kv * n_rep, t, hd});
}

// Grouped matmul over expert-sorted rows (HF's _grouped_mm_fallback, as an autograd function).
struct GroupedLinearFn : public torch::autograd::Function<GroupedLinearFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input,
                            const at::Tensor& weight, std::vector<int64_t> rows) {
    ctx->save_for_backward({input, weight});
    ctx->saved_data["rows"] = rows;
    at::Tensor out = at::empty({input.size(0), weight.size(1)}, input.options());  // [S, out]
    int64_t start = 0;
    for (size_t e = 0; e < rows.size(); ++e) {
      const int64_t n = rows[e];
      if (n == 0) continue;
      at::Tensor rows_out = out.narrow(0, start, n);
      at::mm_out(rows_out, input.narrow(0, start, n), weight[e].t());
      start += n;
    }
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor& input = saved[0];   // [S, in]
    const at::Tensor& weight = saved[1];  // [E, out, in]
    const std::vector<int64_t> rows = ctx->saved_data["rows"].toIntVector();
    const at::Tensor g = grads[0].contiguous();  // [S, out]
    at::Tensor grad_in = at::zeros_like(input);
    at::Tensor grad_w = at::zeros_like(weight);
    int64_t start = 0;
    for (size_t e = 0; e < rows.size(); ++e) {
      const int64_t n = rows[e];
      if (n == 0) continue;
      const at::Tensor ge = g.narrow(0, start, n);
      at::Tensor gi = grad_in.narrow(0, start, n), gw = grad_w[e];
      at::mm_out(gi, ge, weight[e]);
      at::mm_out(gw, ge.t(), input.narrow(0, start, n));
      start += n;
    }
    return {grad_in, grad_w, at::Tensor()};
  }
};

// y = x W^T (+ b), saving x and W itself (see linear_hf's save_param).
struct LinearSavingParamFn : public torch::autograd::Function<LinearSavingParamFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& weight, const at::Tensor& bias) {
    // No bias arrives as an empty tensor (custom functions take no undefined inputs in 1.13).
    const bool has_bias = bias.numel() > 0;
    ctx->save_for_backward({x, weight});
    ctx->saved_data["has_bias"] = has_bias;
    return at::linear(x, weight, has_bias ? c10::optional<at::Tensor>(bias) : c10::nullopt);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    // Under autocast the forward ran in 16 bits on fp32 x and W, so the output gradient is 16-bit:
    // backward casts them to its dtype as autocast's saved casts would be, and hands fp32 back.
    const at::ScalarType gt = grads[0].scalar_type();
    const at::Tensor x = saved[0].to(gt);
    const at::Tensor w = saved[1].to(gt);  // [out, in]
    const at::Tensor g2 = grads[0].reshape({-1, w.size(0)});
    const at::Tensor grad_x = at::matmul(grads[0], w).to(saved[0].scalar_type());
    const at::Tensor grad_w = g2.t().mm(x.reshape({-1, w.size(1)})).to(saved[1].scalar_type());
    const at::Tensor grad_b = ctx->saved_data["has_bias"].toBool() ? g2.sum(0).to(saved[1].scalar_type()) : at::Tensor();
    return {grad_x, grad_w, grad_b};
  }
};

}  // namespace

at::Tensor rms_norm_hf(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::ScalarType input_dtype = x.scalar_type();
  at::Tensor h = x.to(at::kFloat);                    // hidden_states.to(torch.float32)
  at::Tensor variance = h.pow(2).mean(-1, true);      // .pow(2).mean(-1, keepdim=True)
  h = h * at::rsqrt(variance + eps);                  // hidden_states * torch.rsqrt(variance + eps)
  return weight * h.to(input_dtype);                  // self.weight * hidden_states.to(input_dtype)
}

at::Tensor layer_norm_hf(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                         double eps) {
  return at::layer_norm(x, {x.size(-1)}, opt(weight), opt(bias), eps);
}

at::Tensor linear_hf(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                     bool save_param) {
  if (save_param) {
    // Under autocast (amp) cast first, as DeepSpeed's autocast_custom_fwd does for its ZeRO-3
    // linear: the function then saves the 16-bit input and autocast's cached 16-bit weight, the
    // bytes at::linear under autocast would save.
    const at::DeviceType dev = x.device().type();
    const at::ScalarType ac = AutocastGuard::current(dev);
    const bool cast = ac != at::ScalarType::Undefined;
    const at::Tensor xc = cast ? at::autocast::cached_cast(ac, x, dev) : x;
    const at::Tensor wc = cast ? at::autocast::cached_cast(ac, weight, dev) : weight;
    const at::Tensor bc = !bias.defined() ? at::empty({0}, wc.options()) : cast ? at::autocast::cached_cast(ac, bias, dev) : bias;
    return LinearSavingParamFn::apply(xc, wc, bc);
  }
  return at::linear(x, weight, opt(bias));
}

at::Tensor conv1d_hf(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  std::vector<int64_t> size_out = x.sizes().vec();
  size_out.back() = weight.size(1);
  const at::Tensor x2 = x.view({-1, x.size(-1)});
  at::Tensor y = bias.defined() ? at::addmm(bias, x2, weight) : at::mm(x2, weight);
  return y.view(size_out);
}

at::Tensor gelu_new(const at::Tensor& x) {
  const double k = std::sqrt(2.0 / M_PI);
  // 0.5 * input * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (input + 0.044715 * torch.pow(input, 3.0))))
  return 0.5 * x * (1.0 + at::tanh(k * (x + 0.044715 * at::pow(x, 3.0))));
}

RopeTables rope_tables(int64_t batch, int64_t tokens, int64_t head_dim, double theta,
                       at::ScalarType dtype, at::Device device, double linear_factor) {
  at::NoGradGuard no_grad;  // @torch.no_grad() on the rotary forward
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  // inv_freq = 1 / base ** (arange(0, dim, 2) / dim)
  at::Tensor exponents = at::arange(0, head_dim, 2, f32.dtype(at::kLong)).to(at::kFloat) /
                         static_cast<double>(head_dim);
  at::Tensor inv_freq = at::pow(theta, exponents).reciprocal();                 // [HD/2]
  if (linear_factor != 1.0) inv_freq = inv_freq / linear_factor;               // inv_freq /= factor
  at::Tensor positions = at::arange(tokens, f32).unsqueeze(0).expand({batch, tokens});  // [B, T]
  at::Tensor inv = inv_freq.unsqueeze(0).unsqueeze(2).expand({batch, -1, 1});   // [B, HD/2, 1]
  at::Tensor freqs = at::matmul(inv, positions.unsqueeze(1)).transpose(1, 2);   // [B, T, HD/2]
  at::Tensor emb = at::cat({freqs, freqs}, -1);                                 // [B, T, HD]
  return RopeTables{emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor apply_rope(const at::Tensor& x, const RopeTables& rope, bool zplan_kernel) {
  if (zplan_kernel) {
    at::Tensor y = fused_rope_or_undefined(x, rope.cos, rope.sin);
    if (y.defined()) return y;
  }
  const at::Tensor cos = rope.cos.unsqueeze(1);  // cos.unsqueeze(unsqueeze_dim=1)
  const at::Tensor sin = rope.sin.unsqueeze(1);
  const int64_t half = x.size(-1) / 2;
  // rotate_half: cat((-x2, x1), dim=-1)
  const at::Tensor rotated = at::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
  return (x * cos) + (rotated * sin);  // q_embed = (q * cos) + (rotate_half(q) * sin)
}

namespace {

// true where query i must not see key j: j > i, or (window > 0) i - j >= window.
at::Tensor masked_positions(int64_t tokens, int64_t window, at::Device device) {
  const at::Tensor ones = at::ones({tokens, tokens}, at::TensorOptions().device(device).dtype(at::kBool));
  at::Tensor masked = ones.triu(1);
  if (window > 0 && window < tokens) masked = masked.logical_or(ones.tril(-window));
  return masked;
}

}  // namespace

at::Tensor sliding_mask_bool(int64_t batch, int64_t tokens, int64_t window, at::Device device) {
  at::NoGradGuard no_grad;
  return masked_positions(tokens, window, device).logical_not().expand({batch, 1, tokens, tokens});
}

at::Tensor causal_mask_additive(int64_t tokens, at::ScalarType dtype, at::Device device, int64_t window) {
  at::NoGradGuard no_grad;
  // torch.finfo(dtype).min above the diagonal, 0 elsewhere (HF's 4D float mask, one per model).
  const double min_value = dtype == at::kHalf ? -65504.0
                           : dtype == at::kBFloat16 ? -3.3895313892515355e38
                                                    : -static_cast<double>(std::numeric_limits<float>::max());
  const auto opts = at::TensorOptions().device(device);
  return at::zeros({tokens, tokens}, opts.dtype(dtype)).masked_fill(masked_positions(tokens, window, device), min_value);
}

at::Tensor attention_core(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          double scale, bool use_sdpa, const at::Tensor& causal_mask,
                          double dropout_p, const at::Tensor& sdpa_mask) {
  at::Tensor out;  // [B, NH, T, HD]
  if (use_sdpa && sdpa_mask.defined()) {
    // use_gqa_in_sdpa is false with a mask: key_states = repeat_kv(key, n_rep) (and value) first.
    const int64_t n_rep = q.size(1) / k.size(1);
    out = compat::sdpa_masked(q, repeat_kv(k, n_rep), repeat_kv(v, n_rep), sdpa_mask, scale, dropout_p);
  } else if (use_sdpa) {
    out = compat::sdpa_causal(q, k, v, scale, dropout_p);
  } else {
    const int64_t n_rep = q.size(1) / k.size(1);
    const at::Tensor key = repeat_kv(k, n_rep);
    const at::Tensor value = repeat_kv(v, n_rep);
    at::Tensor w = at::matmul(q, key.transpose(2, 3)) * scale;   // [B, NH, T, T]
    w = w + causal_mask;
    w = at::softmax(w, -1, at::kFloat).to(q.scalar_type());     // softmax(dtype=float32).to(q.dtype)
    if (dropout_p > 0.0) w = at::dropout(w, dropout_p, /*train=*/true);
    out = at::matmul(w, value);
  }
  return out.transpose(1, 2).contiguous();  // attn_output.transpose(1, 2).contiguous()
}

at::Tensor gated_mlp(const at::Tensor& x, const at::Tensor& gate_w, const at::Tensor& up_w,
                     const at::Tensor& down_w, bool gelu_tanh, bool save_params, bool zplan_swiglu) {
  // down_proj(act_fn(gate_proj(x)) * up_proj(x))
  const at::Tensor none;
  const at::Tensor gate = linear_hf(x, gate_w, none, save_params);
  if (zplan_swiglu && !gelu_tanh) {
    const at::Tensor product = fused_swiglu_or_undefined(gate, linear_hf(x, up_w, none, save_params));
    if (product.defined()) return linear_hf(product, down_w, none, save_params);
  }
  const at::Tensor act = gelu_tanh ? at::gelu(gate, "tanh") : at::silu(gate);
  return linear_hf(act * linear_hf(x, up_w, none, save_params), down_w, none, save_params);
}

at::Tensor fused_gated_mlp(const at::Tensor& x, const at::Tensor& gate_up_w, const at::Tensor& down_w,
                           bool gelu_tanh, bool save_params, bool zplan_swiglu) {
  const at::Tensor none;
  // up_states = self.gate_up_proj(hidden_states); gate, up_states = up_states.chunk(2, dim=-1)
  const std::vector<at::Tensor> halves = linear_hf(x, gate_up_w, none, save_params).chunk(2, -1);
  if (zplan_swiglu && !gelu_tanh) {  // the kernel reads the two halves in place (rows 2F apart)
    const at::Tensor product = fused_swiglu_or_undefined(halves[0], halves[1]);
    if (product.defined()) return linear_hf(product, down_w, none, save_params);
  }
  const at::Tensor act = gelu_tanh ? at::gelu(halves[0], "tanh") : at::silu(halves[0]);
  // up_states = up_states * self.activation_fn(gate); return self.down_proj(up_states)
  return linear_hf(halves[1] * act, down_w, none, save_params);
}

at::Tensor gpt2_mlp(const at::Tensor& x, const at::Tensor& fc_w, const at::Tensor& fc_b,
                    const at::Tensor& proj_w, const at::Tensor& proj_b) {
  return conv1d_hf(gelu_new(conv1d_hf(x, fc_w, fc_b)), proj_w, proj_b);
}

RouterOutput moe_router(const at::Tensor& x2d, const at::Tensor& router_w, int64_t top_k,
                        bool normalize, bool save_params) {
  const at::Tensor logits = linear_hf(x2d, router_w, at::Tensor(), save_params);  // [N, E]
  const at::Tensor probs = at::softmax(logits, -1, at::kFloat);  // softmax(dtype=torch.float)
  auto top = at::topk(probs, top_k, -1);
  at::Tensor weights = std::get<0>(top);                        // [N, K] fp32
  if (normalize) weights.div_(weights.sum(-1, true));           // router_top_value /= sum
  // .to(hidden_states.dtype): the logits' dtype but under autocast (16-bit logits, fp32 stream).
  return RouterOutput{weights.to(x2d.scalar_type()), std::get<1>(top)};
}

at::Tensor moe_shared_expert(const at::Tensor& x2d, const at::Tensor& gate_w, const at::Tensor& up_w,
                             const at::Tensor& down_w, const at::Tensor& shared_expert_gate_w,
                             bool save_params) {
  const at::Tensor out = gated_mlp(x2d, gate_w, up_w, down_w, /*gelu_tanh=*/false, save_params);
  if (!shared_expert_gate_w.defined()) return out;
  // F.sigmoid(self.shared_expert_gate(hidden_states)) * shared_expert_output
  return at::sigmoid(linear_hf(x2d, shared_expert_gate_w, at::Tensor(), save_params)) * out;
}

at::Tensor grouped_linear(const at::Tensor& input, const at::Tensor& weight,
                          const std::vector<int64_t>& rows_per_expert) {
  return GroupedLinearFn::apply(input, weight, rows_per_expert);
}

at::Tensor moe_experts_grouped(const at::Tensor& x2d, const RouterOutput& route,
                               const at::Tensor& gate_up, const at::Tensor& down, bool use_grouped_mm) {
  const int64_t n = x2d.size(0), c = x2d.size(1), k = route.experts.size(1);
  const int64_t e = gate_up.size(0), s = n * k;
  const auto long_opts = route.experts.options();
  at::Tensor token_idx = at::arange(n, long_opts).unsqueeze(1).expand({n, k}).reshape({-1});  // [S]
  at::Tensor sample_w = route.weights.reshape({-1});    // [S]
  at::Tensor expert_ids = route.experts.reshape({-1});  // [S]
  at::Tensor selected = x2d.index_select(0, token_idx);  // hidden_states[token_idx]: [S, C]
  at::Tensor perm, inv_perm;
  {
    at::NoGradGuard no_grad;
    perm = at::argsort(expert_ids);
    inv_perm = at::empty_like(perm).scatter_(0, perm, at::arange(s, long_opts));
  }
  at::Tensor expert_ids_g = expert_ids.index_select(0, perm);
  at::Tensor sample_w_g = sample_w.index_select(0, perm);
  at::Tensor selected_g = selected.index_select(0, perm);  // [S, C], sorted by expert
  selected = at::Tensor();                                 // HF drops it too (not saved)
  // expert_mm(in, w): rows of each expert times that expert's w [E, out, in], transposed.
  std::function<at::Tensor(const at::Tensor&, const at::Tensor&)> expert_mm;
  if (use_grouped_mm) {
    TORCH_CHECK(compat::use_grouped_mm(x2d), "zplan runtime: _grouped_mm experts need a CUDA device and libtorch >= 2.9");
    // HF: histc over the sorted expert ids, cumsum to int32 offsets, _grouped_mm on w's
    // transposed view; no host sync (one CUTLASS kernel for bf16 on sm90/sm100).
    const at::Tensor counts = at::histc(expert_ids_g.to(at::kFloat), e, 0, static_cast<double>(e - 1));
    const at::Tensor offs = at::cumsum(counts, 0, at::kInt);
    expert_mm = [offs](const at::Tensor& in, const at::Tensor& w) {
      return compat::grouped_mm(in, w.transpose(-2, -1), offs);
    };
  } else {
    // CPU, libtorch < 2.9, or --experts loop: the row counts come to the host once, then one mm
    // per expert.
    const at::Tensor counts = at::bincount(expert_ids_g, {}, e).cpu();
    std::vector<int64_t> rows(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + e);
    expert_mm = [rows](const at::Tensor& in, const at::Tensor& w) { return grouped_linear(in, w, rows); };
  }
  at::Tensor gate_up_out = expert_mm(selected_g, gate_up);              // [S, 2F]
  auto chunks = gate_up_out.chunk(2, -1);
  at::Tensor gated = at::silu(chunks[0]) * chunks[1];                   // [S, F]
  at::Tensor out_g = expert_mm(gated, down);                            // [S, C]
  out_g = out_g * sample_w_g.unsqueeze(-1);
  at::Tensor out = out_g.index_select(0, inv_perm);                    // out_per_sample_g[inv_perm]
  return out.view({n, k, c}).sum(1).to(x2d.scalar_type());             // [N, C]
}

}  // namespace zplan::rt
