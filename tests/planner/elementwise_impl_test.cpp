// elementwise_impl_test.cpp: what the zplan profile predicts for the runtime's SwiGLU and RoPE
// kernels (training_spec.h ElementwiseImpl): a silu-gated dense MLP keeps gate and up but not
// silu's output, a GeGLU MLP, a shared expert and the hf profile keep PyTorch's form, RoPE keeps the
// same tensors either way; the step moves fewer bytes in fewer kernels; records measured before the
// kernels (no field) read as composite.
#include <doctest/doctest.h>

#include "planner/cost/step_terms.h"
#include "planner/estimate.h"
#include "planner/io/run_record.h"
#include "planner/memory/activations.h"
#include "planner/memory/exec_context.h"
#include "tests/planner/test_scenarios.h"

using namespace zplan;

namespace {

ExecContext context_for(Profile profile, ElementwiseImpl e, Precision precision = Precision::bf16) {
  TrainingSpec t;
  t.seq_len = 1024;
  t.profile = profile;
  t.elementwise = e;
  t.framework = Framework::plain;
  Strategy s;
  s.precision = precision;
  return make_exec_context(t, s, 1);
}

bool has_row(const BlockActivations& b, const std::string& name) {
  for (const TensorRow& r : b.saved)
    if (r.name == name) return true;
  return false;
}

int64_t saved_per_token(const BlockActivations& b) {
  int64_t sum = 0;
  for (const TensorRow& r : b.saved) sum += r.bytes_per_token;
  return sum;
}

}  // namespace

TEST_CASE("the elementwise kernels: zplan's runtime and the fused choice, any recipe; parse and print") {
  CHECK(context_for(Profile::zplan, ElementwiseImpl::fused).fused_elementwise);
  CHECK(context_for(Profile::zplan, ElementwiseImpl::fused, Precision::amp_bf16).fused_elementwise);
  CHECK_FALSE(context_for(Profile::zplan, ElementwiseImpl::composite).fused_elementwise);
  CHECK_FALSE(context_for(Profile::hf, ElementwiseImpl::fused).fused_elementwise);
  ElementwiseImpl parsed = ElementwiseImpl::composite;
  CHECK(parse_elementwise_impl(to_string(ElementwiseImpl::fused), &parsed));
  CHECK(parsed == ElementwiseImpl::fused);
  CHECK(parse_elementwise_impl("composite", &parsed));
  CHECK(parsed == ElementwiseImpl::composite);
  CHECK_FALSE(parse_elementwise_impl("liger", &parsed));
}

TEST_CASE("SwiGLU's kernel keeps gate and up, not silu's output; other MLPs are unchanged") {
  for (const char* name : {"qwen3-1.7b", "llama-3.2-1b"}) {
    CAPTURE(name);
    const ModelSpec m = scenario(name, "1xH100", 1024).model;
    const BlockActivations fused = block_activations(m, 0, context_for(Profile::zplan, ElementwiseImpl::fused));
    const BlockActivations composite = block_activations(m, 0, context_for(Profile::zplan, ElementwiseImpl::composite));
    CHECK(has_row(composite, "mlp.act_out"));
    CHECK_FALSE(has_row(fused, "mlp.act_out"));
    CHECK(has_row(fused, "mlp.gate_out"));
    CHECK(has_row(fused, "mlp.up_out"));
    CHECK(saved_per_token(composite) - saved_per_token(fused) == 2 * m.ffn);  // one bf16 [F] per token
    // The hf profile runs transformers' MLP whatever the choice says.
    CHECK(has_row(block_activations(m, 0, context_for(Profile::hf, ElementwiseImpl::fused)), "mlp.act_out"));
  }
  // Gemma's GeGLU keeps PyTorch's gelu and mul.
  const ModelSpec gemma = scenario("gemma-3-1b", "1xH100", 1024).model;
  CHECK(saved_per_token(block_activations(gemma, 0, context_for(Profile::zplan, ElementwiseImpl::fused))) ==
        saved_per_token(block_activations(gemma, 0, context_for(Profile::zplan, ElementwiseImpl::composite))));
}

TEST_CASE("the predicted peak drops by silu's output per layer kept; the step by the bytes the kernels save") {
  Scenario sc = scenario("qwen3-1.7b", "1xH100", 4096);
  sc.training.profile = Profile::zplan;
  Strategy st;
  TrainingSpec fused = sc.training, composite = sc.training;
  fused.elementwise = ElementwiseImpl::fused;
  composite.elementwise = ElementwiseImpl::composite;
  const Estimate ef = estimate(sc.model, sc.cluster, fused, st, EstimateOptions{});
  const Estimate ec = estimate(sc.model, sc.cluster, composite, st, EstimateOptions{});
  // No recompute: every layer's silu output is alive at the end of forward.
  const uint64_t per_layer = 2ull * static_cast<uint64_t>(sc.model.ffn) * 4096;
  const uint64_t drop = ec.memory.peak_allocated_bytes - ef.memory.peak_allocated_bytes;
  CHECK(drop >= per_layer * (sc.model.layers - 1));
  CHECK(drop <= per_layer * sc.model.layers + per_layer / 100);
  const StepTime tf = estimate_step_time(sc.model, sc.cluster, fused, st);
  const StepTime tc = estimate_step_time(sc.model, sc.cluster, composite, st);
  CHECK(tf.memory_bound_seconds < tc.memory_bound_seconds);
  CHECK(tf.overhead_seconds < tc.overhead_seconds);
  CHECK(tf.compute_seconds == doctest::Approx(tc.compute_seconds));
}

TEST_CASE("a run record without elementwise_implementation reads as composite; a wrong one is refused") {
  nlohmann::json r = read_run_record(std::string(ZPLAN_SOURCE_DIR) + "/tests/regression/measured/zplan_fused_norm/fused_qwen3-0.6b_s2048_mb4_ckpt14.json");
  Strategy s;
  CHECK(scenario_from_record(r, "record", &s).training.elementwise == ElementwiseImpl::composite);
  r["scenario"]["elementwise_implementation"] = "fused";
  CHECK(scenario_from_record(r, "record", &s).training.elementwise == ElementwiseImpl::fused);
  r["scenario"]["elementwise_implementation"] = "liger";
  CHECK_THROWS(scenario_from_record(r, "record", &s));
}
