// fused_norm_gpu_test.cpp (label gpu): on a CUDA device the runtime's RMSNorm runs through
// at::_fused_rms_norm (compat::fused_rms_norm). It must compute what transformers' composite
// expression computes (forward, input and weight gradients, to bf16 rounding: the kernel multiplies
// by the weight before its one cast, the composite casts first), and autograd must record the fused
// node, whose saved tensors are the ones the planner counts (input and the fp32 1/rms per row).
// A training run on the GPU reports which path it took.
#include "runtime/model/blocks.h"
#include "tests/runtime/gpu_test_support.h"

namespace rt = zplan::rt;

using zplan::test::cuda_here;
using zplan::test::rel_err;

TEST_CASE("gpu: the fused RMSNorm equals transformers' composite in bf16, over the hidden size and per head") {
  if (!cuda_here()) return;
  REQUIRE(zplan::compat::have_fused_rms_norm(at::Device(at::kCUDA)));
  at::manual_seed(11);
  const auto opts = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{2, 96, 512}, std::vector<int64_t>{2, 96, 8, 128}}) {
    CAPTURE(shape.size());
    const at::Tensor x = (at::randn(shape, opts) * 3).requires_grad_(true);
    const at::Tensor w = (1 + 0.1 * at::randn({shape.back()}, opts)).detach().requires_grad_(true);
    const at::Tensor fused = zplan::compat::fused_rms_norm(x, w, 1e-6);
    const at::Tensor composite = rt::rms_norm_hf(x, w, 1e-6);
    CHECK((fused.scalar_type() == at::kBFloat16));
    CHECK(std::string(fused.grad_fn()->name()) == "FusedRmsNormBackward0");
    CHECK(rel_err(fused, composite) < 2e-2);
    const at::Tensor g = at::randn(shape, opts);
    const auto gf = torch::autograd::grad({fused}, {x, w}, {g});
    const auto gc = torch::autograd::grad({composite}, {x, w}, {g});
    CHECK(rel_err(gf[0], gc[0]) < 2e-2);
    CHECK(rel_err(gf[1], gc[1]) < 2e-2);
  }
}

TEST_CASE("gpu: a bf16 run takes the fused RMSNorm, an amp-bf16 run and the composite choice do not") {
  if (!cuda_here()) return;
  for (const auto& [precision, norm, expected] :
       {std::tuple{zplan::Precision::bf16, zplan::NormImpl::fused, std::string("fused")},
        std::tuple{zplan::Precision::amp_bf16, zplan::NormImpl::fused, std::string("composite")},
        std::tuple{zplan::Precision::bf16, zplan::NormImpl::composite, std::string("composite")}}) {
    CAPTURE(expected);
    zplan::TrainingSpec training;
    training.norm = norm;
    const zplan::RunResult r = zplan::test::train_tiny_qwen3_on_gpu(training, precision, 1);
    REQUIRE(r.error.empty());
    CHECK(r.norm_implementation == expected);
  }
}
