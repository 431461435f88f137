// Training-loop behaviour on CPU: checkpointing (on device and "CPU" checkpointing) gives the same
// gradients as none, fp16 loss scaling skips a step on overflow and halves the scale, AdamW matches
// its formula, the token-file loader, run_training's API and validation, and loss falling on a
// small real text (this repository's docs, tokenised bytewise).
#include "tests/runtime/torch_doctest.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "planner/input_error.h"
#include "runtime/data/token_data.h"
#include "runtime/model/transformer.h"
#include "runtime/run_api.h"
#include "runtime/train/optimizer.h"
#include "tests/runtime/test_corpus.h"
#include "tests/runtime/test_models.h"

using namespace zplan;

namespace {

// Gradients of every parameter after one forward/backward with `ckpt` checkpointed layers.
std::vector<at::Tensor> grads_with(const ModelSpec& spec, int64_t ckpt, bool cpu) {
  at::manual_seed(11);
  rt::BuildOptions opt;
  opt.checkpointed_layers = ckpt;
  opt.cpu_checkpointing = cpu;
  rt::TransformerModel model(spec, opt);
  const at::Tensor ids = at::randint(0, spec.vocab, {2, 16}, at::kLong);
  const at::Tensor targets = at::randint(0, spec.vocab, {2, 16}, at::kLong);
  rt::causal_lm_loss(model.forward(ids), targets).backward();
  std::vector<at::Tensor> g;
  for (const auto& p : model.params()) g.push_back(p.tensor.grad().clone());
  return g;
}

void check_same(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(at::allclose(a[i], b[i], 1e-6, 1e-7));
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("zplan_rt_" + name)).string();
}

TrainingSpec training_of(int64_t seq) {
  TrainingSpec t;
  t.seq_len = seq;
  t.framework = Framework::plain;
  return t;
}

}  // namespace

TEST_CASE("runtime: checkpointing any number of layers gives the gradients of no checkpointing") {
  for (const ModelSpec& spec : {test::tiny_qwen3(), test::tiny_gpt2(), test::tiny_moe()}) {
    INFO(spec.name);
    const auto base = grads_with(spec, 0, false);
    check_same(base, grads_with(spec, 1, false));
    check_same(base, grads_with(spec, spec.layers, false));
    check_same(base, grads_with(spec, spec.layers, true));  // CPU checkpointing
  }
}

TEST_CASE("runtime: checkpointing replays dropout's RNG state (GPT-2 with HF's 0.1 dropouts)") {
  ModelSpec spec = test::tiny_gpt2();
  spec.hidden_dropout = 0.1;
  spec.attention_dropout = 0.1;
  const auto base = grads_with(spec, 0, false);
  check_same(base, grads_with(spec, spec.layers, false));
  check_same(base, grads_with(spec, 1, true));
}

TEST_CASE("runtime: fp16 loss scaling skips the step on inf and halves the scale") {
  const at::Tensor p = at::ones({4}, at::kHalf).requires_grad_(true);
  rt::AdamWConfig cfg;
  cfg.lr = 0.01;  // a step fp16 can represent near 1.0
  rt::MixedAdamW opt({p}, /*use_master=*/true, /*loss_scaling=*/true, cfg);
  CHECK(opt.loss_scale() == 65536.0);
  p.mutable_grad() = at::tensor({1.0, std::numeric_limits<double>::infinity(), 0.0, 1.0}).to(at::kHalf);
  CHECK_FALSE(opt.step());
  CHECK(opt.loss_scale() == 32768.0);
  CHECK_FALSE(p.grad().defined());                 // grads dropped with the skipped step
  CHECK(at::equal(p, at::ones({4}, at::kHalf)));   // weights untouched
  CHECK(opt.steps_taken() == 0);
  p.mutable_grad() = at::full({4}, 32768.0, at::kHalf);  // = 1.0 after unscaling
  CHECK(opt.step());
  CHECK(opt.steps_taken() == 1);
  CHECK(p.to(at::kFloat)[0].item<double>() < 1.0);
  CHECK(opt.loss_scale() == 32768.0);
}

TEST_CASE("runtime: loss scale doubles after growth_interval clean steps") {
  rt::LossScaler s(true, 8.0, 2);
  CHECK(s.update(false));
  CHECK(s.scale() == 8.0);
  CHECK(s.update(false));
  CHECK(s.scale() == 16.0);
  CHECK_FALSE(s.update(true));
  CHECK(s.scale() == 8.0);
}

TEST_CASE("runtime: AdamW first step moves each weight by lr against the gradient sign") {
  const at::Tensor p = at::zeros({3}, at::kBFloat16).requires_grad_(true);
  rt::AdamWConfig cfg;
  cfg.lr = 0.125;
  rt::MixedAdamW opt({p}, /*use_master=*/true, /*loss_scaling=*/false, cfg);
  CHECK(opt.master_bytes() == 12);
  CHECK(opt.state_bytes() == 24);
  p.mutable_grad() = at::tensor({2.0, -3.0, 0.5}).to(at::kBFloat16);
  CHECK(opt.step());
  const at::Tensor got = p.to(at::kFloat);
  CHECK(got[0].item<double>() == doctest::Approx(-0.125).epsilon(1e-3));
  CHECK(got[1].item<double>() == doctest::Approx(0.125).epsilon(1e-3));
  CHECK(got[2].item<double>() == doctest::Approx(-0.125).epsilon(1e-3));
}

TEST_CASE("runtime: token files are read as uint16 windows with shifted targets") {
  const std::string path = temp_path("tokens.bin");
  std::vector<uint16_t> tokens;
  for (int i = 0; i < 100; ++i) tokens.push_back(static_cast<uint16_t>(300 + i));
  rt::write_token_file(path, tokens);
  {
    rt::TokenFile f(path);
    CHECK(f.size() == 100);
    CHECK(f.max_token() == 399);
    CHECK(f.windows(10) == 9);  // windows of 11 tokens at 0, 10, ..., 80 (the last needs token 90)
    std::vector<int64_t> ids, targets;
    f.read_window(2, 10, &ids, &targets);
    REQUIRE(ids.size() == 10);
    CHECK(ids[0] == 320);
    for (size_t i = 0; i < ids.size(); ++i) CHECK(targets[i] == ids[i] + 1);
    CHECK_THROWS_AS(f.windows(100), InputError);
  }
  { std::ofstream odd(path, std::ios::binary); odd << "abc"; }
  CHECK_THROWS_WITH_AS(rt::TokenFile{path}, doctest::Contains("not a multiple of 2"), InputError);
  CHECK_THROWS_AS(rt::TokenFile{temp_path("missing.bin")}, InputError);
  std::remove(path.c_str());
}

TEST_CASE("runtime: run_training on CPU fills phases with zeros and exact model-state bytes") {
  const ModelSpec spec = test::tiny_qwen3();
  Strategy s;
  s.precision = Precision::bf16;
  s.micro_batch = 2;
  s.checkpointed_layers = 1;
  RunOptions o = test::quiet_cpu_run(2);
  const RunResult r = run_training(spec, training_of(16), s, o);
  REQUIRE(r.error.empty());
  CHECK_FALSE(r.oom);
  CHECK(r.device_name == "cpu");
  CHECK(r.losses.size() == 2);
  REQUIRE(r.per_step.size() == 2);
  CHECK(r.per_step[0].phases.size() == static_cast<size_t>(Phase::count));
  for (const auto& ph : r.measured.phases) CHECK(ph.allocated_bytes == 0);
  CHECK(r.measured.weights_bytes == r.parameters * 2);
  CHECK(r.measured.grads_bytes == r.parameters * 2);
  CHECK(r.measured.master_weights_bytes == r.parameters * 4);
  CHECK(r.measured.optimizer_states_bytes == r.parameters * 8);
  CHECK(r.tokens_per_second > 0.0);
}

TEST_CASE("runtime: strategies that need several ranks are rejected with InputError") {
  const ModelSpec spec = test::tiny_qwen3();
  RunOptions o = test::quiet_cpu_run(1);
  Strategy s;
  s.sp_degree = 2;
  CHECK_THROWS_WITH_AS(run_training(spec, training_of(16), s, o), doctest::Contains("--sp"), InputError);
  s = Strategy{};
  s.offload_optimizer = true;
  CHECK_THROWS_AS(run_training(spec, training_of(16), s, o), InputError);
  s = Strategy{};
  s.precision = Precision::bf16_pure;  // amp-bf16 runs (amp_test.cpp); bf16-pure does not
  CHECK_THROWS_AS(run_training(spec, training_of(16), s, o), InputError);
  s = Strategy{};
  s.checkpointed_layers = spec.layers + 1;
  CHECK_THROWS_WITH_AS(run_training(spec, training_of(16), s, o), doctest::Contains("--ckpt"), InputError);
  s = Strategy{};
  s.zero_stage = 2;  // a no-op on one rank
  s.precision = Precision::fp32;
  CHECK(run_training(spec, training_of(16), s, o).error.empty());
}

TEST_CASE("runtime: loss falls on this repository's docs tokenised bytewise") {
  const std::string path = temp_path("corpus.bin");
  REQUIRE(test::write_docs_corpus(path));

  ModelSpec spec = test::tiny_llama();
  spec.vocab = 256;
  spec.hidden = 64;
  spec.head_dim = 16;
  spec.ffn = 128;
  Strategy s;
  s.precision = Precision::fp32;
  s.micro_batch = 8;
  RunOptions o = test::quiet_cpu_run(150);
  o.data_path = path;
  o.learning_rate = 3e-3;
  const RunResult r = run_training(spec, training_of(64), s, o);
  std::remove(path.c_str());
  REQUIRE(r.error.empty());
  REQUIRE(r.losses.size() == 150);
  double first = 0.0, last = 0.0;
  for (int i = 0; i < 10; ++i) {
    first += r.losses[i] / 10.0;
    last += r.losses[140 + i] / 10.0;
  }
  MESSAGE("loss first 10 steps " << first << ", last 10 steps " << last);
  CHECK(r.losses[0] > 5.0);          // ~ln(256) = 5.55 at init
  CHECK(last < r.losses[0] - 2.0);   // learns byte statistics of English text and markdown
  CHECK(last < first - 1.0);
}

TEST_CASE("runtime: the run result names the expert path it ran (loop on a CPU, none for a dense model)") {
  Strategy s;
  s.micro_batch = 1;
  RunOptions o = test::quiet_cpu_run(1);
  const RunResult moe = run_training(test::tiny_moe(), training_of(16), s, o);
  REQUIRE(moe.error.empty());
  CHECK(moe.experts_implementation == "loop");  // _grouped_mm only on a CUDA device (torch_compat.h)
  // ... and the plan of a run here predicts that loop, whatever was asked for.
  if (!at::hasCUDA()) {
    for (ExpertsImpl asked : {ExpertsImpl::grouped_mm, ExpertsImpl::eager, ExpertsImpl::loop}) {
      TrainingSpec t = training_of(16);
      t.experts = asked;
      CHECK(with_runnable_kernels(t).experts == ExpertsImpl::loop);
    }
  }
  const RunResult dense = run_training(test::tiny_qwen3(), training_of(16), s, o);
  CHECK(dense.experts_implementation.empty());
}
