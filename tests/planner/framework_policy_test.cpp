// Framework policies (planner/framework/): each framework's row of model-state homes, and the
// timeline allocating exactly what that row says (so that the row, which host memory, step time
// and the search read, cannot drift from the step the allocator replays).
#include <doctest/doctest.h>

#include "planner/framework/framework_policy.h"
#include "planner/io/model_loader.h"
#include "planner/memory/step_simulation.h"

using namespace zplan;

namespace {

struct Setup {
  ModelSpec m = load_model("qwen3-1.7b");
  TrainingSpec t;
  Strategy s;
  int64_t world = 4;
  Setup(Framework fw, int stage, bool offload_optimizer = false, bool offload_params = false) {
    t.seq_len = 1024;
    t.profile = Profile::hf;
    t.framework = fw;
    s.zero_stage = stage;
    s.offload_optimizer = offload_optimizer;
    s.offload_params = offload_params;
  }
  ModelStateHomes homes() const {
    const ExecContext c = make_exec_context(t, s, world);
    StepState st(m, t, s, c, TimelineRecording::events);
    return make_framework_policy(st)->homes();
  }
  // Bytes of every allocation of category `cat` over the simulated steps.
  uint64_t allocated(Category cat) const {
    const ExecContext c = make_exec_context(t, s, world);
    uint64_t sum = 0;
    const Timeline timeline = build_step_timeline(m, t, s, c, TimelineRecording::events);
    for (const AllocEvent& e : timeline.events())
      if (e.kind == AllocEvent::Kind::alloc && e.category == cat) sum += e.bytes * static_cast<uint64_t>(e.count);
    return sum;
  }
  int64_t psi() const { return model_tables(m).counts.total; }
};

}  // namespace

TEST_CASE("ZeRO rows: stage s divides optimizer state and gradients from 1, parameters at 3; offload moves them to the host") {
  for (int stage = 0; stage <= 3; ++stage) {
    const ModelStateHomes h = zero_state_homes(stage, false, false, 8);
    CHECK(h.optimizer_states.divisor() == (stage >= 1 ? 8 : 1));
    CHECK(h.master_params.divisor() == (stage >= 1 ? 8 : 1));
    CHECK(h.gradient_accumulator.divisor() == (stage >= 1 ? 8 : 1));
    CHECK(h.working_params.divisor() == (stage >= 3 ? 8 : 1));
    CHECK(h.gradients_reduce_scattered == (stage >= 2));
  }
  const ModelStateHomes off = zero_state_homes(3, true, true, 8);
  CHECK_FALSE(off.optimizer_states.on_gpu());
  CHECK_FALSE(off.master_params.on_gpu());
  CHECK_FALSE(off.gradient_accumulator.on_gpu());
  CHECK_FALSE(off.working_params.on_gpu());
  CHECK(zero_state_homes(0, false, false, 8).optimizer_states.created == CreatedAt::init);
  CHECK(zero_state_homes(2, false, false, 8).optimizer_states.created == CreatedAt::first_step);
}

TEST_CASE("each framework's row: FSDP2 shards everything, plain and DDP nothing, DeepSpeed by its stage") {
  const ModelStateHomes fsdp = Setup(Framework::fsdp2, 2).homes();
  CHECK(fsdp.working_params.divisor() == 4);
  CHECK(fsdp.optimizer_states.divisor() == 4);
  CHECK(fsdp.master_params.created == CreatedAt::never);
  const ModelStateHomes plain = Setup(Framework::plain, 0).homes();
  CHECK(plain.optimizer_states.divisor() == 1);
  CHECK(plain.master_params.created == CreatedAt::init);
  CHECK(Setup(Framework::ddp, 0).homes().master_params.created == CreatedAt::never);
  // A ZeRO stage on "plain" is DeepSpeed (make_exec_context).
  CHECK(Setup(Framework::plain, 2).homes().optimizer_states.divisor() == 4);
}

TEST_CASE("the timeline allocates the optimizer state, masters and gradient partition its row says") {
  for (int stage = 1; stage <= 3; ++stage) {
    CAPTURE(stage);
    const Setup ds(Framework::deepspeed, stage);
    const ModelStateHomes h = ds.homes();
    const uint64_t per_rank = static_cast<uint64_t>(h.optimizer_states.elements_per_rank(ds.psi()));
    CHECK(ds.allocated(Category::optimizer_states) == per_rank * 8);  // exp_avg + exp_avg_sq, fp32
    CHECK(ds.allocated(Category::master_weights) == per_rank * 4);
    const uint64_t partition = static_cast<uint64_t>(h.gradient_accumulator.elements_per_rank(ds.psi())) * 2;
    // Stage 3 keeps one partition for the run; stages 1/2 create one per step (two simulated steps).
    CHECK(ds.allocated(Category::grads) == partition * (stage == 3 ? 1 : 2));
  }
  // Offloaded: none of them on the GPU.
  const Setup off(Framework::deepspeed, 3, true, false);
  CHECK(off.allocated(Category::optimizer_states) == 0);
  CHECK(off.allocated(Category::master_weights) == 0);
  CHECK(off.allocated(Category::grads) == 0);
  // FSDP2: sharded Adam state.
  const Setup fsdp(Framework::fsdp2, 3);
  CHECK(fsdp.allocated(Category::optimizer_states) ==
        static_cast<uint64_t>(fsdp.homes().optimizer_states.elements_per_rank(fsdp.psi())) * 8);
  // Plain loop: whole, per tensor.
  const Setup plain(Framework::plain, 0);
  CHECK(plain.allocated(Category::optimizer_states) == static_cast<uint64_t>(plain.psi()) * 8);
}
