// Plan search: the chosen plan is feasible, nothing better was skipped (brute force over the
// enumerated space with full estimates), pins are respected, infeasible reasons are right.
#include <doctest/doctest.h>

#include "test_scenarios.h"
#include "planner/estimate.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/model_loader.h"
#include "planner/io/scenario_loader.h"
#include "planner/search/search.h"

using namespace zplan;

namespace {

void check_no_better_candidate(const Scenario& s) {
  SearchOptions o;
  o.estimate.margin = 0.05;
  const Plan plan = search_plan(s, o);
  REQUIRE(plan.feasible);
  CHECK(plan.chosen.feasible);
  const double best = plan.chosen.time.tokens_per_second;
  size_t feasible = 0;
  for (const Strategy& st : enumerate_candidates(s)) {
    const Estimate e = estimate(s.model, s.cluster, s.training, st, o.estimate);
    if (!e.feasible) continue;
    ++feasible;
    CAPTURE(st.zero_stage);
    CAPTURE(st.checkpointed_layers);
    CAPTURE(st.micro_batch);
    CAPTURE(st.sp_degree);
    // The chosen plan is within the step-time model's error of the fastest feasible one
    // (planner/search/selection.h), so nothing feasible is faster than best / (1 - error).
    CHECK(e.time.tokens_per_second <= best / (1.0 - kPlanRankingError) * 1.000001);
  }
  CHECK(feasible > 0);
}

}  // namespace

TEST_CASE("brute force: no enumerated feasible candidate beats the chosen plan (1 GPU)") {
  Scenario s = scenario("qwen3-0.6b", "1xH100", 8192);
  s.pins.precision = Precision::amp_bf16;
  check_no_better_candidate(s);
}

TEST_CASE("brute force: no enumerated feasible candidate beats the chosen plan (4 GPUs, pinned ZeRO-3)") {
  Scenario s = scenario("qwen3-8b", "4xH100", 8192);
  s.pins.zero_stage = 3;
  s.pins.offload_params = false;
  check_no_better_candidate(s);
}

TEST_CASE("pins are respected and a global batch fixes micro-batch x accumulation x DP") {
  Scenario s = scenario("llama-3.1-8b", "8xH100", 4096);
  s.pins.zero_stage = 2;
  s.pins.sp_degree = 1;
  s.training.global_batch = 64;
  const Plan plan = search_plan(s, {});
  REQUIRE(plan.feasible);
  CHECK(plan.chosen.strategy.zero_stage == 2);
  CHECK(plan.chosen.strategy.sp_degree == 1);
  CHECK(plan.chosen.strategy.micro_batch * plan.chosen.strategy.grad_accumulation * 8 == 64);
}

TEST_CASE("nothing fits: the closest miss, the reason and suggestions") {
  Scenario s = scenario("llama-3.1-70b", "1xH100", 4096);
  const Plan plan = search_plan(s, {});
  CHECK_FALSE(plan.feasible);
  CHECK(plan.chosen.verdict.find("OOM") == 0);
  CHECK_FALSE(plan.suggestions.empty());
  // 70B parameters in bf16 + Adam cannot sit on one 80 GB GPU: the layouts were pruned for that.
  REQUIRE_FALSE(plan.rejected_layouts.empty());
  CHECK(plan.rejected_layouts.front().reason.find("model states alone need") == 0);
}

TEST_CASE("every configs/ scenario gets a feasible plan or a clear OOM") {
  for (const char* f : {"configs/qwen3-30b-a3b_h100x8_16k.yaml", "configs/gpt2-xl_v100x4_zero2.yaml",
                        "configs/pretrain-small_3080x3_12gb.yaml", "configs/gemma-3-27b_4gpu_zero3.yaml",
                        "configs/qwen3-30b-a3b_h100x8_16k_cpu-ckpt.yaml"}) {
    CAPTURE(f);
    const Scenario s = load_scenario(std::string(ZPLAN_SOURCE_DIR) + "/" + f);
    const Plan plan = search_plan(s, {});
    if (plan.feasible) CHECK(plan.chosen.feasible);
    else CHECK(plan.chosen.verdict.find("OOM") == 0);
  }
}
