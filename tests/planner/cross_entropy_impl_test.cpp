// cross_entropy_impl_test.cpp: what the zplan profile predicts for the runtime's cross-entropy
// kernels on the plain loss path (training_spec.h CrossEntropyImpl; loss_path.h): no fp32 copy of
// the logits; the logits kept to backward instead of log_softmax's fp32 output; one 16-bit gradient
// in backward instead of two fp32 ones and the cast; the chunked path and the hf profile unchanged;
// fewer bytes in the step; records without the field read as composite.
#include <doctest/doctest.h>

#include "planner/estimate.h"
#include "planner/io/run_record.h"
#include "planner/memory/exec_context.h"
#include "tests/planner/test_scenarios.h"

using namespace zplan;

namespace {

uint64_t phase_peak(const Estimate& e, Phase p) { return e.memory.phases[static_cast<size_t>(p)].peak_allocated_bytes; }

Estimate predict(const Scenario& sc, Profile profile, CrossEntropyImpl ce, int64_t loss_chunks = 0) {
  TrainingSpec t = sc.training;
  t.profile = profile;
  t.cross_entropy = ce;
  Strategy s;
  s.loss_chunks = loss_chunks;
  return estimate(sc.model, sc.cluster, t, s, EstimateOptions{});
}

}  // namespace

TEST_CASE("the cross-entropy kernels: zplan's runtime and the fused choice; parse and print") {
  TrainingSpec t;
  t.seq_len = 1024;
  t.framework = Framework::plain;
  Strategy s;
  t.profile = Profile::zplan;
  CHECK(make_exec_context(t, s, 1).fused_cross_entropy);
  t.cross_entropy = CrossEntropyImpl::composite;
  CHECK_FALSE(make_exec_context(t, s, 1).fused_cross_entropy);
  t.cross_entropy = CrossEntropyImpl::fused;
  t.profile = Profile::hf;
  CHECK_FALSE(make_exec_context(t, s, 1).fused_cross_entropy);
  CrossEntropyImpl parsed = CrossEntropyImpl::composite;
  CHECK(parse_cross_entropy_impl(to_string(CrossEntropyImpl::fused), &parsed));
  CHECK(parsed == CrossEntropyImpl::fused);
  CHECK_FALSE(parse_cross_entropy_impl("liger", &parsed));
}

TEST_CASE("the plain path's peak: logits and their 16-bit gradient instead of three fp32 [tokens, vocab] tensors") {
  // Qwen3-0.6B at 8K tokens: the loss path is the peak (151,936-entry vocabulary).
  const Scenario sc = scenario("qwen3-0.6b", "1xH100", 8192);
  const Estimate fused = predict(sc, Profile::zplan, CrossEntropyImpl::fused);
  const Estimate composite = predict(sc, Profile::zplan, CrossEntropyImpl::composite);
  const uint64_t tv = 8192ull * static_cast<uint64_t>(sc.model.vocab);
  // Forward's peak, at the loss: logits (2 B), their fp32 copy and log_softmax's fp32 output (4 B
  // each) against the logits alone.
  const double fwd_drop = static_cast<double>(phase_peak(composite, Phase::forward_end)) -
                          static_cast<double>(phase_peak(fused, Phase::forward_end));
  CHECK(fwd_drop == doctest::Approx(8.0 * static_cast<double>(tv)).epsilon(0.01));
  // Backward's start: log_softmax + nll grad + log_softmax grad (12 B) against logits + grad (4 B).
  const uint64_t bwd_drop = phase_peak(composite, Phase::backward_peak) - phase_peak(fused, Phase::backward_peak);
  CHECK(bwd_drop >= 7 * tv);
  CHECK(bwd_drop <= 8 * tv + tv / 100);
  // The hf profile (transformers' loss) and the chunked path do not use the kernels.
  CHECK(predict(sc, Profile::hf, CrossEntropyImpl::fused).memory.peak_allocated_bytes ==
        predict(sc, Profile::hf, CrossEntropyImpl::composite).memory.peak_allocated_bytes);
  CHECK(predict(sc, Profile::zplan, CrossEntropyImpl::fused, 4).memory.peak_allocated_bytes ==
        predict(sc, Profile::zplan, CrossEntropyImpl::composite, 4).memory.peak_allocated_bytes);
}

TEST_CASE("the step time: the kernels move 3 x 16 bits per logit against the composite path's bytes") {
  Scenario sc = scenario("qwen3-0.6b", "1xH100", 4096);
  sc.training.profile = Profile::zplan;
  Strategy st;
  TrainingSpec fused = sc.training, composite = sc.training;
  fused.cross_entropy = CrossEntropyImpl::fused;
  composite.cross_entropy = CrossEntropyImpl::composite;
  const StepTime tf = estimate_step_time(sc.model, sc.cluster, fused, st);
  const StepTime tc = estimate_step_time(sc.model, sc.cluster, composite, st);
  CHECK(tf.memory_bound_seconds < tc.memory_bound_seconds);
  CHECK(tf.compute_seconds == doctest::Approx(tc.compute_seconds));
}

TEST_CASE("a run record without cross_entropy_implementation reads as composite; a wrong one is refused") {
  nlohmann::json r = read_run_record(std::string(ZPLAN_SOURCE_DIR) + "/tests/regression/measured/zplan_fused_norm/fused_qwen3-0.6b_s2048_mb4_ckpt14.json");
  Strategy s;
  CHECK(scenario_from_record(r, "record", &s).training.cross_entropy == CrossEntropyImpl::composite);
  r["scenario"]["cross_entropy_implementation"] = "fused";
  CHECK(scenario_from_record(r, "record", &s).training.cross_entropy == CrossEntropyImpl::fused);
  r["scenario"]["cross_entropy_implementation"] = "liger";
  CHECK_THROWS(scenario_from_record(r, "record", &s));
}
