// Attention by head dimension and the measured attention bound (planner/cost/step_terms.h
// flash_attention_head_dim_rates, planner/cost/calibration.h physical_lower_bounds): the rate table
// is read between and beyond its measured head dims, a head-dim-64 model's attention costs what
// the measured ratio says, and the calibration cannot make attention faster than the GPU's kernel;
// attention that materialises its scores (eager, SDPA's fp32 math path) is priced op by op.
#include <doctest/doctest.h>

#include <algorithm>

#include "test_scenarios.h"
#include "planner/cost/calibration.h"
#include "planner/cost/step_terms.h"
#include "planner/cost/step_time.h"
#include "planner/input_error.h"
#include "planner/io/hardware_loader.h"
#include "planner/memory/sdpa_kernel.h"
#include "planner/validation/calibration_run.h"

using namespace zplan;

namespace {

Strategy with_precision(int64_t micro_batch, Precision p) {
  Strategy st;
  st.micro_batch = micro_batch;
  st.precision = p;
  return st;
}

}  // namespace

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

TEST_CASE("eager attention: its products at their batched GEMMs' roofline, its elementwise ops op by op") {
  Scenario s = scenario("gpt2-large", "1xH100", 1024);
  s.training.attention = Attention::eager;
  s.training.profile = Profile::zplan;
  REQUIRE(s.model.attention_dropout > 0.0);
  const double hbm = s.cluster.gpu.memory_bw_gb_per_s * 1e9;
  const double seq = 1024, micro_batch = 4, layers = static_cast<double>(s.model.layers);
  const double scores = micro_batch * static_cast<double>(s.model.heads) * seq * seq * layers;
  auto term = [&](const Scenario& sc, size_t t, Precision p = Precision::bf16) {
    return step_terms(sc.model, sc.cluster, sc.training, with_precision(4, p)).total[t];
  };
  Scenario sdpa = s;
  sdpa.training.attention = Attention::sdpa;
  auto eager_bytes_per_score = [&](const Scenario& eager, Precision p = Precision::bf16) {
    Scenario flash = eager;
    flash.training.attention = Attention::sdpa;
    return (term(eager, kMemoryBoundTerm, p) - term(flash, kMemoryBoundTerm, p)) * hbm / scores;
  };
  // zplan's runtime softmaxes in fp32 for every family, transformers' GPT-2 in bf16: bytes per score
  // forward + backward 66 against 32 (planner/cost/score_ops.cpp, eager_attention_score_ops).
  Scenario hf = s;
  hf.training.profile = Profile::hf;
  CHECK(eager_bytes_per_score(s) == doctest::Approx(66.0));
  CHECK(eager_bytes_per_score(hf) == doctest::Approx(32.0));
  // Under autocast transformers' GPT-2 softmax runs in fp32 too (autocast lists softmax).
  CHECK(eager_bytes_per_score(hf, Precision::amp_bf16) == doctest::Approx(66.0));
  // fp16 outside autocast: ATen's softmax reads the half input itself (read 2, write 4, not a cast
  // of 6 and a softmax of 8), and its backward needs no cast of the gradient (6).
  CHECK(eager_bytes_per_score(s, Precision::fp16) == doctest::Approx(66.0 - 8.0 - 6.0));
  // attn_pdrop's dropout: read and write each probability and a 1-byte mask, forward and backward.
  Scenario no_dropout = hf;
  no_dropout.model.attention_dropout = 0.0;
  CHECK(eager_bytes_per_score(no_dropout) == doctest::Approx(32.0 - 10.0));
  // The products: head dim 64, so each writes or reads a [T, T] score matrix per (sequence, head) in
  // more HBM time than its FLOPs take at peak; one batched launch each, not one per head.
  const double products_at_peak = 3.0 * 2.0 * 2.0 * scores * static_cast<double>(s.model.head_dim) /
                                  (s.cluster.gpu.bf16_tflops * 1e12);
  const double eager_matmul = term(s, kMatmulTerm) - term(sdpa, kMatmulTerm);
  CHECK(eager_matmul > 2.0 * products_at_peak);
  CHECK(eager_matmul == doctest::Approx(3.0 * 2.0 * scores * 2.0 / hbm).epsilon(0.1));  // the scores' bytes dominate
  CHECK(term(s, kAttentionTerm) == 0.0);
  CHECK(term(s, kKernelTerm) - term(sdpa, kKernelTerm) < 3.0 * 8.0 * layers);
}

TEST_CASE("fp32 with grouped-query attention runs SDPA's math path: the scores materialised, as memory says") {
  Scenario s = scenario("qwen3-0.6b", "1xH100", 8192);
  s.training.profile = Profile::zplan;
  REQUIRE(s.model.kv_heads < s.model.heads);
  auto terms = [&](const Scenario& sc, Precision p) {
    return step_terms(sc.model, sc.cluster, sc.training, with_precision(1, p)).total;
  };
  const StepTermVector math = terms(s, Precision::fp32);
  CHECK(math[kAttentionTerm] == 0.0);  // no fused kernel: two batched GEMMs in the matmul term
  // Without GQA the memory-efficient kernel takes fp32: the fused attention term, no T x T bytes.
  Scenario mha = s;
  mha.model.kv_heads = mha.model.heads;
  const StepTermVector efficient = terms(mha, Precision::fp32);
  CHECK(efficient[kAttentionTerm] > 0.0);
  const double scores = static_cast<double>(s.model.heads) * 8192.0 * 8192.0 * static_cast<double>(s.model.layers);
  const double hbm = s.cluster.gpu.memory_bw_gb_per_s * 1e9;
  // 30 bytes per score forward (mask add, _safe_softmax), 20 backward; the repeated k and v and a
  // wider k/v projection (MHA) are per token, a small difference next to them.
  const double per_score = (math[kMemoryBoundTerm] - efficient[kMemoryBoundTerm]) * hbm / scores;
  CHECK(per_score > 49.0);
  CHECK(per_score < 51.0);
  // The same predicate decides what the layer keeps (activations.cpp): the fp32 softmax output.
  ExecContext c;
  c.compute_bytes = 4;
  c.profile = Profile::zplan;
  CHECK(sdpa_runs_math_path(s.model, c, false));
  CHECK_FALSE(sdpa_runs_math_path(s.model, c, true));  // the runtime's sliding layers repeat k/v first
  c.compute_bytes = 2;
  CHECK_FALSE(sdpa_runs_math_path(s.model, c, false));
}
