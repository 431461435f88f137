// Gemma 3's blocks against a reference written here from the model's formulas (transformers'
// modeling_gemma3: (1 + w) RMSNorm, sandwich norms, sqrt(C)-scaled embeddings, local/global RoPE
// bases with linear scaling on global layers, query_pre_attn_scalar^-0.5, sliding windows on every
// layer but each pattern-th, GeGLU, tied head), sharing only the parameters; and the mechanisms one
// by one. No transformers-produced reference: this machine has no torch for Python.
#include "tests/runtime/torch_doctest.h"

#include <cmath>
#include <map>

#include "runtime/model/gemma_blocks.h"
#include "runtime/model/transformer.h"
#include "tests/runtime/test_models.h"

using namespace zplan;
using rt::TransformerModel;

namespace {

using Params = std::map<std::string, at::Tensor>;

at::Tensor ref_norm(const at::Tensor& x, const at::Tensor& w, double eps) {
  return x / at::sqrt(x.pow(2).mean({-1}, true) + eps) * (1 + w);
}

// Pairs (i, i + HD/2) rotated by pos * base^(-2i/HD) / factor. x [B, H, T, HD].
at::Tensor ref_rope(const at::Tensor& x, double base, double factor) {
  const int64_t t = x.size(2), hd = x.size(3), half = hd / 2;
  const at::Tensor pos = at::arange(t, at::kDouble).unsqueeze(1);
  const at::Tensor inv = at::pow(base, at::arange(half, at::kDouble) * (-2.0 / hd)) / factor;
  const at::Tensor ang = (pos * inv.unsqueeze(0)).to(at::kFloat);
  const at::Tensor c = at::cos(ang), s = at::sin(ang);
  const at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return at::cat({x1 * c - x2 * s, x2 * c + x1 * s}, -1);
}

// Query head h reads kv head h / (NH / KV); query i sees keys max(0, i - window + 1) .. i.
at::Tensor ref_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, int64_t window) {
  const int64_t nh = q.size(1), t = q.size(2);
  const at::Tensor map = at::arange(nh, at::kLong).floor_divide(nh / k.size(1));
  at::Tensor scores = at::matmul(q, k.index_select(1, map).transpose(-1, -2)) * scale;
  const at::Tensor pos = at::arange(t, at::kLong);
  const at::Tensor behind = pos.unsqueeze(1) - pos.unsqueeze(0);
  at::Tensor hidden = behind.lt(0);
  if (window > 0) hidden = hidden.logical_or(behind.ge(window));
  scores = scores.masked_fill(hidden, -std::numeric_limits<double>::infinity());
  return at::matmul(at::softmax(scores, -1), v.index_select(1, map));
}

at::Tensor ref_gelu_tanh(const at::Tensor& x) {
  return 0.5 * x * (1 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x.pow(3))));
}

at::Tensor ref_forward(const ModelSpec& s, const Params& p, const at::Tensor& ids) {
  const int64_t b = ids.size(0), t = ids.size(1), hd = s.head_dim;
  const at::Tensor embed = p.at("model.embed_tokens.weight");
  at::Tensor x = embed.index_select(0, ids.reshape({-1})).view({b, t, -1}) * std::sqrt(static_cast<double>(s.hidden));
  auto norm = [&](const at::Tensor& h, const std::string& n) { return ref_norm(h, p.at(n + ".weight"), s.norm_eps); };
  auto lin = [&](const at::Tensor& h, const std::string& n) { return at::matmul(h, p.at(n + ".weight").t()); };
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string pre = "model.layers." + std::to_string(i) + ".";
    const bool local = (i + 1) % s.sliding_window_pattern != 0;
    const double base = local ? s.rope_local_theta : s.rope_theta, factor = local ? 1.0 : s.rope_linear_factor;
    const at::Tensor h = norm(x, pre + "input_layernorm");
    at::Tensor q = norm(lin(h, pre + "self_attn.q_proj").view({b, t, -1, hd}), pre + "self_attn.q_norm");
    at::Tensor k = norm(lin(h, pre + "self_attn.k_proj").view({b, t, -1, hd}), pre + "self_attn.k_norm");
    q = ref_rope(q.permute({0, 2, 1, 3}), base, factor);
    k = ref_rope(k.permute({0, 2, 1, 3}), base, factor);
    const at::Tensor v = lin(h, pre + "self_attn.v_proj").view({b, t, -1, hd}).permute({0, 2, 1, 3});
    const at::Tensor a = ref_attention(q, k, v, 1.0 / std::sqrt(s.query_pre_attn_scalar), local ? s.sliding_window : 0);
    x = x + norm(lin(a.permute({0, 2, 1, 3}).reshape({b, t, -1}), pre + "self_attn.o_proj"), pre + "post_attention_layernorm");
    const at::Tensor h2 = norm(x, pre + "pre_feedforward_layernorm");
    const at::Tensor inner = ref_gelu_tanh(lin(h2, pre + "mlp.gate_proj")) * lin(h2, pre + "mlp.up_proj");
    x = x + norm(lin(inner, pre + "mlp.down_proj"), pre + "post_feedforward_layernorm");
  }
  return at::matmul(norm(x, "model.norm"), embed.t());  // tied lm_head
}

// Random values for every parameter, norms included (Gemma initialises them to 0, where (1 + w)
// and w * x would not differ from each other's mistakes).
void randomise(const TransformerModel& m) {
  at::NoGradGuard no_grad;
  for (const auto& np : m.params()) np.tensor.copy_(at::randn_like(np.tensor) * 0.3);
}

std::map<std::string, at::Tensor> take_grads(const TransformerModel& m) {
  std::map<std::string, at::Tensor> g;
  for (const auto& np : m.params()) {
    g[np.name] = np.tensor.grad().defined() ? np.tensor.grad().clone() : at::zeros_like(np.tensor);
    np.tensor.mutable_grad() = at::Tensor();
  }
  return g;
}

void check_against_reference(const ModelSpec& spec, int64_t tokens) {
  at::manual_seed(11);
  TransformerModel model(spec, rt::BuildOptions{});  // fp32, CPU, eager attention
  randomise(model);
  const at::Tensor ids = at::randint(0, spec.vocab, {2, tokens}, at::kLong);
  const at::Tensor targets = at::randint(0, spec.vocab, {2, tokens}, at::kLong);
  const at::Tensor logits = model.forward(ids);
  const at::Tensor loss = rt::causal_lm_loss(logits, targets);
  loss.backward();
  const auto ours = take_grads(model);

  Params p;
  for (const auto& np : model.params()) p[np.name] = np.tensor;
  const at::Tensor ref_logits = ref_forward(spec, p, ids);
  const at::Tensor logp = at::log_softmax(ref_logits.reshape({-1, spec.vocab}), -1);
  const at::Tensor rloss = -logp.gather(1, targets.reshape({-1, 1})).mean();
  rloss.backward();
  const auto theirs = take_grads(model);

  CHECK(at::allclose(logits, ref_logits, 1e-4, 1e-4));
  CHECK(loss.item<double>() == doctest::Approx(rloss.item<double>()).epsilon(1e-5));
  for (const auto& [name, g] : ours) {
    INFO("parameter " << name);
    CHECK(at::allclose(g, theirs.at(name), 1e-3, 1e-5));
  }
}

}  // namespace

TEST_CASE("runtime: Gemma 3 block (sandwich norms, local/global RoPE, scaled scores) matches the reference") {
  check_against_reference(test::tiny_gemma3(), 12);  // 12 tokens: the local layers' window of 5 masks
  check_against_reference(test::tiny_gemma3(), 4);   // within the window: causal masks only
  ModelSpec unscaled = test::tiny_gemma3();          // gemma-3-1b: no rope_scaling, score scale 256 = head_dim
  unscaled.rope_linear_factor = 1.0;
  unscaled.query_pre_attn_scalar = unscaled.head_dim;
  check_against_reference(unscaled, 12);
}

TEST_CASE("runtime: Gemma RMSNorm multiplies by (1 + weight) in fp32 and returns the input dtype") {
  // 2^-9 is below bf16's resolution at 1: (1 + w) in bf16 would be 1, in fp32 it is 1.00195.
  const at::Tensor w = at::full({4}, std::ldexp(1.0, -9), at::kBFloat16);
  const at::Tensor y = rt::gemma_rms_norm(at::ones({1, 4}), w, 0.0);
  CHECK(y[0][0].item<double>() == doctest::Approx(1.0 + std::ldexp(1.0, -9)).epsilon(1e-7));
  const at::Tensor x16 = at::randn({2, 3, 8}).to(at::kBFloat16);
  const at::Tensor zero = at::zeros({8}, at::kBFloat16);
  const at::Tensor y16 = rt::gemma_rms_norm(x16, zero, 1e-6);
  CHECK((y16.scalar_type() == at::kBFloat16));
  const at::Tensor x32 = x16.to(at::kFloat);
  CHECK(at::equal(y16, ref_norm(x32, zero.to(at::kFloat), 1e-6).to(at::kBFloat16)));
}

TEST_CASE("runtime: Gemma's embedding factor is sqrt(hidden) rounded to the compute dtype") {
  CHECK(rt::gemma_embed_scale(1152, at::kBFloat16, at::kCPU).item<float>() == 34.0f);  // 33.94 in fp32
  CHECK(rt::gemma_embed_scale(1152, at::kFloat, at::kCPU).item<float>() == static_cast<float>(std::sqrt(1152.0)));
  const at::Tensor table = at::randn({10, 1152}).to(at::kBFloat16);
  const at::Tensor ids = at::tensor({3, 7}, at::kLong);
  CHECK(at::equal(rt::gemma_scaled_embedding(table, ids, 1152), table.index_select(0, ids) * 34.0));
}

TEST_CASE("runtime: Gemma's sliding-window layers equal global masking while the sequence fits the window") {
  at::manual_seed(5);
  ModelSpec s = test::tiny_gemma3();
  TransformerModel windowed(s, rt::BuildOptions{});
  randomise(windowed);
  ModelSpec wide = s;
  wide.sliding_window = 64;  // the same layers are local (same RoPE bases); no window binds
  TransformerModel unbound(wide, rt::BuildOptions{});
  {
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < unbound.params().size(); ++i) unbound.params()[i].tensor.copy_(windowed.params()[i].tensor);
  }
  const at::Tensor within = at::randint(0, s.vocab, {1, 5}, at::kLong);  // seq == window
  CHECK(at::allclose(windowed.forward(within), unbound.forward(within), 1e-5, 1e-6));
  const at::Tensor beyond = at::randint(0, s.vocab, {1, 12}, at::kLong);
  const at::Tensor a = windowed.forward(beyond), b = unbound.forward(beyond);
  CHECK(at::allclose(a.narrow(1, 0, 5), b.narrow(1, 0, 5), 1e-5, 1e-6));  // the first 5 see no more
  CHECK_FALSE(at::allclose(a.narrow(1, 5, 7), b.narrow(1, 5, 7), 1e-3, 1e-4));
}

TEST_CASE("runtime: Gemma's head is the embedding (one parameter, both gradients) and its norms start at 0") {
  at::manual_seed(2);
  TransformerModel model(test::tiny_gemma3(), rt::BuildOptions{});
  int norms = 0;
  for (const auto& np : model.params()) {
    CHECK(np.name != "lm_head.weight");
    if (np.name.find("norm") != std::string::npos) {
      ++norms;
      CHECK(at::count_nonzero(np.tensor).item<int64_t>() == 0);  // Gemma3RMSNorm init: zeros
    }
  }
  CHECK(norms == 3 * (4 + 2) + 1);  // four sandwich norms and q/k norms per layer, the final norm
  const at::Tensor& embed = model.params().front().tensor;
  CHECK(model.params().front().name == "model.embed_tokens.weight");
  CHECK(model.head_weight().is_same(embed));
  // A token that is never an input still gets a gradient, from the head alone.
  const at::Tensor ids = at::full({1, 6}, 3, at::kLong);
  rt::causal_lm_loss(model.forward(ids), at::full({1, 6}, 9, at::kLong)).backward();
  CHECK(embed.grad()[9].abs().sum().item<double>() > 0);
  CHECK(embed.grad()[3].abs().sum().item<double>() > 0);
}

TEST_CASE("runtime: Gemma 3 trains in bf16 on the CPU (finite loss and gradients)") {
  at::manual_seed(4);
  rt::BuildOptions opt;
  opt.dtype = at::kBFloat16;
  TransformerModel model(test::tiny_gemma3(), opt);
  const at::Tensor ids = at::randint(0, 64, {2, 12}, at::kLong);
  const at::Tensor logits = model.forward(ids);
  CHECK((logits.scalar_type() == at::kBFloat16));
  const at::Tensor loss = rt::causal_lm_loss(logits, at::randint(0, 64, {2, 12}, at::kLong));
  loss.backward();
  CHECK(std::isfinite(loss.item<double>()));
  for (const auto& np : model.params()) {
    INFO("parameter " << np.name);
    CHECK(np.tensor.grad().defined());
    CHECK(at::isfinite(np.tensor.grad()).all().item<bool>());
  }
}
