// elementwise_kernels_gpu_test.cpp (label gpu): zplan's SwiGLU and RoPE kernels (fused_elementwise.h)
// against PyTorch's eager form as blocks.cpp writes it (silu then mul; rotate_half, two muls and an
// add) and against fp64 references, forward and every input gradient, in bf16, fp16 and fp32; the
// layouts the model hands them (separate gate/up, Phi-3's two halves of one tensor; q and k as the
// transpose of [B, T, H, D]); the saved tensors; and a training run that reports the path it took.
#include "runtime/model/blocks.h"
#include "runtime/model/fused_elementwise.h"
#include "runtime/train/memory_probe.h"
#include "tests/runtime/gpu_test_support.h"

namespace rt = zplan::rt;

using zplan::test::cuda_here;
using zplan::test::rel_err;

namespace {

at::Tensor eager_swiglu(const at::Tensor& gate, const at::Tensor& up) { return at::silu(gate) * up; }

at::Tensor eager_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return rt::apply_rope(x, rt::RopeTables{cos, sin}, /*zplan_kernel=*/false);
}

// The fp64 value and gradients of f on the CPU, for inputs `in` and output gradient g.
template <typename F>
std::vector<at::Tensor> reference(F f, const std::vector<at::Tensor>& in, const at::Tensor& g) {
  std::vector<at::Tensor> leaves;
  for (const at::Tensor& t : in) leaves.push_back(t.detach().to(at::kCPU, at::kDouble).requires_grad_(true));
  const at::Tensor y = f(leaves);
  std::vector<at::Tensor> out{y.detach()};
  for (const at::Tensor& d : torch::autograd::grad({y}, leaves, {g.to(at::kCPU, at::kDouble)})) out.push_back(d);
  return out;
}

// One rounding of the result to `dtype` (fp32 inside): 2^-8 for bf16, 2^-11 for fp16.
double rounding(at::ScalarType dtype) { return dtype == at::kBFloat16 ? 8e-3 : dtype == at::kHalf ? 1e-3 : 1e-5; }

}  // namespace

TEST_CASE("gpu: zplan's SwiGLU kernel equals silu(gate) * up, forward and both gradients") {
  if (!cuda_here()) return;
  at::manual_seed(3);
  for (const at::ScalarType dtype : {at::kBFloat16, at::kHalf, at::kFloat}) {
    const auto opts = at::TensorOptions().device(at::kCUDA).dtype(dtype);
    for (const bool halves_of_one : {false, true}) {
      // 2 x 37 rows (ragged), 1000 columns: wide packs; 333 columns: the scalar path.
      for (const int64_t cols : {int64_t{1000}, int64_t{333}}) {
        CAPTURE(static_cast<int>(dtype));
        CAPTURE(halves_of_one);
        CAPTURE(cols);
        at::Tensor gate, up;
        if (halves_of_one) {  // Phi-3: gate_up_proj(x).chunk(2, -1), rows 2F apart
          const at::Tensor both = (at::randn({2, 37, 2 * cols}, opts) * 3).requires_grad_(true);
          const auto h = both.chunk(2, -1);
          gate = h[0];
          up = h[1];
        } else {
          gate = (at::randn({2, 37, cols}, opts) * 3).requires_grad_(true);
          up = at::randn({2, 37, cols}, opts).requires_grad_(true);
        }
        const at::Tensor ours = rt::fused_swiglu_or_undefined(gate, up);
        REQUIRE(ours.defined());
        CHECK(std::string(ours.grad_fn()->name()) != "MulBackward0");
        const at::Tensor eager = eager_swiglu(gate, up);
        const at::Tensor g = at::randn(ours.sizes(), opts);
        const auto go = torch::autograd::grad({ours}, {gate, up}, {g});
        const auto ge = torch::autograd::grad({eager}, {gate, up}, {g});
        const auto ref = reference([](const std::vector<at::Tensor>& v) { return eager_swiglu(v[0], v[1]); },
                                   {gate, up}, g);
        const double tol = rounding(dtype);
        CHECK(rel_err(ours, ref[0]) < tol);
        CHECK(rel_err(go[0], ref[1]) < tol);
        CHECK(rel_err(go[1], ref[2]) < tol);
        CHECK(rel_err(ours, eager) < 2 * tol);  // the eager form rounds twice
        CHECK(rel_err(go[0], ge[0]) < 3 * tol);
        CHECK(rel_err(go[1], ge[1]) < 2 * tol);
      }
    }
  }
  // What backward keeps: the kernel's node gate and up (the caller's), the eager form silu's output too.
  {
    const auto bf = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
    const at::Tensor gate = at::randn({4096, 1024}, bf).requires_grad_(true), up = at::randn({4096, 1024}, bf).requires_grad_(true);
    const uint64_t one = static_cast<uint64_t>(gate.nbytes());
    rt::MemoryProbe probe(true, 0);
    for (const bool fused : {true, false}) {
      CAPTURE(fused);
      const uint64_t before = probe.read_and_reset().allocated;
      at::Tensor y = fused ? rt::fused_swiglu_or_undefined(gate, up) : eager_swiglu(gate, up);
      const uint64_t kept = probe.read_and_reset().allocated - before;  // y and what its graph saved
      CHECK(kept == (fused ? one : 2 * one));
    }
  }
  // Mixed dtypes and CPU tensors keep the eager form.
  const auto bf = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  CHECK_FALSE(rt::fused_swiglu_or_undefined(at::randn({4, 8}, bf), at::randn({4, 8}, bf.dtype(at::kFloat))).defined());
  CHECK_FALSE(rt::fused_swiglu_or_undefined(at::randn({4, 8}), at::randn({4, 8})).defined());
}

TEST_CASE("gpu: zplan's RoPE kernel equals transformers' apply_rotary_pos_emb, forward and gradient") {
  if (!cuda_here()) return;
  at::manual_seed(4);
  const int64_t B = 2, T = 45, H = 6, D = 128;
  for (const at::ScalarType dtype : {at::kBFloat16, at::kHalf, at::kFloat}) {
    CAPTURE(static_cast<int>(dtype));
    const auto opts = at::TensorOptions().device(at::kCUDA).dtype(dtype);
    const rt::RopeTables tables = rt::rope_tables(B, T, D, 1e6, dtype, at::kCUDA);
    // q as the attention block makes it: a [B, T, H, D] projection seen as [B, H, T, D].
    const at::Tensor x = at::randn({B, T, H, D}, opts).transpose(1, 2).detach().requires_grad_(true);
    const at::Tensor ours = rt::apply_rope(x, tables, /*zplan_kernel=*/true);
    CHECK(std::string(ours.grad_fn()->name()) != "AddBackward0");
    const at::Tensor eager = eager_rope(x, tables.cos, tables.sin);
    CHECK(ours.strides() == eager.strides());  // the same layout for attention to read
    const at::Tensor g = at::randn({B, H, T, D}, opts);
    const at::Tensor go = torch::autograd::grad({ours}, {x}, {g}, /*retain_graph=*/true)[0];
    const at::Tensor ge = torch::autograd::grad({eager}, {x}, {g})[0];
    const at::Tensor cos = tables.cos, sin = tables.sin;
    const auto ref = reference([&](const std::vector<at::Tensor>& v) {
      return eager_rope(v[0], cos.to(at::kCPU, at::kDouble), sin.to(at::kCPU, at::kDouble)); }, {x}, g);
    const double tol = rounding(dtype);
    CHECK(rel_err(ours, ref[0]) < tol);
    CHECK(rel_err(go, ref[1]) < tol);
    CHECK(rel_err(ours, eager) < 3 * tol);
    CHECK(rel_err(go, ge) < 3 * tol);
    // A contiguous [B, H, T, D] gradient (what some attention backwards return) is read as it is.
    const at::Tensor gc = torch::autograd::grad({ours}, {x}, {g.contiguous()})[0];
    CHECK(at::equal(gc, go));
  }
  // Tables of another dtype (AMP's fp32 tables with a bf16 q) keep the eager form.
  const rt::RopeTables f32 = rt::rope_tables(1, 8, 64, 1e4, at::kFloat, at::kCUDA);
  const at::Tensor q = at::randn({1, 8, 2, 64}, at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16)).transpose(1, 2);
  CHECK_FALSE(rt::fused_rope_or_undefined(q, f32.cos, f32.sin).defined());
}

TEST_CASE("gpu: a training run reports the elementwise path; composite when asked") {
  if (!cuda_here()) return;
  zplan::test::check_kernel_choice_trains_alike(&zplan::TrainingSpec::elementwise, zplan::ElementwiseImpl::fused,
                                                zplan::ElementwiseImpl::composite, &zplan::RunResult::elementwise_implementation);
}
