// amp_test.cpp: the amp-bf16 / amp-fp16 recipes on CPU (runtime/model/autocast.h): fp32 parameters
// and gradients with bf16 matmuls under autocast, gradients close to fp32's (also through
// checkpointed layers and the MoE block), loss falling under run_training, and the refusals
// (amp-fp16 without CUDA, the chunked loss under autocast) naming their flag.
#include "tests/runtime/torch_doctest.h"

#include <cstdio>
#include <filesystem>

#include "planner/input_error.h"
#include "runtime/data/token_data.h"
#include "runtime/model/autocast.h"
#include "runtime/model/transformer.h"
#include "runtime/run_api.h"
#include "tests/runtime/test_corpus.h"
#include "tests/runtime/test_models.h"

using namespace zplan;

namespace {

struct Grads {
  std::vector<at::Tensor> grads;
  double loss = 0.0;
};

// One forward/backward of a fp32 model, under bf16 autocast when `amp`.
Grads grads_of(const ModelSpec& spec, bool amp, int64_t ckpt = 0) {
  at::manual_seed(21);
  rt::BuildOptions opt;
  opt.checkpointed_layers = ckpt;
  rt::TransformerModel model(spec, opt);
  const at::Tensor ids = at::randint(0, spec.vocab, {2, 16}, at::kLong);
  const at::Tensor targets = at::randint(0, spec.vocab, {2, 16}, at::kLong);
  at::Tensor loss;
  {
    rt::AutocastGuard autocast(at::kCPU, amp ? at::kBFloat16 : at::ScalarType::Undefined);
    const at::Tensor logits = model.forward(ids);
    CHECK((logits.scalar_type() == (amp ? at::kBFloat16 : at::kFloat)));  // lm_head ran in bf16
    loss = rt::causal_lm_loss(logits, targets);
  }
  CHECK((rt::AutocastGuard::current(at::kCPU) == at::ScalarType::Undefined));  // the region closed
  loss.backward();
  Grads g;
  g.loss = loss.item<double>();
  for (const auto& p : model.params()) {
    CHECK((p.tensor.scalar_type() == at::kFloat));  // the parameters stay fp32
    REQUIRE(p.tensor.grad().defined());
    CHECK((p.tensor.grad().scalar_type() == at::kFloat));  // and so do their gradients
    g.grads.push_back(p.tensor.grad().clone());
  }
  return g;
}

// Relative L2 distance of the whole gradient vector (per-element bf16 noise averages out).
double relative_distance(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]).pow(2).sum().item<double>();
    norm += b[i].pow(2).sum().item<double>();
  }
  return std::sqrt(diff / norm);
}

TrainingSpec training_of(int64_t seq) {
  TrainingSpec t;
  t.seq_len = seq;
  t.framework = Framework::plain;
  return t;
}

}  // namespace

TEST_CASE("amp-bf16: fp32 parameters and gradients, within bf16 noise of fp32's") {
  for (const ModelSpec& spec : {test::tiny_qwen3(), test::tiny_gpt2(), test::tiny_moe(), test::tiny_phi3()}) {
    CAPTURE(spec.name);
    const Grads fp32 = grads_of(spec, false);
    const Grads amp = grads_of(spec, true);
    CHECK(std::abs(amp.loss - fp32.loss) < 0.02 * fp32.loss);
    const double d = relative_distance(amp.grads, fp32.grads);
    MESSAGE(spec.name << ": relative gradient distance amp-bf16 vs fp32 " << d);
    CHECK(d > 0.0);   // autocast did run the matmuls in bf16
    CHECK(d < 0.05);  // bf16 has 8 mantissa bits: ~0.4% per product, a few % after the sums
    // A checkpointed layer recomputes under the forward's autocast dtype: the same gradients.
    const Grads ckpt = grads_of(spec, true, spec.layers);
    CHECK(relative_distance(ckpt.grads, amp.grads) < 1e-6);
  }
}

TEST_CASE("amp-bf16: run_training keeps fp32 states, no masters, and the loss falls") {
  const std::string path = (std::filesystem::temp_directory_path() / "zplan_rt_amp_corpus.bin").string();
  REQUIRE(test::write_docs_corpus(path));
  ModelSpec spec = test::tiny_llama();
  spec.vocab = 256;
  Strategy s;
  s.precision = Precision::amp_bf16;
  s.micro_batch = 8;
  RunOptions o = test::quiet_cpu_run(12);
  o.data_path = path;
  o.learning_rate = 3e-3;
  const RunResult r = run_training(spec, training_of(32), s, o);
  std::remove(path.c_str());
  REQUIRE(r.error.empty());
  REQUIRE(r.losses.size() == 12);
  MESSAGE("amp-bf16 loss " << r.losses.front() << " -> " << r.losses.back());
  CHECK(r.losses.back() < r.losses.front() - 0.5);
  CHECK(r.measured.weights_bytes == r.parameters * 4);
  CHECK(r.measured.grads_bytes == r.parameters * 4);
  CHECK(r.measured.master_weights_bytes == 0);
  CHECK(r.measured.optimizer_states_bytes == r.parameters * 8);
}

TEST_CASE("amp: what the runtime refuses names the flag") {
  const ModelSpec spec = test::tiny_qwen3();
  RunOptions o = test::quiet_cpu_run(1);
  Strategy s;
  s.precision = Precision::amp_fp16;  // CPU autocast has no fp16
  CHECK_THROWS_WITH_AS(run_training(spec, training_of(16), s, o), doctest::Contains("--precision"), InputError);
  s.precision = Precision::amp_bf16;
  s.loss_chunks = 2;
  CHECK_THROWS_WITH_AS(run_training(spec, training_of(16), s, o), doctest::Contains("--loss-chunks"), InputError);
  s = Strategy{};
  s.precision = Precision::bf16_pure;
  CHECK_THROWS_WITH_AS(run_training(spec, training_of(16), s, o), doctest::Contains("--precision"), InputError);
}
