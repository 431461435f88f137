// cross_entropy_gpu_test.cpp (label gpu): zplan's cross-entropy kernels (fused_cross_entropy.h)
// against transformers' ForCausalLMLoss as the runtime writes it (causal_lm_loss: logits.float(),
// cross_entropy with ignore_index -100, mean): the loss and the logits' gradient in bf16, fp16 and
// fp32, vocabularies that take the wide loads and one that does not, ignored targets; what forward
// keeps; and a training run that reports the path it took.
#include "runtime/model/fused_cross_entropy.h"
#include "runtime/model/transformer.h"
#include "runtime/train/memory_probe.h"
#include "tests/runtime/gpu_test_support.h"

namespace rt = zplan::rt;

using zplan::test::cuda_here;
using zplan::test::rel_err;

TEST_CASE("gpu: zplan's cross-entropy equals ForCausalLMLoss, loss and logits gradient") {
  if (!cuda_here()) return;
  at::manual_seed(6);
  for (const at::ScalarType dtype : {at::kBFloat16, at::kHalf, at::kFloat}) {
    for (const int64_t vocab : {int64_t{1000}, int64_t{50257}}) {  // GPT-2's odd vocabulary: the scalar path
      CAPTURE(static_cast<int>(dtype));
      CAPTURE(vocab);
      const auto opts = at::TensorOptions().device(at::kCUDA).dtype(dtype);
      const at::Tensor logits = (at::randn({2, 37, vocab}, opts) * 4).requires_grad_(true);
      at::Tensor targets = at::randint(0, vocab, {2, 37}, at::TensorOptions().device(at::kCUDA).dtype(at::kLong));
      targets.index_put_({0, at::indexing::Slice(0, 5)}, -100);  // ignored, as the shifted labels' last token
      const at::Tensor ours = rt::fused_cross_entropy_or_undefined(logits, targets);
      REQUIRE(ours.defined());
      const at::Tensor eager = rt::causal_lm_loss(logits, targets);
      CHECK(ours.item<double>() == doctest::Approx(eager.item<double>()).epsilon(1e-5));
      const at::Tensor go = torch::autograd::grad({ours}, {logits})[0];
      const at::Tensor ge = torch::autograd::grad({eager}, {logits})[0];
      CHECK((go.scalar_type() == dtype));
      CHECK(rel_err(go, ge) < (dtype == at::kBFloat16 ? 8e-3 : dtype == at::kHalf ? 1e-3 : 1e-5));
      // Ignored rows get no gradient.
      CHECK(go.index({0, at::indexing::Slice(0, 5)}).abs().max().item<double>() == 0.0);
    }
  }
}

TEST_CASE("gpu: the kernel's node keeps the logits and per-token scalars; ForCausalLMLoss an fp32 log-softmax") {
  if (!cuda_here()) return;
  const auto bf = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  const int64_t tokens = 2048, vocab = 32000;
  const at::Tensor logits = at::randn({1, tokens, vocab}, bf).requires_grad_(true);
  const at::Tensor targets = at::randint(0, vocab, {1, tokens}, at::TensorOptions().device(at::kCUDA).dtype(at::kLong));
  rt::MemoryProbe probe(true, 0);
  for (const bool fused : {true, false}) {
    CAPTURE(fused);
    const uint64_t before = probe.read_and_reset().allocated;
    at::Tensor loss = fused ? rt::fused_cross_entropy_or_undefined(logits, targets) : rt::causal_lm_loss(logits, targets);
    const uint64_t kept = probe.read_and_reset().allocated - before;
    if (fused) CHECK(kept < 64 * 1024);  // [tokens] fp32 scalars and the loss
    else CHECK(kept >= 4 * static_cast<uint64_t>(tokens * vocab));
  }
}

TEST_CASE("gpu: a training run reports the cross-entropy path; composite when asked") {
  if (!cuda_here()) return;
  zplan::test::check_kernel_choice_trains_alike(&zplan::TrainingSpec::cross_entropy, zplan::CrossEntropyImpl::fused,
                                                zplan::CrossEntropyImpl::composite, &zplan::RunResult::cross_entropy_implementation);
}
