// grouped_mm_gpu_test.cpp (label gpu): the runtime's MoE experts on a CUDA device go through
// at::_grouped_mm, as transformers' grouped_mm experts do; the per-expert loop stays for CPU and
// old libtorch. Both must give the same outputs and gradients, including for an expert that
// receives no token (its weight gradient must be zeros, not garbage).
#include "runtime/model/blocks.h"
#include "tests/runtime/gpu_test_support.h"

namespace rt = zplan::rt;

using zplan::test::cuda_here;
using zplan::test::rel_err;

TEST_CASE("gpu: _grouped_mm equals the per-expert loop in bf16, forward and backward, empty expert included") {
  if (!cuda_here()) return;
  REQUIRE(zplan::compat::use_grouped_mm(at::zeros({1}, at::TensorOptions().device(at::kCUDA))));
  at::manual_seed(5);
  const auto opts = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  const std::vector<int64_t> rows = {48, 0, 80, 16};  // expert 1 gets nothing
  const int64_t s = 144, in_dim = 64, out_dim = 96;
  const at::Tensor x = at::randn({s, in_dim}, opts).requires_grad_(true);
  const at::Tensor w = at::randn({4, out_dim, in_dim}, opts).requires_grad_(true);
  const at::Tensor offs = at::tensor(std::vector<int32_t>{48, 48, 128, 144}, at::TensorOptions().dtype(at::kInt)).to(at::kCUDA);
  const at::Tensor ours = zplan::compat::grouped_mm(x, w.transpose(-2, -1), offs);
  const at::Tensor loop = rt::grouped_linear(x, w, rows);
  CHECK(rel_err(ours, loop) < 1e-2);
  const at::Tensor g = at::randn({s, out_dim}, opts);
  const auto ga = torch::autograd::grad({ours}, {x, w}, {g});
  const auto gb = torch::autograd::grad({loop}, {x, w}, {g});
  CHECK(rel_err(ga[0], gb[0]) < 1e-2);
  CHECK(rel_err(ga[1], gb[1]) < 1e-2);
  CHECK(ga[1][1].abs().max().item<double>() == 0.0);  // the expert with no rows
  CHECK(ga[1].sizes() == w.sizes());
  CHECK(ga[1].is_contiguous());  // lands in .grad without a layout copy
}

TEST_CASE("gpu: the MoE block on CUDA (grouped_mm) matches the CPU loop in fp32") {
  if (!cuda_here()) return;
  at::manual_seed(9);
  const int64_t n = 64, c = 32, e = 8, f = 48, k = 2;
  const at::Tensor x = at::randn({n, c});
  const at::Tensor router = at::randn({e, c}) * 0.3;
  const at::Tensor gate_up = at::randn({e, 2 * f, c}) * 0.1, down = at::randn({e, c, f}) * 0.1;
  auto run = [&](at::Device dev, at::ScalarType dtype) {
    const at::Tensor xd = x.to(dev, dtype).requires_grad_(true);
    const at::Tensor gu = gate_up.to(dev, dtype).requires_grad_(true), dn = down.to(dev, dtype).requires_grad_(true);
    const rt::RouterOutput route = rt::moe_router(xd, router.to(dev, dtype), k, true);
    const at::Tensor out = rt::moe_experts_grouped(xd, route, gu, dn, dev.is_cuda());
    const auto grads = torch::autograd::grad({out.to(at::kFloat).square().sum()}, {xd, gu, dn});
    return std::vector<at::Tensor>{out, grads[0], grads[1], grads[2]};
  };
  const auto cpu = run(at::kCPU, at::kFloat);
  const auto gpu = run(at::kCUDA, at::kBFloat16);  // the fast path: bf16 on sm90
  for (size_t i = 0; i < cpu.size(); ++i) CHECK(rel_err(gpu[i], cpu[i]) < 3e-2);
  const auto gpu32 = run(at::kCUDA, at::kFloat);   // _grouped_mm's fallback (fp32, as under amp)
  for (size_t i = 0; i < cpu.size(); ++i) CHECK(rel_err(gpu32[i], cpu[i]) < 1e-4);
}

TEST_CASE("gpu: a run takes _grouped_mm experts by default and the per-expert loop when asked, to the same loss") {
  if (!cuda_here()) return;
  std::vector<double> losses;
  for (const auto& [impl, expected] : {std::pair{zplan::ExpertsImpl::grouped_mm, std::string("grouped_mm")},
                                       std::pair{zplan::ExpertsImpl::loop, std::string("loop")}}) {
    CAPTURE(expected);
    zplan::TrainingSpec training;
    training.experts = impl;
    CHECK(zplan::with_runnable_kernels(training).experts == impl);  // the plan predicts what runs
    const zplan::RunResult r = zplan::test::train_tiny_on_gpu(zplan::test::tiny_moe(), training, zplan::Precision::bf16, 3);
    REQUIRE(r.error.empty());
    CHECK(r.experts_implementation == expected);
    REQUIRE(r.losses.size() == 3);
    losses.push_back(r.losses.back());
  }
  CHECK(std::abs(losses[0] - losses[1]) < 1e-2 * std::abs(losses[1]));
}
