// A peak-only timeline (the search's screen) replays its events as they arrive instead of storing
// them (planner/memory/timeline_replay.h); simulate() of it must equal simulate() of the same step
// recorded event by event: peak, its phase and step, the composition at the peak, every phase.
#include <doctest/doctest.h>

#include "test_scenarios.h"
#include "planner/memory/exec_context.h"
#include "planner/memory/step_simulation.h"

using namespace zplan;

namespace {

void same_replay(const Scenario& s, const Strategy& st) {
  const ExecContext c = make_exec_context(s.training, st, s.cluster.world_size());
  const TimelineResult recorded = simulate(build_step_timeline(s.model, s.training, st, c, TimelineRecording::events));
  const Timeline streamed = build_step_timeline(s.model, s.training, st, c, TimelineRecording::peak_only);
  CHECK(streamed.events().empty());  // nothing stored
  const TimelineResult r = simulate(streamed);
  CHECK(r.peak_bytes == recorded.peak_bytes);
  CHECK(r.peak_step == recorded.peak_step);
  CHECK(r.peak_phase == recorded.peak_phase);
  CHECK(r.at_peak == recorded.at_peak);
  CHECK(r.largest_at_peak == recorded.largest_at_peak);  // "(names not recorded)" both
  for (size_t i = 0; i < r.phases.size(); ++i) {
    CHECK(r.phases[i].phase == recorded.phases[i].phase);
    CHECK(r.phases[i].allocated_bytes == recorded.phases[i].allocated_bytes);
    CHECK(r.phases[i].peak_allocated_bytes == recorded.phases[i].peak_allocated_bytes);
  }
}

}  // namespace

TEST_CASE("peak-only and recorded timelines replay to the same result") {
  const Scenario moe = scenario("qwen3-30b", "8xH100", 16384);
  for (int stage = 0; stage <= 3; ++stage)
    for (int64_t ckpt : {int64_t{0}, int64_t{20}, int64_t{48}}) {
      Strategy st;
      st.zero_stage = stage;
      st.offload_optimizer = stage == 3;
      st.checkpointed_layers = ckpt;
      st.cpu_checkpointing = ckpt == 20;
      same_replay(moe, st);
    }
  Scenario runtime = scenario("qwen3-1.7b", "1xH100", 32768);
  runtime.training.profile = Profile::zplan;
  runtime.training.framework = Framework::plain;
  Strategy chunked;
  chunked.loss_chunks = 16;
  chunked.checkpointed_layers = 10;
  same_replay(runtime, chunked);
  Strategy amp;
  amp.precision = Precision::amp_bf16;
  amp.grad_accumulation = 2;
  same_replay(scenario("llama-3.2-1b", "2xH100", 4096), amp);
}
