// The chunked loss path (runtime/model/chunked_loss.h) against the plain one, on CPU in fp32: the
// loss and the gradients of the hidden states and the lm_head weight for several chunk counts
// (uneven last slice, ignored targets, a loss scale), every parameter's gradient of whole tiny
// models (untied and tied heads), three AdamW steps through run_training, and bad chunk counts.
#include "tests/runtime/torch_doctest.h"

#include <algorithm>
#include <cmath>

#include "planner/input_error.h"
#include "runtime/model/chunked_loss.h"
#include "runtime/model/transformer.h"
#include "runtime/run_api.h"
#include "tests/runtime/test_models.h"

using namespace zplan;

namespace {

// Tight for fp32 (machine epsilon 1.2e-7): the chunked path sums the same products in another
// order, so each element may differ by a few roundings of the tensor's largest terms; the
// difference is measured against the tensor's largest magnitude.
bool close(const at::Tensor& a, const at::Tensor& b) {
  const double scale = std::max(b.abs().max().item<double>(), 1e-30);
  const double diff = (a - b).abs().max().item<double>();
  MESSAGE("max |chunked - plain| / max |plain| = " << diff / scale);
  return diff <= 4e-6 * scale;  // measured at most 7.9e-7
}

struct HeadCase {
  at::Tensor hidden, head_w, targets;  // [B, T, C] leaf, [V, C] leaf, [B, T] with some -100
};

HeadCase head_case(int64_t b, int64_t t, int64_t c, int64_t v) {
  at::manual_seed(5);
  HeadCase h;
  h.hidden = at::randn({b, t, c}).requires_grad_(true);
  h.head_w = (at::randn({v, c}) * 0.3).requires_grad_(true);
  h.targets = at::randint(0, v, {b, t}, at::kLong);
  h.targets.index_put_({0, 1}, -100);  // ignored, as HF's padding label
  h.targets.index_put_({b - 1, t - 1}, -100);
  return h;
}

// Loss and the two gradients after backward of scale * loss.
std::vector<at::Tensor> loss_and_grads(const HeadCase& base, int64_t chunks, double scale) {
  const at::Tensor h = base.hidden.detach().clone().requires_grad_(true);
  const at::Tensor w = base.head_w.detach().clone().requires_grad_(true);
  const at::Tensor loss = chunks == 0 ? rt::causal_lm_loss(at::linear(h, w), base.targets)
                                      : rt::chunked_linear_cross_entropy(h, w, base.targets, chunks);
  (loss * scale).backward();
  return {loss.detach(), h.grad(), w.grad()};
}

std::vector<at::Tensor> model_grads(const ModelSpec& spec, int64_t chunks, double* loss_out) {
  at::manual_seed(11);
  rt::TransformerModel model(spec, rt::BuildOptions{});
  const at::Tensor ids = at::randint(0, spec.vocab, {2, 16}, at::kLong);
  const at::Tensor targets = at::randint(0, spec.vocab, {2, 16}, at::kLong);
  const at::Tensor loss = rt::lm_loss(model, ids, targets, chunks);
  loss.backward();
  *loss_out = loss.item<double>();
  std::vector<at::Tensor> g;
  for (const auto& p : model.params()) g.push_back(p.tensor.grad().clone());
  return g;
}

RunResult run_with_chunks(int64_t chunks) {
  Strategy s;
  s.precision = Precision::fp32;
  s.micro_batch = 2;
  s.checkpointed_layers = 1;
  s.loss_chunks = chunks;
  TrainingSpec t;
  t.seq_len = 16;
  t.framework = Framework::plain;
  RunOptions o = test::quiet_cpu_run(3);
  o.learning_rate = 1e-2;
  o.collect_parameters = true;
  return run_training(test::tiny_qwen3(), t, s, o);
}

}  // namespace

TEST_CASE("chunked loss: loss and gradients of hidden states and lm_head equal the plain path (fp32)") {
  const HeadCase base = head_case(2, 13, 24, 50);  // 26 tokens: 3 and 7 chunks leave a short last slice
  const auto plain = loss_and_grads(base, 0, 1.0);
  for (int64_t chunks : {1, 2, 3, 7, 26}) {
    INFO("chunks " << chunks);
    const auto chunked = loss_and_grads(base, chunks, 1.0);
    CHECK(close(chunked[0], plain[0]));
    CHECK(close(chunked[1], plain[1]));
    CHECK(close(chunked[2], plain[2]));
  }
  // A loss scale (fp16's scaler, 1/accumulation) reaches the held gradients through backward.
  const auto plain_scaled = loss_and_grads(base, 0, 1024.0);
  const auto chunked_scaled = loss_and_grads(base, 4, 1024.0);
  CHECK(close(chunked_scaled[1], plain_scaled[1]));
  CHECK(close(chunked_scaled[2], plain_scaled[2]));
  // The check can fail: a wrong gradient (here the plain one at twice the scale) is not close.
  CHECK_FALSE(close(chunked_scaled[2], loss_and_grads(base, 0, 2048.0)[2]));
}

TEST_CASE("chunked loss: without grad mode only the loss is computed, equal to the plain one") {
  const HeadCase base = head_case(1, 9, 16, 40);
  at::NoGradGuard no_grad;
  const at::Tensor plain = rt::causal_lm_loss(at::linear(base.hidden, base.head_w), base.targets);
  CHECK(close(rt::chunked_linear_cross_entropy(base.hidden, base.head_w, base.targets, 4), plain));
}

TEST_CASE("chunked loss: every parameter's gradient of a tiny model equals the plain path (untied and tied head)") {
  for (const ModelSpec& spec : {test::tiny_qwen3(), test::tiny_llama(), test::tiny_gpt2(), test::tiny_moe()}) {
    INFO(spec.name);
    double plain_loss = 0, chunked_loss = 0;
    const auto plain = model_grads(spec, 0, &plain_loss);
    const auto chunked = model_grads(spec, 5, &chunked_loss);
    CHECK(chunked_loss == doctest::Approx(plain_loss).epsilon(1e-6));
    REQUIRE(plain.size() == chunked.size());
    for (size_t i = 0; i < plain.size(); ++i) CHECK(close(chunked[i], plain[i]));
  }
}

TEST_CASE("chunked loss: three AdamW steps through run_training match the plain path") {
  const RunResult plain = run_with_chunks(0);
  const RunResult chunked = run_with_chunks(4);
  REQUIRE(plain.error.empty());
  REQUIRE(chunked.error.empty());
  REQUIRE(plain.losses.size() == 3);
  REQUIRE(chunked.losses.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(chunked.losses[i] == doctest::Approx(plain.losses[i]).epsilon(1e-6));
  REQUIRE(plain.final_parameters.size() == chunked.final_parameters.size());
  double worst = 0;
  for (size_t i = 0; i < plain.final_parameters.size(); ++i)
    worst = std::max(worst, static_cast<double>(std::abs(plain.final_parameters[i] - chunked.final_parameters[i])));
  // AdamW divides by sqrt(v): a gradient that is nearly zero turns a last-digit difference into a
  // visible one (measured 1.65e-5 after three steps of lr 1e-2); 5e-5 is 0.5% of one step.
  CHECK(worst < 5e-5);
}

TEST_CASE("chunked loss: run_training refuses a chunk count outside 0..tokens of a sequence") {
  Strategy s;
  s.precision = Precision::fp32;
  TrainingSpec t;
  t.seq_len = 16;
  RunOptions o = test::quiet_cpu_run(1);
  s.loss_chunks = -1;
  CHECK_THROWS_WITH_AS(run_training(test::tiny_qwen3(), t, s, o), doctest::Contains("--loss-chunks"), InputError);
  s.loss_chunks = 17;
  CHECK_THROWS_WITH_AS(run_training(test::tiny_qwen3(), t, s, o), doctest::Contains("--loss-chunks"), InputError);
  s.loss_chunks = 16;  // one token per chunk is allowed
  CHECK(run_training(test::tiny_qwen3(), t, s, o).error.empty());
}
