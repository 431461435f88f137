// The amp recipes on zplan's runtime (planner/config/runtime_support.h, runtime/model/autocast.h):
// which plans the runtime runs (amp-bf16 anywhere, amp-fp16 on CUDA, neither with the chunked
// loss, bf16-pure nowhere), that the search keeps the whole-logits loss for a pinned amp
// precision, and what --profile zplan predicts for them: fp32 parameters and gradients without
// masters, autocast's cached weight casts, amp-fp16's loss-scaler temporaries in the step.
#include <doctest/doctest.h>

#include "planner/config/runtime_support.h"
#include "planner/estimate.h"
#include "planner/memory/params.h"
#include "planner/search/search.h"
#include "tests/planner/test_scenarios.h"

using namespace zplan;

TEST_CASE("the runtime runs amp-bf16 anywhere and amp-fp16 on CUDA, neither with the chunked loss") {
  const ModelSpec m = load_model("qwen3-0.6b");
  TrainingSpec t;
  t.seq_len = 8192;
  Strategy s;
  s.precision = Precision::amp_bf16;
  CHECK(check_runtime_support(m, t, s, /*cuda=*/false, 1) == std::nullopt);
  s.precision = Precision::amp_fp16;
  CHECK(check_runtime_support(m, t, s, true, 1) == std::nullopt);
  REQUIRE(check_runtime_support(m, t, s, false, 1));
  CHECK(check_runtime_support(m, t, s, false, 1)->flag == "--precision");  // CPU autocast has no fp16
  s.loss_chunks = 4;
  REQUIRE(check_runtime_support(m, t, s, true, 1));
  CHECK(check_runtime_support(m, t, s, true, 1)->flag == "--loss-chunks");
  s = Strategy{};
  s.precision = Precision::bf16_pure;
  REQUIRE(check_runtime_support(m, t, s, true, 1));
  CHECK(check_runtime_support(m, t, s, true, 1)->flag == "--precision");
}

TEST_CASE("the search keeps the whole-logits loss for a pinned amp precision on zplan's runtime") {
  Scenario sc = scenario("qwen3-0.6b", "1xH100", 32768);
  sc.training.profile = Profile::zplan;
  sc.pins.precision = Precision::bf16;
  bool chunked = false;
  for (const Strategy& st : search_layouts(sc)) chunked |= st.loss_chunks > 0;
  CHECK(chunked);  // bf16 is offered the chunked loss at this length
  for (Precision p : {Precision::amp_bf16, Precision::amp_fp16}) {
    sc.pins.precision = p;
    const std::vector<Strategy> layouts = search_layouts(sc);
    CHECK_FALSE(layouts.empty());
    for (const Strategy& st : layouts) CHECK(st.loss_chunks == 0);
  }
}

TEST_CASE("--profile zplan under amp: fp32 states, cached weight casts, amp-fp16's scaler temporaries") {
  Scenario sc = scenario("qwen3-0.6b", "1xH100", 2048);
  sc.training.profile = Profile::zplan;
  const uint64_t n = count_parameters(sc.model).total;
  auto predict = [&](Precision p) {
    Strategy st;
    st.precision = p;
    return estimate(sc.model, sc.cluster, sc.training, st, EstimateOptions{});
  };
  const Estimate bf16 = predict(Precision::bf16), amp = predict(Precision::amp_bf16), amp16 = predict(Precision::amp_fp16);
  auto near = [](uint64_t a, uint64_t b) { return a >= b && a - b <= b / 1000; };  // allocator rounding
  CHECK(near(amp.memory.weights_bytes, 4 * n));
  CHECK(amp.memory.master_weights_bytes == 0);
  CHECK(near(amp.memory.optimizer_states_bytes, 8 * n));
  // Forward keeps bf16 copies of every matmul weight next to the fp32 ones (and fp32 residuals).
  CHECK(amp.memory.activations_bytes > bf16.memory.activations_bytes);
  // amp-bf16 steps on the fp32 grads directly; amp-fp16 unscales one gradient at a time into an
  // fp32 copy after checking them all for inf/nan (the runtime's MixedAdamW::step).
  uint64_t largest = 0;
  for (const ParamTensor& p : model_tables(sc.model).tensors) largest = std::max<uint64_t>(largest, p.elements);
  auto step_peak = [](const Estimate& e) {
    return e.memory.phases[static_cast<size_t>(Phase::optimizer_step)].peak_allocated_bytes;
  };
  CHECK(near(step_peak(amp16) - step_peak(amp), 4 * largest));
}
