// Three kernel rates of the step-time terms measured on an H100 (docs/cost-model.md, "Call31"):
// cuBLAS's align-1 fallback for 16-bit GEMMs with a dimension not a multiple of 8
// (StepMechanisms::misaligned_gemm_rate), torch._grouped_mm's rate against one dense GEMM of the same
// rows (grouped_gemm_half_rate_rows) and zplan's runtime's 16-bit index_add_ in the MoE backward
// (index_add_16bit_bytes_per_element). Each moves the terms the way its mechanism says, where it
// applies and nowhere else.
#include <doctest/doctest.h>

#include "test_scenarios.h"
#include "planner/cost/pass_costs.h"
#include "planner/cost/step_terms.h"

using namespace zplan;

namespace {

Strategy pinned_strategy(Precision p = Precision::bf16) {
  Strategy st;
  st.precision = p;
  return st;
}

StepTermVector terms_of(const Scenario& s, const StepMechanisms& k, Precision p = Precision::bf16) {
  return step_terms(s.model, s.cluster, s.training, pinned_strategy(p), k).total;
}

Scenario moe(int64_t tokens, Profile profile) {
  Scenario s = scenario("qwen3-30b-a3b", "1xH100", tokens);
  s.model.layers = 2;
  s.training.profile = profile;
  return s;
}

}  // namespace

TEST_CASE("a 16-bit GEMM with k or n not a multiple of 8 runs at the align-1 share of the rate; fp32 and m do not matter") {
  const StepMechanisms k;
  REQUIRE(k.misaligned_gemm_rate > 0);
  REQUIRE(k.misaligned_gemm_rate < 1);
  Rates r;
  r.peak = 989e12;
  r.hbm = 3.35e12;
  r.act_bytes = 2;
  r.misaligned_gemm_rate = k.misaligned_gemm_rate;
  // GPT-2's lm_head against the same GEMM with the vocabulary padded to 50304: compute-bound both.
  Pass odd, padded, odd_k, odd_m;
  gemm(odd, r, 8192, 1024, 50257);
  gemm(padded, r, 8192, 1024, 50304);
  gemm(odd_k, r, 8192, 50257, 1024);  // the input gradient's shape: the odd dimension is k
  gemm(odd_m, r, 8191, 1024, 50304);  // m is never a leading dimension
  CHECK(odd.matmul_seconds == doctest::Approx(padded.matmul_seconds * 50257.0 / 50304.0 / k.misaligned_gemm_rate));
  CHECK(odd_k.matmul_seconds == doctest::Approx(odd.matmul_seconds));
  CHECK(odd_m.matmul_seconds == doctest::Approx(padded.matmul_seconds * 8191.0 / 8192.0));
  // fp32 (TF32 off) runs the same SIMT kernels either way.
  Rates fp32 = r;
  fp32.act_bytes = 4;
  fp32.peak = 66.9e12;
  Pass odd32, padded32;
  gemm(odd32, fp32, 8192, 1024, 50257);
  gemm(padded32, fp32, 8192, 1024, 50304);
  CHECK(odd32.matmul_seconds == doctest::Approx(padded32.matmul_seconds * 50257.0 / 50304.0));
  // In a step: GPT-2's three lm_head products are the model's only misaligned GEMMs.
  Scenario gpt2 = scenario("gpt2-medium", "1xH100", 1024);
  REQUIRE(gpt2.model.vocab % 8 != 0);
  StepMechanisms aligned = k;
  aligned.misaligned_gemm_rate = 1.0;
  const double tokens = 1024, C = static_cast<double>(gpt2.model.hidden), V = static_cast<double>(gpt2.model.vocab);
  const double head_seconds = 3.0 * 2.0 * tokens * C * V / (gpt2.cluster.gpu.bf16_tflops * 1e12);
  CHECK(terms_of(gpt2, k)[kMatmulTerm] - terms_of(gpt2, aligned)[kMatmulTerm] ==
        doctest::Approx(head_seconds * (1.0 / k.misaligned_gemm_rate - 1.0)).epsilon(0.01));
}

TEST_CASE("_grouped_mm's experts run at rows / (rows + half-rate rows) of the dense rate") {
  const StepMechanisms k;
  StepMechanisms dense = k;
  dense.grouped_gemm_half_rate_rows = 0;
  // 32K tokens: 2048 rows per expert, every expert GEMM bound by its FLOPs at either rate.
  const Scenario s = moe(32768, Profile::hf);
  const double C = static_cast<double>(s.model.hidden), FE = static_cast<double>(s.model.moe.expert_ffn);
  const double E = s.model.moe.num_experts, K = s.model.moe.experts_per_token, tokens = 32768;
  const double rows = tokens * K / E, share = rows / (rows + k.grouped_gemm_half_rate_rows);
  const double expert_seconds = 2.0 * tokens * K * 3.0 * C * FE * 2.0 /*layers*/ * k.training_passes_per_forward /
                                (s.cluster.gpu.bf16_tflops * 1e12);
  CHECK(terms_of(s, k)[kMatmulTerm] - terms_of(s, dense)[kMatmulTerm] ==
        doctest::Approx(expert_seconds * (1.0 / share - 1.0)).epsilon(0.01));
  // Fewer rows per expert, a smaller share: the same tokens cost more time per token at 4K.
  const Scenario small = moe(4096, Profile::hf);
  const double small_excess = terms_of(small, k)[kMatmulTerm] - terms_of(small, dense)[kMatmulTerm];
  CHECK(small_excess * 8.0 > terms_of(s, k)[kMatmulTerm] - terms_of(s, dense)[kMatmulTerm]);
  // Under AMP the experts are fp32 and run ATen's per-expert fallback, not the grouped kernel.
  CHECK(terms_of(s, k, Precision::amp_bf16)[kMatmulTerm] == doctest::Approx(terms_of(s, dense, Precision::amp_bf16)[kMatmulTerm]));
}

TEST_CASE("zplan's runtime pays three 16-bit index_add_ per MoE layer backward; transformers and fp32 rows do not") {
  const StepMechanisms k;
  StepMechanisms free_adds = k;
  free_adds.index_add_16bit_bytes_per_element = 0;
  const Scenario z = moe(4096, Profile::zplan);
  const double C = static_cast<double>(z.model.hidden), K = z.model.moe.experts_per_token, tokens = 4096;
  const double hbm = z.cluster.gpu.memory_bw_gb_per_s * 1e9;
  CHECK((terms_of(z, k)[kMemoryBoundTerm] - terms_of(z, free_adds)[kMemoryBoundTerm]) * hbm ==
        doctest::Approx(3.0 * tokens * K * C * k.index_add_16bit_bytes_per_element * 2.0 /*layers*/));
  const Scenario hf = moe(4096, Profile::hf);
  CHECK(terms_of(hf, k)[kMemoryBoundTerm] == doctest::Approx(terms_of(hf, free_adds)[kMemoryBoundTerm]));
  // Under AMP the routed rows are fp32: native atomics, priced as traffic.
  CHECK(terms_of(z, k, Precision::amp_bf16)[kMemoryBoundTerm] ==
        doctest::Approx(terms_of(z, free_adds, Precision::amp_bf16)[kMemoryBoundTerm]));
}
