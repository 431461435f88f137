// The screened bound of a layout (planner/search/screen_bound.h) without its screened space must be
// the very number screen_layout()'s space gives: the hardware search prints it for every pruned
// candidate and prunes on it. Checked layout by layout, across profiles, pins and batch rules.
#include <doctest/doctest.h>

#include "test_scenarios.h"
#include "planner/format.h"
#include "planner/memory/timeline_cache.h"
#include "planner/search/screen_bound.h"
#include "planner/search/search.h"

using namespace zplan;

namespace {

void same_bound_in_every_layout(const Scenario& s) {
  TimelineCache cache;  // as the hardware search screens: through a cache
  SearchOptions o;
  o.suggest = false;
  o.estimate.timeline_cache = &cache;
  int layouts_with_candidates = 0;
  for (const Strategy& layout : search_layouts(s)) {
    ScreenedSpace part;
    screen_layout(s, o, layout, part);
    const double want = screened_throughput_bound(part);
    CAPTURE(strategy_summary(layout, s.model.layers));
    CHECK(screened_layout_bound(s, o, layout) == want);  // exactly, not approximately
    layouts_with_candidates += want > 0 ? 1 : 0;
  }
  CHECK(layouts_with_candidates > 0);  // the scenarios below are not vacuous
}

}  // namespace

TEST_CASE("the hardware search's scenario: qwen3-30b at 16K on 8 and 16 GPUs") {
  same_bound_in_every_layout(scenario("qwen3-30b", "8xH100", 16384));
  Scenario s = scenario("qwen3-30b", "8xH200", 16384);
  s.cluster.nodes = 2;
  same_bound_in_every_layout(s);
}

TEST_CASE("single GPU and several, small models") {
  same_bound_in_every_layout(scenario("qwen3-0.6b", "1xH100", 8192));
  same_bound_in_every_layout(scenario("llama-3.2-1b", "4xA100", 4096));
  same_bound_in_every_layout(scenario("gpt2-xl", "4xV100", 1024));
}

TEST_CASE("zplan's runtime: chunked loss layouts") {
  Scenario s = scenario("qwen3-1.7b", "2xH100", 32768);
  s.training.profile = Profile::zplan;
  same_bound_in_every_layout(s);
}

TEST_CASE("pins: checkpointed layers, CPU checkpointing, micro-batch; a global batch") {
  Scenario pinned = scenario("qwen3-8b", "4xH100", 8192);
  pinned.pins.checkpointed_layers = 12;
  same_bound_in_every_layout(pinned);
  Scenario cpu = scenario("qwen3-8b", "4xH100", 8192);
  cpu.pins.cpu_checkpointing = true;
  cpu.pins.micro_batch = 2;
  same_bound_in_every_layout(cpu);
  Scenario batch = scenario("qwen3-4b", "8xH100", 8192);
  batch.training.global_batch = 32;  // grad accumulation follows the micro-batch
  same_bound_in_every_layout(batch);
}
