// gpu_test_support.h: what the runtime's GPU tests (label gpu) share: a CUDA device or a failure
// that says why, and the relative error that compares a GPU path with its reference.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "runtime/run_api.h"
#include "tests/runtime/test_models.h"
#include "tests/runtime/torch_doctest.h"

namespace zplan::test {

// True on a machine with a CUDA device; elsewhere the test fails (CI leaves label gpu out).
inline bool cuda_here() {
  if (at::hasCUDA()) return true;
  FAIL("this test needs a CUDA device (label gpu; CI leaves it out)");
  return false;
}

// Largest |a - b| relative to b's largest magnitude, in fp32 on the CPU.
inline double rel_err(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor fa = a.to(at::kCPU, at::kFloat), fb = b.to(at::kCPU, at::kFloat);
  return (fa - fb).abs().max().item<double>() / std::max(1e-12, fb.abs().max().item<double>());
}

// A short run of a tiny model on the GPU (32 tokens, plain loop) with the given precision and
// the training spec's implementation choices; the result says which paths ran.
inline zplan::RunResult train_tiny_on_gpu(const zplan::ModelSpec& model, zplan::TrainingSpec training,
                                          zplan::Precision precision, int steps) {
  training.seq_len = 32;
  training.framework = zplan::Framework::plain;
  zplan::RunOptions options;
  options.steps = steps;
  options.verbose = false;
  options.device = "cuda";
  zplan::Strategy strategy;
  strategy.precision = precision;
  return zplan::run_training(model, training, strategy, options);
}

inline zplan::RunResult train_tiny_qwen3_on_gpu(zplan::TrainingSpec training, zplan::Precision precision, int steps) {
  return train_tiny_on_gpu(zplan::test::tiny_qwen3(), training, precision, steps);
}

// Trains the tiny Qwen3 in bf16 twice, with `choice` set to zplan's kernel (`fused`) and to
// PyTorch's path (`composite`): each run must name the path it took in `reported`, and both must
// reach the same loss to bf16 rounding.
template <typename Impl>
void check_kernel_choice_trains_alike(Impl zplan::TrainingSpec::*choice, Impl fused, Impl composite,
                                      std::string zplan::RunResult::*reported) {
  std::vector<double> losses;
  for (const auto& [impl, expected] : {std::pair{fused, std::string("fused")}, std::pair{composite, std::string("composite")}}) {
    zplan::TrainingSpec training;
    training.*choice = impl;
    const zplan::RunResult r = train_tiny_qwen3_on_gpu(training, zplan::Precision::bf16, 3);
    CHECK(r.*reported == expected);
    REQUIRE(r.losses.size() == 3);
    losses.push_back(r.losses.back());
  }
  CHECK(std::abs(losses[0] - losses[1]) < 1e-2 * std::abs(losses[1]));
}

}  // namespace zplan::test
