// runtime_kernels_gpu_test.cpp (label gpu): zplan's own CUDA kernels (runtime/kernels/kernels.h)
// against the PyTorch paths they replace.
//   - The RMSNorm weight gradient: rt::fused_rms_norm keeps at::_fused_rms_norm's forward and input
//     gradient (bit for bit) and computes the weight gradient itself; it must match an fp32 reference
//     as closely as PyTorch's own GammaBetaBackward does (both round one fp32 sum to bf16).
//   - The fused-master AdamW step: the same master weights, moments and 16-bit weights as the upcast
//     path (fp32 copy of each gradient + at::_fused_adamw_), bf16 and fp16 with loss scaling.
//   - A training run reports which AdamW path it took.
#include "runtime/model/fused_rms_norm.h"
#include "runtime/train/optimizer.h"
#include "tests/runtime/gpu_test_support.h"

namespace rt = zplan::rt;

using zplan::test::cuda_here;
using zplan::test::rel_err;

namespace {

// sum over rows of dy * x * rstd, in fp64 on the CPU (rstd as the fused kernel computes it, in fp32).
at::Tensor weight_grad_reference(const at::Tensor& dy, const at::Tensor& x, double eps) {
  const int64_t cols = x.size(-1);
  const at::Tensor xf = x.detach().to(at::kCPU, at::kDouble).reshape({-1, cols});
  const at::Tensor gf = dy.to(at::kCPU, at::kDouble).reshape({-1, cols});
  const at::Tensor rstd = (xf.pow(2).mean(-1, /*keepdim=*/true) + eps).rsqrt();
  return (gf * xf * rstd).sum(0);
}

}  // namespace

TEST_CASE("gpu: zplan's RMSNorm weight gradient matches PyTorch's fused backward and an fp64 reference") {
  if (!cuda_here()) return;
  at::manual_seed(5);
  const auto opts = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  const double eps = 1e-6;
  // Hidden-size norms and q/k norms (128 wide, tokens x heads rows), a ragged row count.
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{2, 96, 512}, std::vector<int64_t>{1, 4096, 2048},
                                            std::vector<int64_t>{1, 4096, 16, 128}, std::vector<int64_t>{3, 77, 8, 128}}) {
    CAPTURE(shape[1]);
    CAPTURE(shape.back());
    const at::Tensor x = (at::randn(shape, opts) * 3).requires_grad_(true);
    const at::Tensor w = (1 + 0.1 * at::randn({shape.back()}, opts)).detach().requires_grad_(true);
    REQUIRE(rt::rms_norm_weight_grad_kernel_takes(x, w));
    const at::Tensor ours = rt::fused_rms_norm(x, w, eps);
    const at::Tensor torch_fused = zplan::compat::fused_rms_norm(x, w, eps);
    CHECK(std::string(ours.grad_fn()->name()) != "FusedRmsNormBackward0");  // our node, not PyTorch's
    CHECK(at::equal(ours, torch_fused));
    const at::Tensor g = at::randn(shape, opts);
    const auto go = torch::autograd::grad({ours}, {x, w}, {g});
    const auto gt = torch::autograd::grad({torch_fused}, {x, w}, {g});
    CHECK(at::equal(go[0], gt[0]));                  // the same input-gradient kernel
    CHECK((go[1].scalar_type() == at::kBFloat16));
    const at::Tensor ref = weight_grad_reference(g, x, eps);
    const double ours_err = rel_err(go[1], ref), torch_err = rel_err(gt[1], ref);
    CAPTURE(ours_err);
    CAPTURE(torch_err);
    CHECK(ours_err < 8e-3);                          // one bf16 rounding of an fp32 sum
    CHECK(rel_err(go[1], gt[1]) < 1.6e-2);
  }
  // Widths that are not a multiple of 4 keep PyTorch's backward.
  const at::Tensor odd = at::randn({4, 130}, opts);
  CHECK_FALSE(rt::rms_norm_weight_grad_kernel_takes(odd, at::ones({130}, opts)));
}

TEST_CASE("gpu: the fused-master AdamW step equals the upcast path (bf16, and fp16 under loss scaling)") {
  if (!cuda_here()) return;
  at::manual_seed(9);
  rt::AdamWConfig cfg;
  cfg.lr = 1e-3;
  cfg.weight_decay = 0.1;
  for (const at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
    const bool fp16 = dtype == at::kHalf;
    CAPTURE(fp16);
    const auto opts = at::TensorOptions().device(at::kCUDA).dtype(dtype);
    // An odd length (the kernel's scalar tail) and a 2-D weight.
    std::vector<at::Tensor> a{at::randn({1000003}, opts), at::randn({64, 129}, opts)};
    std::vector<at::Tensor> b{a[0].clone(), a[1].clone()};
    rt::MixedAdamW fused(a, /*use_master=*/true, /*loss_scaling=*/fp16, cfg, /*fused_master=*/true);
    rt::MixedAdamW upcast(b, /*use_master=*/true, /*loss_scaling=*/fp16, cfg, /*fused_master=*/false);
    REQUIRE(fused.fused_master());
    REQUIRE_FALSE(upcast.fused_master());
    for (int step = 0; step < 3; ++step) {
      for (size_t i = 0; i < a.size(); ++i) {
        // fp16: gradients carry the loss scale, as backward leaves them.
        const at::Tensor g = (at::randn(a[i].sizes(), opts.dtype(at::kFloat)) * (fp16 ? 0.01 * fused.loss_scale() : 1.0)).to(dtype);
        a[i].mutable_grad() = g.clone();
        b[i].mutable_grad() = g.clone();
      }
      REQUIRE(fused.step());
      REQUIRE(upcast.step());
    }
    const auto sa = fused.state_tensors(), sb = upcast.state_tensors();
    REQUIRE(sa.size() == sb.size());
    for (size_t k = 0; k < sa.size(); ++k) {
      CAPTURE(sa[k].first);
      CHECK(rel_err(sa[k].second, sb[k].second) < 1e-5);  // masters, moments: float rounding apart
    }
    for (size_t i = 0; i < a.size(); ++i) CHECK(rel_err(a[i], b[i]) < 1e-2);  // 16-bit weights: at most an ulp
  }
  // CPU tensors keep the upcast path.
  std::vector<at::Tensor> cpu{at::randn({16}, at::kBFloat16)};
  CHECK_FALSE(rt::MixedAdamW(cpu, true, false, cfg, true).fused_master());
}

TEST_CASE("gpu: a bf16 run takes the fused-master AdamW, the upcast choice and fp32 do not") {
  if (!cuda_here()) return;
  for (const auto& [precision, adamw, expected] :
       {std::tuple{zplan::Precision::bf16, zplan::AdamWImpl::fused_master, std::string("fused-master")},
        std::tuple{zplan::Precision::fp16, zplan::AdamWImpl::fused_master, std::string("fused-master")},
        std::tuple{zplan::Precision::bf16, zplan::AdamWImpl::upcast, std::string("upcast")},
        std::tuple{zplan::Precision::fp32, zplan::AdamWImpl::fused_master, std::string("")}}) {
    CAPTURE(expected);
    zplan::TrainingSpec training;
    training.adamw = adamw;
    const zplan::RunResult r = zplan::test::train_tiny_qwen3_on_gpu(training, precision, 2);
    REQUIRE(r.error.empty());
    CHECK(r.adamw_implementation == expected);
  }
}
