// The strategy rules and the runtime's capabilities are each stated once (planner/config/validate.h,
// runtime_support.h) and the search, --explain and the runtime read them; the memory categories are
// one table (planner/memory/memory_category.h) that the JSON encoding follows.
#include <doctest/doctest.h>

#include "planner/config/runtime_support.h"
#include "planner/config/validate.h"
#include "planner/input_error.h"
#include "planner/io/breakdown_json.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/model_loader.h"
#include "planner/memory/memory_category.h"
#include "planner/search/search.h"

using namespace zplan;

TEST_CASE("check_strategy names the broken rule without throwing; validate_strategy throws the same text") {
  const ModelSpec m = load_model("qwen3-8b");
  const ClusterSpec c = cluster_from_gpus_flag("8xH100");
  TrainingSpec t;
  t.seq_len = 8192;
  Strategy s;
  s.sp_degree = 3;
  const StrategyCheck problem = check_strategy(s, m, c, t);
  REQUIRE(problem);
  CHECK(problem->dimension == StrategyDimension::sp_degree);
  CHECK(problem->flag == "--sp");
  CHECK(problem->message == "degree 3 does not divide the 8 GPUs");
  CHECK_THROWS_WITH_AS(validate_strategy(s, m, c, t), "--sp: degree 3 does not divide the 8 GPUs", InputError);
  s.sp_degree = 1;
  s.offload_optimizer = true;  // at ZeRO 0
  REQUIRE(check_strategy(s, m, c, t));
  CHECK(check_strategy(s, m, c, t)->dimension == StrategyDimension::offload);
  s.zero_stage = 2;
  CHECK_FALSE(check_strategy(s, m, c, t));
}

TEST_CASE("the search offers no layout the strategy rules refuse") {
  Scenario sc;
  sc.model = load_model("qwen3-8b");
  sc.cluster = cluster_from_gpus_flag("8xH100");
  sc.training.seq_len = 12000;  // divisible by 1, 2, 4, 8 but not by 16 (no SP 16 on 8 GPUs anyway)
  sc.training.attention = Attention::sdpa;
  size_t with_sp = 0;
  for (const Strategy& st : search_layouts(sc)) {
    CHECK_FALSE(check_strategy(st, sc.model, sc.cluster, sc.training));
    if (st.sp_degree > 1) ++with_sp;
  }
  CHECK(with_sp > 0);
  sc.training.attention = Attention::eager;  // Ulysses refuses eager attention
  for (const Strategy& st : search_layouts(sc)) CHECK(st.sp_degree == 1);
}

TEST_CASE("zplan's runtime refuses offloads and uneven KV-head splits, and runs a plain plan") {
  const ModelSpec m = load_model("qwen3-8b");  // 32 attention heads, 8 KV heads
  TrainingSpec t;
  t.seq_len = 4096;
  CHECK(runtime_runs_sp_degree(m, 4));   // 2 KV heads per rank
  CHECK(runtime_runs_sp_degree(m, 16));  // each KV head replicated on 2 ranks
  ModelSpec six = m;
  six.kv_heads = 6;
  CHECK_FALSE(runtime_runs_sp_degree(six, 4));
  Strategy s;
  s.zero_stage = 3;
  CHECK_FALSE(check_runtime_support(m, t, s, true, 8));
  s.offload_optimizer = true;
  REQUIRE(check_runtime_support(m, t, s, true, 8));
  CHECK(check_runtime_support(m, t, s, true, 8)->message == "optimizer offload is not implemented by the runtime");
  s.offload_optimizer = false;
  s.precision = Precision::fp16;
  CHECK(check_runtime_support(m, t, s, true, 8) == std::nullopt);
  CHECK(check_runtime_support(m, t, s, false, 8)->flag == "--precision");  // fp16 needs CUDA
}

TEST_CASE("the runtime runs sequences longer than a sliding window (it masks the window)") {
  const ModelSpec m = load_model("mistral-7b");  // sliding_window 4096 on every layer
  TrainingSpec t;
  Strategy s;
  t.seq_len = 8192;
  CHECK(check_runtime_support(m, t, s, true, 1) == std::nullopt);
}

TEST_CASE("the JSON breakdown has one key per memory category and reads back into the same field") {
  MemoryBreakdown m;
  uint64_t bytes = 1000;
  for (const CategoryInfo& c : kCategories) m.*(c.member) = bytes++;
  const nlohmann::json j = memory_to_json(m);
  CHECK(j.at("gpu").at("breakdown").size() == kCategoryCount);
  const MemoryBreakdown back = memory_from_json(j, "test");
  for (const CategoryInfo& c : kCategories) {
    CHECK(j.at("gpu").at("breakdown").at(c.json_key) == m.*(c.member));
    CHECK(back.*(c.member) == m.*(c.member));
  }
  CHECK(std::string(to_string(Category::optimizer_temp)) == "optimizer_temp");
}
