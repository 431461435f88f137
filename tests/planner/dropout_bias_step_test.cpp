// Hidden dropout and bias gradients in the step-time terms (planner/cost/pass_costs.h add_dropout,
// add_bias_gradient): GPT-2's resid_pdrop / embd_pdrop cost one kernel and one pass over the
// activation and its 1-byte mask each way, recomputed layers run their forward again; a biased
// projection's backward sums its output gradient once and its recompute adds nothing.
#include <doctest/doctest.h>

#include "test_scenarios.h"
#include "planner/cost/step_terms.h"
#include "planner/memory/params.h"

using namespace zplan;

namespace {

StepTermVector terms_of(const Scenario& s, int64_t checkpointed_layers) {
  Strategy st;
  st.precision = Precision::bf16;
  st.micro_batch = 2;
  st.checkpointed_layers = checkpointed_layers;
  return step_terms(s.model, s.cluster, s.training, st).total;
}

}  // namespace

TEST_CASE("hidden dropout: two per layer and one on the embeddings, forward and backward once each") {
  Scenario with = scenario("gpt2-medium", "1xH100", 1024);
  REQUIRE(with.model.hidden_dropout > 0);
  Scenario without = with;
  without.model.hidden_dropout = 0;
  const double L = static_cast<double>(with.model.layers), C = static_cast<double>(with.model.hidden);
  const double tokens = 2.0 * 1024.0, hbm = with.cluster.gpu.memory_bw_gb_per_s * 1e9;
  const double bytes_per_dropout = tokens * C * (2.0 * 2.0 + 1.0);  // bf16 in and out, a 1-byte mask
  for (int64_t ckpt : {int64_t{0}, with.model.layers}) {
    CAPTURE(ckpt);
    const StepTermVector a = terms_of(with, ckpt), b = terms_of(without, ckpt);
    const double recomputed = static_cast<double>(ckpt);
    // Forward and backward of 2L + 1 dropouts, plus the forward of each recomputed layer's two.
    CHECK(a[kKernelTerm] - b[kKernelTerm] == doctest::Approx(2.0 * (2.0 * L + 1.0) + 2.0 * recomputed));
    CHECK((a[kMemoryBoundTerm] - b[kMemoryBoundTerm]) * hbm ==
          doctest::Approx(bytes_per_dropout * (2.0 * (2.0 * L + 1.0) + 2.0 * recomputed)));
    CHECK(a[kMatmulTerm] == b[kMatmulTerm]);
  }
}

TEST_CASE("bias gradients: one reduction over the output gradient per biased projection, backward only") {
  Scenario with = scenario("gpt2-medium", "1xH100", 1024);
  REQUIRE(with.model.qkv_bias);
  REQUIRE(with.model.out_bias);
  Scenario without = with;
  without.model.qkv_bias = false;
  without.model.out_bias = false;
  const double L = static_cast<double>(with.model.layers), C = static_cast<double>(with.model.hidden);
  const double F = static_cast<double>(with.model.ffn);
  const double tokens = 2.0 * 1024.0, hbm = with.cluster.gpu.memory_bw_gb_per_s * 1e9;
  // GPT-2: c_attn (3C outputs), the attention's c_proj (C), the MLP's c_fc (F) and c_proj (C).
  const double outputs_per_layer = 3.0 * C + C + F + C;
  // The biases are parameters too: AdamW launches per tensor, and their bf16 gradients are written
  // once per micro-step (the optimizer's own traffic is its own term).
  const StepMechanisms k;
  const double bias_tensors = static_cast<double>(model_tables(with.model).tensors.size() - model_tables(without.model).tensors.size());
  const double bias_params = static_cast<double>(model_tables(with.model).counts.total - model_tables(without.model).counts.total);
  REQUIRE(bias_params == doctest::Approx(outputs_per_layer * L));
  for (int64_t ckpt : {int64_t{0}, with.model.layers}) {
    CAPTURE(ckpt);
    const StepTermVector a = terms_of(with, ckpt), b = terms_of(without, ckpt);
    CHECK(a[kKernelTerm] - b[kKernelTerm] == doctest::Approx(4.0 * L + k.optimizer_kernels_per_tensor * bias_tensors));
    CHECK((a[kMemoryBoundTerm] - b[kMemoryBoundTerm]) * hbm == doctest::Approx(tokens * outputs_per_layer * 2.0 * L + 2.0 * bias_params));
  }
  // Qwen2's separate q, k and v projections are three reductions.
  Scenario qwen = scenario("qwen2.5-7b", "1xH100", 1024);
  REQUIRE(qwen.model.qkv_bias);
  REQUIRE(!qwen.model.out_bias);
  Scenario qwen_without = qwen;
  qwen_without.model.qkv_bias = false;
  const double qwen_bias_tensors = static_cast<double>(model_tables(qwen.model).tensors.size() - model_tables(qwen_without.model).tensors.size());
  CHECK(terms_of(qwen, 0)[kKernelTerm] - terms_of(qwen_without, 0)[kKernelTerm] ==
        doctest::Approx(3.0 * static_cast<double>(qwen.model.layers) + k.optimizer_kernels_per_tensor * qwen_bias_tensors));
}
