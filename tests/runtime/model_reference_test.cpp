// Forward and backward of each block family (GPT-2, Llama/Qwen2, Qwen3, Phi-3, Qwen3-MoE,
// Qwen2-MoE) against a reference written here from the papers' formulas with plain tensor ops
// (explicit rotation angles, per-head GQA index mapping, masked softmax, a per-token MoE loop,
// fused weights as separate row ranges), sharing only the parameters.
#include "tests/runtime/torch_doctest.h"

#include <cmath>
#include <map>

#include "planner/input_error.h"
#include "runtime/model/transformer.h"
#include "tests/runtime/test_models.h"

using namespace zplan;
using rt::TransformerModel;

namespace {

using Params = std::map<std::string, at::Tensor>;

Params by_name(const TransformerModel& m) {
  Params p;
  for (const auto& np : m.params()) p[np.name] = np.tensor;
  return p;
}

at::Tensor ref_rms(const at::Tensor& x, const at::Tensor& w, double eps) {
  return w * x / at::sqrt(x.pow(2).mean({-1}, true) + eps);
}

at::Tensor ref_layer_norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const at::Tensor mu = x.mean({-1}, true);
  const at::Tensor var = (x - mu).pow(2).mean({-1}, true);
  return (x - mu) / at::sqrt(var + 1e-5) * w + b;
}

// Rotation by angle pos * base^(-2i/HD) of the pairs (i, i + HD/2). x [B, H, T, HD].
at::Tensor ref_rope(const at::Tensor& x, double base) {
  const int64_t t = x.size(2), hd = x.size(3), half = hd / 2;
  const at::Tensor pos = at::arange(t, at::kDouble).unsqueeze(1);
  const at::Tensor inv = at::pow(base, at::arange(half, at::kDouble) * (-2.0 / hd));
  const at::Tensor ang = (pos * inv.unsqueeze(0)).to(at::kFloat);  // [T, half]
  const at::Tensor c = at::cos(ang), s = at::sin(ang);
  const at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return at::cat({x1 * c - x2 * s, x2 * c + x1 * s}, -1);
}

// q [B, NH, T, HD], k/v [B, KV, T, HD]: query head h reads kv head h / (NH / KV). window > 0:
// query i sees keys i - window + 1 .. i.
at::Tensor ref_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t window = 0) {
  const int64_t nh = q.size(1), kvh = k.size(1), t = q.size(2), hd = q.size(3);
  const at::Tensor map = at::arange(nh, at::kLong).floor_divide(nh / kvh);
  const at::Tensor kk = k.index_select(1, map), vv = v.index_select(1, map);
  at::Tensor scores = at::matmul(q, kk.transpose(-1, -2)) / std::sqrt(static_cast<double>(hd));
  const at::Tensor pos = at::arange(t, at::kLong);
  const at::Tensor behind = pos.unsqueeze(1) - pos.unsqueeze(0);  // i - j
  at::Tensor hidden = behind.lt(0);
  if (window > 0) hidden = hidden.logical_or(behind.ge(window));
  scores = scores.masked_fill(hidden, -std::numeric_limits<double>::infinity());
  return at::matmul(at::softmax(scores, -1), vv);  // [B, NH, T, HD]
}

at::Tensor heads(const at::Tensor& x, int64_t hd) {  // [B, T, H*HD] -> [B, H, T, HD]
  return x.view({x.size(0), x.size(1), -1, hd}).permute({0, 2, 1, 3});
}

at::Tensor ref_silu(const at::Tensor& x) { return x * at::sigmoid(x); }

// Qwen3-MoE reference: every token separately through its top-k experts.
at::Tensor ref_moe(const at::Tensor& x, const Params& p, const std::string& pre, const ModelSpec& s) {
  const int64_t b = x.size(0), t = x.size(1), c = x.size(2), k = s.moe.experts_per_token;
  const at::Tensor flat = x.reshape({b * t, c});
  const at::Tensor gu = p.at(pre + "mlp.experts.gate_up_proj"), dn = p.at(pre + "mlp.experts.down_proj");
  const int64_t f = s.moe.expert_ffn;
  std::vector<at::Tensor> rows;
  for (int64_t n = 0; n < b * t; ++n) {
    const at::Tensor xn = flat[n];
    const at::Tensor probs = at::softmax(at::mv(p.at(pre + "mlp.gate.weight"), xn), 0);
    auto top = at::topk(probs, k);
    at::Tensor w = std::get<0>(top);
    if (s.moe.normalize_topk) w = w / w.sum();
    at::Tensor acc = at::zeros({c});
    for (int64_t j = 0; j < k; ++j) {
      const int64_t e = std::get<1>(top)[j].item<int64_t>();
      const at::Tensor g = at::mv(gu[e].narrow(0, 0, f), xn), u = at::mv(gu[e].narrow(0, f, f), xn);
      acc = acc + w[j] * at::mv(dn[e], ref_silu(g) * u);
    }
    if (s.moe.shared_experts > 0) {  // Qwen2-MoE: + sigmoid(g . x) * down(silu(gate x) * up x)
      const std::string sh = pre + "mlp.shared_expert.";
      const at::Tensor inner = ref_silu(at::mv(p.at(sh + "gate_proj.weight"), xn)) * at::mv(p.at(sh + "up_proj.weight"), xn);
      const at::Tensor shared = at::mv(p.at(sh + "down_proj.weight"), inner);
      const std::string gate = pre + "mlp.shared_expert_gate.weight";
      acc = acc + (s.moe.shared_expert_gate ? at::sigmoid(at::dot(p.at(gate)[0], xn)) * shared : shared);
    }
    rows.push_back(acc);
  }
  return at::stack(rows).view({b, t, c});
}

at::Tensor ref_forward(const ModelSpec& s, const Params& p, const at::Tensor& ids) {
  const int64_t b = ids.size(0), t = ids.size(1), c = s.hidden, hd = s.head_dim;
  const bool gpt2 = s.qkv_projection == QkvProjection::c_attn;
  // Parameters by their Hugging Face names, written out here (GPT-2's tree or Llama's).
  const std::string embed = gpt2 ? "transformer.wte.weight" : "model.embed_tokens.weight";
  at::Tensor x = p.at(embed).index_select(0, ids.reshape({-1})).view({b, t, c});
  if (gpt2) x = x + p.at("transformer.wpe.weight").narrow(0, 0, t).unsqueeze(0);
  auto norm = [&](const at::Tensor& h, const std::string& n) {
    return gpt2 ? ref_layer_norm(h, p.at(n + ".weight"), p.at(n + ".bias")) : ref_rms(h, p.at(n + ".weight"), s.norm_eps);
  };
  auto lin = [&](const at::Tensor& h, const std::string& n) {  // nn.Linear, bias if present
    at::Tensor y = at::matmul(h, p.at(n + ".weight").t());
    return p.count(n + ".bias") ? y + p.at(n + ".bias") : y;
  };
  // Phi-3's fused weights as separate projections: output rows [first, first + rows) of `n`.
  auto lin_rows = [&](const at::Tensor& h, const std::string& n, int64_t first, int64_t rows) {
    at::Tensor y = at::matmul(h, p.at(n + ".weight").narrow(0, first, rows).t());
    return p.count(n + ".bias") ? y + p.at(n + ".bias").narrow(0, first, rows) : y;
  };
  const bool fused = s.qkv_projection == QkvProjection::fused;
  const int64_t qd = s.q_dim(), kd = s.kv_dim();
  auto proj = [&](const at::Tensor& h, const std::string& pre, const char* which) {  // q, k or v
    const std::string w(which);
    if (!fused) return lin(h, pre + "self_attn." + w + "_proj");
    const int64_t first = w == "q" ? 0 : w == "k" ? qd : qd + kd;
    return lin_rows(h, pre + "self_attn.qkv_proj", first, w == "q" ? qd : kd);
  };
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string pre = (gpt2 ? "transformer.h." : "model.layers.") + std::to_string(i) + ".";
    const at::Tensor h = norm(x, pre + (gpt2 ? "ln_1" : "input_layernorm"));
    at::Tensor q, k, v;
    if (gpt2) {
      const at::Tensor qkv = at::matmul(h, p.at(pre + "attn.c_attn.weight")) + p.at(pre + "attn.c_attn.bias");
      q = heads(qkv.narrow(-1, 0, c), hd);
      k = heads(qkv.narrow(-1, c, c), hd);
      v = heads(qkv.narrow(-1, 2 * c, c), hd);
    } else {
      q = proj(h, pre, "q").view({b, t, -1, hd});
      k = proj(h, pre, "k").view({b, t, -1, hd});
      if (s.qk_norm) {
        q = ref_rms(q, p.at(pre + "self_attn.q_norm.weight"), s.norm_eps);
        k = ref_rms(k, p.at(pre + "self_attn.k_norm.weight"), s.norm_eps);
      }
      const double base = s.rope_theta;
      q = ref_rope(q.permute({0, 2, 1, 3}), base);
      k = ref_rope(k.permute({0, 2, 1, 3}), base);
      v = heads(proj(h, pre, "v"), hd);
    }
    const int64_t window = s.layer_slides(i, t) ? s.sliding_window : 0;
    const at::Tensor a = ref_attention(q, k, v, window).permute({0, 2, 1, 3}).reshape({b, t, -1});
    x = x + (gpt2 ? at::matmul(a, p.at(pre + "attn.c_proj.weight")) + p.at(pre + "attn.c_proj.bias")
                  : lin(a, pre + "self_attn.o_proj"));
    const at::Tensor h2 = norm(x, pre + (gpt2 ? "ln_2" : "post_attention_layernorm"));
    if (s.layer_is_sparse(i)) {
      x = x + ref_moe(h2, p, pre, s);
    } else if (gpt2) {
      const at::Tensor up = at::matmul(h2, p.at(pre + "mlp.c_fc.weight")) + p.at(pre + "mlp.c_fc.bias");
      x = x + at::matmul(at::gelu(up, "tanh"), p.at(pre + "mlp.c_proj.weight")) + p.at(pre + "mlp.c_proj.bias");
    } else if (s.fused_gate_up_proj) {  // gate_up_proj: the gate's F rows, then the up's
      const std::string gu = pre + "mlp.gate_up_proj";
      x = x + lin(ref_silu(lin_rows(h2, gu, 0, s.ffn)) * lin_rows(h2, gu, s.ffn, s.ffn), pre + "mlp.down_proj");
    } else {
      x = x + lin(ref_silu(lin(h2, pre + "mlp.gate_proj")) * lin(h2, pre + "mlp.up_proj"), pre + "mlp.down_proj");
    }
  }
  x = norm(x, gpt2 ? "transformer.ln_f" : "model.norm");
  const at::Tensor head = p.count("lm_head.weight") ? p.at("lm_head.weight") : p.at(embed);
  return at::matmul(x, head.t());
}

at::Tensor ref_loss(const at::Tensor& logits, const at::Tensor& targets) {
  const at::Tensor logp = at::log_softmax(logits.reshape({-1, logits.size(-1)}), -1);
  return -logp.gather(1, targets.reshape({-1, 1})).mean();
}

std::map<std::string, at::Tensor> take_grads(const TransformerModel& m) {
  std::map<std::string, at::Tensor> g;
  for (const auto& np : m.params()) {
    g[np.name] = np.tensor.grad().defined() ? np.tensor.grad().clone() : at::zeros_like(np.tensor);
    np.tensor.mutable_grad() = at::Tensor();
  }
  return g;
}

void check_against_reference(const ModelSpec& spec) {
  at::manual_seed(7);
  rt::BuildOptions opt;  // fp32, CPU, eager attention (what libtorch 1.13 offers)
  TransformerModel model(spec, opt);
  const at::Tensor ids = at::randint(0, spec.vocab, {2, 12}, at::kLong);
  const at::Tensor targets = at::randint(0, spec.vocab, {2, 12}, at::kLong);

  const at::Tensor logits = model.forward(ids);
  CHECK((logits.sizes() == at::IntArrayRef({2, 12, spec.vocab})));
  const at::Tensor loss = rt::causal_lm_loss(logits, targets);
  loss.backward();
  const auto ours = take_grads(model);

  const at::Tensor ref_logits = ref_forward(spec, by_name(model), ids);
  const at::Tensor rloss = ref_loss(ref_logits, targets);
  rloss.backward();
  const auto theirs = take_grads(model);

  CHECK(at::allclose(logits, ref_logits, 1e-4, 1e-5));
  CHECK(loss.item<double>() == doctest::Approx(rloss.item<double>()).epsilon(1e-5));
  for (const auto& [name, g] : ours) {
    INFO("parameter " << name);
    CHECK(at::allclose(g, theirs.at(name), 1e-3, 1e-6));
  }
}

}  // namespace

TEST_CASE("runtime: Qwen3 dense block (RMSNorm, q/k norm, RoPE, GQA, SwiGLU) matches the reference") {
  check_against_reference(test::tiny_qwen3());
}

TEST_CASE("runtime: Llama/Qwen2 block (biased qkv, tied head) matches the reference") {
  check_against_reference(test::tiny_llama());
}

TEST_CASE("runtime: GPT-2 block (LayerNorm, Conv1D, gelu_new, learned positions) matches the reference") {
  check_against_reference(test::tiny_gpt2());
}

TEST_CASE("runtime: Qwen3-MoE block (router, top-k, sorted grouped experts) matches a per-token loop") {
  check_against_reference(test::tiny_moe());
}

TEST_CASE("runtime: Phi-3 block (fused qkv_proj and gate_up_proj) matches separate projections") {
  check_against_reference(test::tiny_phi3());
  ModelSpec gqa = test::tiny_phi3();  // Phi-3-medium's layout: fewer KV heads in the fused qkv_proj
  gqa.kv_heads = 2;
  check_against_reference(gqa);
}

TEST_CASE("runtime: Qwen2-MoE block (gated shared expert, unnormalised top-k) matches a per-token loop") {
  check_against_reference(test::tiny_qwen2_moe());
  ModelSpec ungated = test::tiny_qwen2_moe();  // a shared expert added unscaled
  ungated.moe.shared_expert_gate = false;
  ungated.moe.normalize_topk = true;
  check_against_reference(ungated);
}

TEST_CASE("runtime: RMSNorm upcasts 16-bit input to fp32 and returns the input dtype") {
  const at::Tensor x = at::randn({2, 3, 8}).to(at::kBFloat16);
  const at::Tensor w = at::ones({8}, at::kBFloat16);
  const at::Tensor y = rt::rms_norm_hf(x, w, 1e-6);
  CHECK((y.scalar_type() == at::kBFloat16));
  const at::Tensor ref = ref_rms(x.to(at::kFloat), w.to(at::kFloat), 1e-6);
  CHECK(at::allclose(y.to(at::kFloat), ref, 1e-2, 1e-2));
}

TEST_CASE("runtime: grouped_linear equals one matmul per expert, forward and backward") {
  at::manual_seed(3);
  const std::vector<int64_t> rows = {3, 0, 5, 2};
  const at::Tensor in = at::randn({10, 6}).requires_grad_(true);
  const at::Tensor w = at::randn({4, 7, 6}).requires_grad_(true);
  const at::Tensor out = rt::grouped_linear(in, w, rows);
  std::vector<at::Tensor> parts;
  int64_t start = 0;
  for (size_t e = 0; e < rows.size(); ++e) {
    parts.push_back(at::matmul(in.narrow(0, start, rows[e]), w[e].t()));
    start += rows[e];
  }
  const at::Tensor ref = at::cat(parts, 0);
  CHECK(at::allclose(out, ref, 1e-5, 1e-6));
  const at::Tensor g = at::randn({10, 7});
  const auto ours = torch::autograd::grad({out}, {in, w}, {g});
  const auto theirs = torch::autograd::grad({ref}, {in, w}, {g});
  CHECK(at::allclose(ours[0], theirs[0], 1e-5, 1e-6));
  CHECK(at::allclose(ours[1], theirs[1], 1e-5, 1e-6));
}

TEST_CASE("runtime: unsupported model features are rejected with InputError naming the field") {
  ModelSpec s = test::tiny_gpt2();  // sandwich norms are RMSNorms without a bias (Gemma)
  s.sandwich_norm = true;
  CHECK_THROWS_WITH_AS(rt::check_runtime_supports(s), doctest::Contains("sandwich_norm"), InputError);
  s = test::tiny_moe();
  s.mlp = MlpKind::geglu;
  CHECK_THROWS_WITH_AS(rt::check_runtime_supports(s), doctest::Contains("SwiGLU"), InputError);
}

TEST_CASE("runtime: sliding-window layers (Mistral v0.1, Phi-3) match a banded-mask reference") {
  ModelSpec s = test::tiny_llama();
  s.sliding_window = 5;  // every layer slides; the reference's 12 tokens exceed the window
  check_against_reference(s);
  s = test::tiny_phi3();
  s.sliding_window = 7;
  check_against_reference(s);
  // And the window matters: with the window the logits differ from full causal attention.
  at::manual_seed(5);
  TransformerModel windowed(s, rt::BuildOptions{});
  ModelSpec full = s;
  full.sliding_window = 0;
  TransformerModel global(full, rt::BuildOptions{});
  {
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < global.params().size(); ++i) global.params()[i].tensor.copy_(windowed.params()[i].tensor);
  }
  const at::Tensor ids = at::randint(0, s.vocab, {1, 12}, at::kLong);
  const at::Tensor a = windowed.forward(ids), b = global.forward(ids);
  CHECK(at::allclose(a.narrow(1, 0, 7), b.narrow(1, 0, 7), 1e-5, 1e-6));  // the first 7 see no more
  CHECK_FALSE(at::allclose(a.narrow(1, 7, 5), b.narrow(1, 7, 5), 1e-3, 1e-4));
}
