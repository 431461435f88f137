// The plan search against brute force (issue 16): for each scenario, every candidate of the whole
// space (each checkpointed-layer count 0..L, CPU checkpointing on and off, every layout and batch)
// is estimated, the recommendation rule of planner/search/selection.h is applied to the feasible
// ones, and the search must make the same choice. Fit is not monotonic in the checkpointed-layer
// count once the caching allocator is replayed, so a bisection could miss what this finds.
#include <doctest/doctest.h>

#include "test_scenarios.h"
#include "planner/estimate.h"
#include "planner/format.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/model_loader.h"
#include "planner/memory/params.h"
#include "planner/report/plan_report.h"
#include "planner/search/search.h"

using namespace zplan;

namespace {

// Every candidate, in full. The only shortcut is exact: a candidate whose allocated peak (the
// screen) already does not fit cannot fit once reserved (>= allocated) is replayed.
std::vector<Estimate> all_feasible(const Scenario& s, const SearchOptions& o) {
  EstimateOptions screen = o.estimate;
  screen.fast = true;
  std::vector<Estimate> feasible;
  for (const Strategy& st : enumerate_candidates(s)) {
    const Estimate quick = estimate(s.model, s.cluster, s.training, st, screen);
    if (!quick.feasible) continue;
    Estimate e = estimate(s.model, s.cluster, s.training, st, o.estimate);
    CHECK(e.free_bytes <= quick.free_bytes);  // the screen's bound holds
    if (e.feasible) feasible.push_back(e);
  }
  return feasible;
}

void same_choice_as_brute_force(const Scenario& s, Objective objective = Objective::throughput) {
  SearchOptions o;
  o.objective = objective;
  o.suggest = false;
  const Plan plan = search_plan(s, o);
  std::vector<Estimate> feasible = all_feasible(s, o);
  REQUIRE(plan.feasible == !feasible.empty());
  if (feasible.empty()) return;
  rank_feasible(feasible, objective);
  const Estimate& want = feasible.front();
  const Strategy& got = plan.chosen.strategy;
  CAPTURE(strategy_summary(want.strategy, s.model.layers));
  CAPTURE(strategy_summary(got, s.model.layers));
  CHECK(plan.chosen.feasible);
  CHECK(plan.chosen.free_bytes == want.free_bytes);
  CHECK(plan.chosen.time.tokens_per_second == doctest::Approx(want.time.tokens_per_second));
  CHECK(got.zero_stage == want.strategy.zero_stage);
  CHECK(got.offload_optimizer == want.strategy.offload_optimizer);
  CHECK(got.offload_params == want.strategy.offload_params);
  CHECK(got.checkpointed_layers == want.strategy.checkpointed_layers);
  CHECK(got.cpu_checkpointing == want.strategy.cpu_checkpointing);
  CHECK(got.sp_degree == want.strategy.sp_degree);
  CHECK(got.micro_batch == want.strategy.micro_batch);
}

}  // namespace

TEST_CASE("the mission: qwen3-30b on 8xH100 at 16K") {
  same_choice_as_brute_force(scenario("qwen3-30b", "8xH100", 16384));
}

TEST_CASE("single GPU, small models") {
  same_choice_as_brute_force(scenario("qwen3-0.6b", "1xH100", 8192));
  same_choice_as_brute_force(scenario("gpt2-xl", "1xH100", 1024));
  same_choice_as_brute_force(scenario("llama-3.2-1b", "1xA100-40G", 4096));
  same_choice_as_brute_force(scenario("qwen3-1.7b", "1x3090", 2048));
}

TEST_CASE("several GPUs") {
  same_choice_as_brute_force(scenario("qwen3-1.7b", "4xH100", 8192));
  same_choice_as_brute_force(scenario("gpt2-xl", "4xV100", 1024));
  same_choice_as_brute_force(scenario("llama-3.2-3b", "2xA100", 8192));
  same_choice_as_brute_force(scenario("qwen3-4b", "2xH100", 4096));
}

TEST_CASE("pins and the memory objective") {
  Scenario s = scenario("qwen3-8b", "4xH100", 8192);
  s.pins.zero_stage = 3;
  s.pins.offload_params = false;
  same_choice_as_brute_force(s);
  same_choice_as_brute_force(scenario("qwen3-1.7b", "2xH100", 16384), Objective::memory);
}
