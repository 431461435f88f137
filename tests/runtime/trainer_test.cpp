// The trainer's manners on CPU: gradient clipping by global norm, checkpoints (complete, refused
// when truncated or for another model), resume continuing exactly where an uninterrupted run
// would be, Ctrl-C writing a complete checkpoint, evaluation on a held-out file, the JSON-lines
// log of run_training, and the learning rates it applied.
#include "tests/runtime/torch_doctest.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "planner/input_error.h"
#include "runtime/data/token_data.h"
#include "runtime/model/transformer.h"
#include "runtime/run_api.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/grad_clip.h"
#include "tests/runtime/test_models.h"

using namespace zplan;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("zplan_trainer_" + name)).string();
}

TrainingSpec training_of(int64_t seq) {
  TrainingSpec t;
  t.seq_len = seq;
  t.framework = Framework::plain;
  return t;
}

int count_lines(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) ++n;
  return n;
}

// A byte-level corpus from this repository's docs (vocab 256), split into train and held-out files.
struct Corpus {
  std::string train = temp_path("train.bin"), eval = temp_path("eval.bin");
  Corpus() {
    std::ifstream in(std::string(ZPLAN_SOURCE_DIR) + "/docs/runtime.md");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::vector<uint16_t> all = rt::bytes_to_tokens(text);
    const auto cut = all.begin() + static_cast<long>(all.size() * 9 / 10);
    rt::write_token_file(train, std::vector<uint16_t>(all.begin(), cut));
    rt::write_token_file(eval, std::vector<uint16_t>(cut, all.end()));
  }
  ~Corpus() {
    std::remove(train.c_str());
    std::remove(eval.c_str());
  }
};

ModelSpec byte_model() {
  ModelSpec spec = test::tiny_llama();
  spec.vocab = 256;
  return spec;
}

Strategy fp32_batch(int64_t micro_batch) {
  Strategy s;
  s.precision = Precision::fp32;
  s.micro_batch = micro_batch;
  return s;
}

RunOptions cpu_run(int steps, const std::string& data) {
  RunOptions o = test::quiet_cpu_run(steps);
  o.data_path = data;
  o.learning_rate = 3e-3;
  o.seed = 3;
  return o;
}

}  // namespace

TEST_CASE("trainer: clipping scales the gradients so their global norm equals the limit") {
  const at::Tensor a = at::zeros({3}).requires_grad_(true);
  const at::Tensor b = at::zeros({2, 2}, at::kBFloat16).requires_grad_(true);
  a.mutable_grad() = at::tensor({3.0, 0.0, 4.0});                  // |a| = 5
  b.mutable_grad() = at::full({2, 2}, 6.0).to(at::kBFloat16);      // |b| = 12 -> global 13
  const double norm = rt::clip_grad_norm({a, b}, 1.3);
  CHECK(norm == doctest::Approx(13.0));
  const double after = std::sqrt(a.grad().pow(2).sum().item<double>() + b.grad().to(at::kFloat).pow(2).sum().item<double>());
  CHECK(after == doctest::Approx(1.3).epsilon(1e-2));  // bf16 rounding of b's entries
  CHECK(a.grad()[2].item<double>() == doctest::Approx(0.4).epsilon(1e-5));  // direction kept
  // Below the limit nothing changes; a loss scale divides the measured norm.
  CHECK(rt::clip_grad_norm({a}, 10.0) == doctest::Approx(0.5).epsilon(1e-5));
  CHECK(a.grad()[2].item<double>() == doctest::Approx(0.4).epsilon(1e-5));
  a.mutable_grad() = at::tensor({3.0, 0.0, 4.0}) * 1024.0;
  CHECK(rt::clip_grad_norm({a}, 0.0, 1024.0) == doctest::Approx(5.0));
  CHECK(a.grad()[0].item<double>() == 3072.0);  // max_norm 0: measure only
}

TEST_CASE("trainer: checkpoints round-trip and are refused when truncated or for another shape") {
  const std::string path = temp_path("roundtrip.zpt");
  rt::CheckpointState s;
  s.step = 7;
  s.model = "m";
  s.seed = 9;
  s.has_data_position = true;
  s.data = {2, 5};
  s.optimizer_steps = 6;
  s.loss_scale = 1024.0;
  s.good_steps = 3;
  const at::Tensor w = at::arange(12, at::kFloat).view({3, 4});
  const at::Tensor h = at::ones({5}, at::kBFloat16);
  rt::save_checkpoint(path, s, {{"w", w}, {"h", h}});
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  const at::Tensor w2 = at::zeros({3, 4}), h2 = at::zeros({5}, at::kBFloat16);
  const rt::CheckpointState got = rt::load_checkpoint(path, {{"w", w2}, {"h", h2}});
  CHECK(at::equal(w, w2));
  CHECK(at::equal(h, h2));
  CHECK(got.step == 7);
  CHECK(got.data.epoch == 2);
  CHECK(got.data.index == 5);
  CHECK(got.loss_scale == 1024.0);
  CHECK(got.good_steps == 3);
  CHECK_THROWS_WITH_AS(rt::load_checkpoint(path, {{"w", at::zeros({4, 3})}, {"h", h2}}),
                       doctest::Contains("field 'w': shape [3,4], expected [4,3]"), InputError);
  CHECK_THROWS_WITH_AS(rt::load_checkpoint(path, {{"w", w2}, {"h", at::zeros({5})}}),
                       doctest::Contains("field 'h': dtype BFloat16, expected Float"), InputError);
  CHECK_THROWS_WITH_AS(rt::load_checkpoint(path, {{"w", w2}}), doctest::Contains("holds 2 tensors"), InputError);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  CHECK_THROWS_WITH_AS(rt::read_checkpoint_header(path), doctest::Contains("truncated"), InputError);
  std::remove(path.c_str());
}

TEST_CASE("trainer: Ctrl-C writes a complete checkpoint; resuming continues exactly where the run was") {
  const Corpus corpus;
  const std::string ckpt = temp_path("sigint.zpt"), log = temp_path("sigint.jsonl");
  std::remove(ckpt.c_str());
  std::remove(log.c_str());
  RunOptions whole = cpu_run(300, corpus.train);
  whole.trainer.warmup_steps = 10;
  whole.trainer.min_lr = 3e-4;
  whole.trainer.clip_grad = 1.0;
  const RunResult reference = run_training(byte_model(), training_of(32), fp32_batch(4), whole);
  REQUIRE(reference.error.empty());
  REQUIRE(reference.losses.size() == 300);

  RunOptions interrupted = whole;
  interrupted.trainer.checkpoint_path = ckpt;
  interrupted.trainer.log_jsonl = log;
  std::atomic<bool> finished{false};
  std::thread ctrl_c([&] {  // a person pressing Ctrl-C once 5 steps are logged
    while (!finished && count_lines(log) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!finished) kill(getpid(), SIGINT);
  });
  const RunResult r = run_training(byte_model(), training_of(32), fp32_batch(4), interrupted);
  finished = true;
  ctrl_c.join();
  REQUIRE(r.error.empty());
  REQUIRE(r.trainer.interrupted);
  const int k = r.trainer.steps_done;
  MESSAGE("Ctrl-C stopped the run after step " << k);
  REQUIRE(k >= 5);
  REQUIRE(k < 300);
  CHECK(r.losses.size() == static_cast<size_t>(k));
  CHECK(count_lines(log) == k);  // one JSON line per step done
  CHECK(r.trainer.checkpoint_written == ckpt);
  CHECK_FALSE(std::filesystem::exists(ckpt + ".tmp"));
  const rt::CheckpointState head = rt::read_checkpoint_header(ckpt);  // throws when incomplete
  CHECK(head.step == k);
  CHECK(head.optimizer_steps == k);
  CHECK(head.has_data_position);
  const int64_t windows = rt::TokenFile(corpus.train).windows(32);
  CHECK(head.data.epoch * windows + head.data.index == 4LL * k);  // 4 sequences read per step

  RunOptions resumed = whole;
  resumed.trainer.resume_path = ckpt;
  const RunResult rest = run_training(byte_model(), training_of(32), fp32_batch(4), resumed);
  REQUIRE(rest.error.empty());
  CHECK(rest.trainer.first_step == k);
  REQUIRE(rest.losses.size() == static_cast<size_t>(300 - k));
  for (int i = 0; i < 300 - k; ++i) {
    INFO("step " << k + i + 1);
    CHECK(rest.losses[i] == doctest::Approx(reference.losses[k + i]).epsilon(1e-6));
    CHECK(rest.trainer.learning_rates[i] == reference.trainer.learning_rates[k + i]);
  }
  RunOptions too_short = resumed;
  too_short.steps = k;
  CHECK_THROWS_WITH_AS(run_training(byte_model(), training_of(32), fp32_batch(4), too_short),
                       doctest::Contains("--steps"), InputError);
  ModelSpec other = byte_model();
  other.name = "other";
  CHECK_THROWS_WITH_AS(run_training(other, training_of(32), fp32_batch(4), resumed), doctest::Contains("model"), InputError);
  std::remove(ckpt.c_str());
  std::remove(log.c_str());
}

TEST_CASE("trainer: the held-out loss is evaluated every N steps and falls") {
  const Corpus corpus;
  const std::string log = temp_path("eval.jsonl");
  std::remove(log.c_str());
  RunOptions o = cpu_run(30, corpus.train);
  o.trainer.eval_path = corpus.eval;
  o.trainer.eval_every = 10;
  o.trainer.log_jsonl = log;
  const RunResult r = run_training(byte_model(), training_of(32), fp32_batch(4), o);
  REQUIRE(r.error.empty());
  REQUIRE(r.trainer.eval_losses.size() == 3);
  CHECK(r.trainer.eval_losses[0].first == 10);
  CHECK(r.trainer.eval_losses[2].first == 30);
  MESSAGE("eval loss at 10, 20, 30: " << r.trainer.eval_losses[0].second << ", " << r.trainer.eval_losses[1].second
                                       << ", " << r.trainer.eval_losses[2].second);
  CHECK(r.trainer.eval_losses[2].second < r.trainer.eval_losses[0].second);
  std::ifstream in(log);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const nlohmann::json j = nlohmann::json::parse(line);
    CHECK(j.at("step") == n);
    CHECK(j.contains("eval_loss") == (n % 10 == 0));
  }
  CHECK(n == 30);
  std::remove(log.c_str());
}

TEST_CASE("trainer: bad data and flag combinations exit 2 naming the file or flag") {
  const Corpus corpus;
  const auto run = [&](const RunOptions& o) { return run_training(byte_model(), training_of(32), fp32_batch(4), o); };
  RunOptions o = cpu_run(1, corpus.train);
  o.trainer.eval_every = 5;
  CHECK_THROWS_WITH_AS(run(o), doctest::Contains("--eval-every: needs --eval-data"), InputError);
  o = cpu_run(1, corpus.train);
  o.trainer.checkpoint_every = 5;
  CHECK_THROWS_WITH_AS(run(o), doctest::Contains("--checkpoint-every"), InputError);
  const std::string small = temp_path("short.bin");
  rt::write_token_file(small, std::vector<uint16_t>(20, 65));
  o = cpu_run(1, corpus.train);
  o.trainer.eval_path = small;
  CHECK_THROWS_WITH_AS(run(o), doctest::Contains((small + ": holds 20 tokens").c_str()), InputError);
  std::vector<uint16_t> wide(100, 65);
  wide[77] = 256;  // beyond the byte model's vocab
  rt::write_token_file(small, wide);
  o = cpu_run(1, small);
  CHECK_THROWS_WITH_AS(run(o), doctest::Contains("token 77 (byte offset 154) is id 256"), InputError);
  o = cpu_run(1, "");
  o.trainer.eos_id = 0;
  CHECK_THROWS_WITH_AS(run(o), doctest::Contains("--eos"), InputError);
  rt::write_token_file(small, std::vector<uint16_t>(100, 65));
  { std::ofstream(small + ".json") << R"({"dtype": "uint16", "eos": 10, "vocab": 50257})"; }
  o = cpu_run(1, small);
  CHECK_THROWS_WITH_AS(run(o), doctest::Contains("field 'vocab': the tokenizer's vocabulary 50257 exceeds the model's vocab 256"), InputError);
  o.trainer.data_dtype = "uint32";
  CHECK_THROWS_WITH_AS(run(o), doctest::Contains("--data-dtype: uint32 contradicts"), InputError);
  std::remove((small + ".json").c_str());
  o = cpu_run(1, corpus.train);
  o.trainer.resume_path = temp_path("no-such.zpt");
  CHECK_THROWS_WITH_AS(run(o), doctest::Contains("cannot open the checkpoint"), InputError);
  std::remove(small.c_str());
}

TEST_CASE("trainer: evaluation switches dropout off (GPT-2 with HF's 0.1 dropouts)") {
  ModelSpec spec = test::tiny_gpt2();
  spec.hidden_dropout = 0.1;
  spec.attention_dropout = 0.1;
  rt::TransformerModel model(spec, rt::BuildOptions{});
  at::NoGradGuard no_grad;
  const at::Tensor ids = at::randint(0, spec.vocab, {2, 16}, at::kLong);
  CHECK_FALSE(at::equal(model.forward(ids), model.forward(ids)));  // training: random masks
  model.set_training(false);
  CHECK(at::equal(model.forward(ids), model.forward(ids)));
}
