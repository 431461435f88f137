// Attention by head dimension and the measured attention bound (planner/cost/step_terms.h
// flash_attention_head_dim_rates, planner/cost/calibration.h physical_lower_bounds): the rate table
// is read between and beyond its measured head dims, a head-dim-64 model's attention costs what
// the measured ratio says, and the calibration cannot make attention faster than the GPU's kernel.
#include <doctest/doctest.h>

#include <algorithm>

#include "test_scenarios.h"
#include "planner/cost/calibration.h"
#include "planner/cost/step_terms.h"
#include "planner/cost/step_time.h"
#include "planner/input_error.h"
#include "planner/io/hardware_loader.h"
#include "planner/validation/calibration_run.h"

using namespace zplan;

TEST_CASE("the head-dim rate is the measured table, linear between its points and flat beyond") {
  const StepMechanisms k;
  CHECK(flash_attention_head_dim_rate(k, 128) == 1.0);
  CHECK(flash_attention_head_dim_rate(k, 64) == doctest::Approx(0.757));
  CHECK(flash_attention_head_dim_rate(k, 32) == doctest::Approx(0.757));    // below the table: its first point
  CHECK(flash_attention_head_dim_rate(k, 512) == doctest::Approx(0.774));   // above: its last
  CHECK(flash_attention_head_dim_rate(k, 112) == doctest::Approx(0.772 + (1.0 - 0.772) * 16.0 / 32.0));
  CHECK(flash_attention_head_dim_rate(k, 192) == doctest::Approx(0.5 * (1.0 + 0.774)));
}

TEST_CASE("a head-dim-64 model pays the measured slowdown on the FLOP-proportional part only") {
  // Llama-3.2-1B has head dim 64; the same model at head dim 128 (half the heads) has the same
  // attention FLOPs, so the attention terms differ only by the head-dim rate.
  Scenario s64 = scenario("llama-3.2-1b", "1xH100", 32768);
  REQUIRE(s64.model.head_dim == 64);
  Scenario s128 = s64;
  s128.model.head_dim = 128;
  s128.model.heads /= 2;
  s128.model.kv_heads /= 2;
  Strategy st;
  st.precision = Precision::bf16;
  const double t64 = step_terms(s64.model, s64.cluster, s64.training, st).total[kAttentionTerm];
  const double t128 = step_terms(s128.model, s128.cluster, s128.training, st).total[kAttentionTerm];
  const StepMechanisms k;
  const double keys = 32768 / 2.0;
  const double expected = (1.0 / 0.757 + k.flash_attention_half_rate_keys / keys) / (1.0 + k.flash_attention_half_rate_keys / keys);
  CHECK(t64 / t128 == doctest::Approx(expected));
  CHECK(t64 / t128 > 1.25);  // the measured 32K ratio is 1.33
  // fp32 runs SDPA's memory-efficient kernel, which the table does not describe.
  st.precision = Precision::fp32;
  CHECK(step_terms(s64.model, s64.cluster, s64.training, st).total[kAttentionTerm] ==
        doctest::Approx(step_terms(s128.model, s128.cluster, s128.training, st).total[kAttentionTerm]));
}

TEST_CASE("the fit keeps attention at or below the GPU's measured kernel rate") {
  const GpuSpec h100 = load_gpu("h100-80gb");
  REQUIRE(h100.attention_kernel_tflops > 0);
  const StepTermVector bounds = physical_lower_bounds(h100);
  CHECK(bounds[kAttentionTerm] == doctest::Approx(h100.bf16_tflops / h100.attention_kernel_tflops));
  REQUIRE(h100.matmul_kernel_tflops > 0);
  CHECK(bounds[kMatmulTerm] == doctest::Approx(h100.bf16_tflops / h100.matmul_kernel_tflops));
  CHECK(physical_lower_bounds(GpuSpec{})[kMatmulTerm] == 1.0);
  CHECK(bounds[kKernelTerm] == 0.0);
  CHECK(physical_lower_bounds(GpuSpec{})[kAttentionTerm] == 1.0);  // not measured: the peak bounds it
  // Steps generated with attention faster than the kernel (efficiency 0.8): unbounded the fit finds
  // 0.8, bounded it stops at the measured rate.
  CostOptions truth;
  truth.attention_efficiency = 0.8;
  const StepTermVector w = term_weights(truth);
  std::vector<CalibrationSample> samples;
  for (int64_t seq : {2048, 8192, 32768})
    for (const char* model : {"qwen3-0.6b", "llama-3.2-1b"}) {
      Scenario s = scenario(model, "1xH100", seq);
      Strategy st;
      st.precision = Precision::bf16;
      CalibrationSample c;
      c.terms = step_terms(s.model, s.cluster, s.training, st).total;
      c.measured_seconds = predicted_step_seconds(c.terms, w);
      samples.push_back(c);
    }
  CHECK(1.0 / fit_term_weights(samples, CostOptions{}, 0.0).weights[kAttentionTerm] == doctest::Approx(0.8).epsilon(0.02));
  const FitResult bounded = fit_term_weights(samples, CostOptions{}, 0.0, bounds);
  CHECK(bounded.weights[kAttentionTerm] == doctest::Approx(bounds[kAttentionTerm]));
  CHECK(std::find(bounded.fitted.begin(), bounded.fitted.end(), "attention (at its bound)") != bounded.fitted.end());
}

TEST_CASE("a measured attention rate above the peak is refused") {
  const std::string yaml =
      "name: x\nmemory_bytes: 1000000000\nmemory_bw_gb_per_s: 100\nbf16_tflops: 100\nfp16_tflops: 100\n"
      "fp32_tflops: 10\nsupports_bf16: true\nintra_node_link: pcie\nintra_node_bw_gb_per_s: 10\n"
      "pcie_bw_gb_per_s: 10\nattention_kernel_tflops: 120\n";
  CHECK_THROWS_AS(parse_gpu_yaml(yaml, "x.yaml"), InputError);
}

TEST_CASE("--holdout takes several comma-separated texts") {
  CHECK(held_out("measured/hf_deepspeed3/a.json", "deepspeed,zplan_ranking3"));
  CHECK(held_out("measured/zplan_ranking3_h200/b.json", "deepspeed,zplan_ranking3"));
  CHECK_FALSE(held_out("measured/zplan_ranking_h100/b.json", "deepspeed,zplan_ranking3"));
  CHECK_FALSE(held_out("measured/zplan/c.json", ""));
  CHECK_FALSE(held_out("measured/zplan/c.json", ","));
}

TEST_CASE("a sliding-window layer past its window computes every T x T score at the masked kernel's rate") {
  // Mistral-7B v0.1 slides on every layer (window 4096): at 16K the mask is explicit, so SDPA runs
  // the memory-efficient kernel over the whole T x T, not a 4096-key band.
  Scenario s = scenario("mistral-7b", "1xH100", 16384);
  s.model.layers = 4;
  REQUIRE(s.model.layer_slides(0, 16384));
  const StepMechanisms k;
  Strategy st;
  st.precision = Precision::bf16;
  const double T = 16384, qd = static_cast<double>(s.model.q_dim()), peak = s.cluster.gpu.bf16_tflops * 1e12;
  const double forward = 4.0 * T * T * qd / peak / k.masked_attention_rate;
  const double expected = 4.0 * forward * (1.0 + k.flash_attention_backward_ratio);
  CHECK(step_terms(s.model, s.cluster, s.training, st).total[kAttentionTerm] == doctest::Approx(expected));
  // Within the window the causal flash kernel runs: half of T x T at its own rate. At the same
  // length, the masked layer costs about 2 / masked_attention_rate = 4 times as much.
  Scenario within = s;
  within.model.sliding_window = 32768;
  REQUIRE_FALSE(within.model.layer_slides(0, 16384));
  const double causal = step_terms(within.model, within.cluster, within.training, st).total[kAttentionTerm];
  CHECK(expected / causal > 3.5);
  CHECK(expected / causal < 2.0 / k.masked_attention_rate);
  // The useful FLOPs (model FLOPs per token) stay the window's.
  CHECK(step_terms(s.model, s.cluster, s.training, st).model_flops_per_token <
        step_terms(within.model, within.cluster, within.training, st).model_flops_per_token);
}
