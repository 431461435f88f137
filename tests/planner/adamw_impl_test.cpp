// adamw_impl_test.cpp: what the zplan profile predicts for the runtime's two AdamW paths on the fp32
// masters of a 16-bit recipe (training_spec.h AdamWImpl): the fused-master kernel keeps no fp32
// copy of a gradient (the upcast path's largest optimizer temporary) and moves 28 bytes per
// parameter instead of 40; fp16's overflow check adds nothing per element; records measured before
// the kernel (no field) read as upcast.
#include <doctest/doctest.h>

#include <fstream>

#include "planner/cost/step_terms.h"
#include "planner/estimate.h"
#include "planner/io/run_record.h"
#include "planner/memory/exec_context.h"
#include "planner/memory/params.h"
#include "tests/planner/test_scenarios.h"

using namespace zplan;

namespace {

ExecContext context_for(Profile profile, AdamWImpl adamw, Precision precision) {
  TrainingSpec t;
  t.seq_len = 1024;
  t.profile = profile;
  t.adamw = adamw;
  t.framework = Framework::plain;
  Strategy s;
  s.precision = precision;
  return make_exec_context(t, s, 1);
}

uint64_t step_peak(const Estimate& e) { return e.memory.phases[static_cast<size_t>(Phase::optimizer_step)].peak_allocated_bytes; }

}  // namespace

TEST_CASE("the fused-master path: zplan's runtime, the fused choice, a recipe with fp32 masters") {
  CHECK(context_for(Profile::zplan, AdamWImpl::fused_master, Precision::bf16).fused_master_adamw);
  CHECK(context_for(Profile::zplan, AdamWImpl::fused_master, Precision::fp16).fused_master_adamw);
  CHECK_FALSE(context_for(Profile::zplan, AdamWImpl::fused_master, Precision::fp32).fused_master_adamw);
  CHECK_FALSE(context_for(Profile::zplan, AdamWImpl::fused_master, Precision::amp_bf16).fused_master_adamw);
  CHECK_FALSE(context_for(Profile::zplan, AdamWImpl::upcast, Precision::bf16).fused_master_adamw);
  CHECK_FALSE(context_for(Profile::hf, AdamWImpl::fused_master, Precision::bf16).fused_master_adamw);
  std::string name = to_string(AdamWImpl::fused_master);
  AdamWImpl parsed = AdamWImpl::upcast;
  CHECK(parse_adamw_impl(name, &parsed));
  CHECK(parsed == AdamWImpl::fused_master);
  CHECK_FALSE(parse_adamw_impl("fused", &parsed));
}

TEST_CASE("the optimizer step: no fp32 gradient copy with the fused-master kernel, in bf16 and fp16") {
  Scenario sc = scenario("qwen3-0.6b", "1xH100", 256);  // short: the step's temporaries matter
  sc.training.profile = Profile::zplan;
  uint64_t largest = 0;
  for (const ParamTensor& p : model_tables(sc.model).tensors) largest = std::max<uint64_t>(largest, p.elements);
  auto predict = [&](AdamWImpl adamw, Precision p) {
    TrainingSpec t = sc.training;
    t.adamw = adamw;
    Strategy st;
    st.precision = p;
    return estimate(sc.model, sc.cluster, t, st, EstimateOptions{});
  };
  const Estimate upcast = predict(AdamWImpl::upcast, Precision::bf16), fused = predict(AdamWImpl::fused_master, Precision::bf16);
  const Estimate fused16 = predict(AdamWImpl::fused_master, Precision::fp16);
  auto near = [](uint64_t a, uint64_t b) { return a >= b && a - b <= b / 1000; };  // allocator rounding
  CHECK(near(step_peak(upcast) - step_peak(fused), 4 * largest));
  // fp16's overflow check sums each gradient to one fp32 scalar: nothing per element.
  CHECK(step_peak(fused16) <= step_peak(fused));
  const Estimate upcast16 = predict(AdamWImpl::upcast, Precision::fp16);
  CHECK(near(step_peak(upcast16) - step_peak(fused16), 4 * largest));
  // The model states are the same.
  CHECK(upcast.memory.master_weights_bytes == fused.memory.master_weights_bytes);
  CHECK(upcast.memory.optimizer_states_bytes == fused.memory.optimizer_states_bytes);
}

TEST_CASE("the step time: the fused-master pass moves 28 bytes per parameter against the upcast path's 40") {
  CHECK(optimizer_pass_bytes_per_param(Precision::bf16, OptimizerPass::fused_master) == doctest::Approx(28));
  CHECK(optimizer_pass_bytes_per_param(Precision::bf16, OptimizerPass::upcast) == doctest::Approx(40));
  CHECK(optimizer_pass_bytes_per_param(Precision::bf16) == doctest::Approx(34));
  CHECK(optimizer_pass_bytes_per_param(Precision::fp32) == doctest::Approx(28));
  Scenario sc = scenario("qwen3-0.6b", "1xH100", 2048);
  sc.training.profile = Profile::zplan;
  Strategy st;
  TrainingSpec upcast = sc.training, fused = sc.training;
  upcast.adamw = AdamWImpl::upcast;
  fused.adamw = AdamWImpl::fused_master;
  const StepTime tu = estimate_step_time(sc.model, sc.cluster, upcast, st), tf = estimate_step_time(sc.model, sc.cluster, fused, st);
  CHECK(tu.optimizer_seconds / tf.optimizer_seconds == doctest::Approx(40.0 / 28.0));
  CHECK(tf.step_seconds < tu.step_seconds);
}

TEST_CASE("a run record without adamw_implementation reads as upcast; a wrong one is refused") {
  nlohmann::json r = read_run_record(std::string(ZPLAN_SOURCE_DIR) + "/tests/regression/measured/zplan_fused_norm/fused_qwen3-0.6b_s2048_mb4_ckpt14.json");
  r["scenario"].erase("adamw_implementation");
  Strategy s;
  CHECK(scenario_from_record(r, "record", &s).training.adamw == AdamWImpl::upcast);
  r["scenario"]["adamw_implementation"] = "fused-master";
  CHECK(scenario_from_record(r, "record", &s).training.adamw == AdamWImpl::fused_master);
  r["scenario"]["adamw_implementation"] = "apex";
  CHECK_THROWS(scenario_from_record(r, "record", &s));
}
