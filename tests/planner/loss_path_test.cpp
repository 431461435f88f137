// The loss path as a plan dimension (planner/memory/loss_path.h): what a chunked step holds at the
// end of forward (d h and d W, not logits), that its transient scales with one chunk, what the
// search offers to which profile, and that a long sequence only fits zplan's runtime chunked.
#include <doctest/doctest.h>

#include "planner/estimate.h"
#include "planner/input_error.h"
#include "planner/memory/activations.h"
#include "planner/memory/loss_path.h"
#include "planner/search/search.h"
#include "tests/planner/test_scenarios.h"

using namespace zplan;

namespace {

Scenario runtime_scenario(const std::string& model, int64_t seq) {
  Scenario s = scenario(model, "1xH200", seq);
  s.training.profile = Profile::zplan;  // zplan --run
  return s;
}

Estimate predict(const Scenario& s, int64_t chunks, int64_t ckpt = 0) {
  Strategy st;
  st.checkpointed_layers = ckpt;
  st.loss_chunks = chunks;
  return estimate(s.model, s.cluster, s.training, st, EstimateOptions{});
}

uint64_t phase_peak(const Estimate& e, Phase p) { return e.memory.phases[static_cast<size_t>(p)].peak_allocated_bytes; }

}  // namespace

uint64_t phase_end(const Estimate& e, Phase p) { return e.memory.phases[static_cast<size_t>(p)].allocated_bytes; }

TEST_CASE("loss path: a chunked step ends forward holding d h and d W instead of logits") {
  Scenario s = runtime_scenario("qwen3-0.6b", 8192);
  s.training.cross_entropy = CrossEntropyImpl::composite;  // transformers' loss on the plain path
  const double n = 8192, c = 2, h = static_cast<double>(s.model.hidden), v = static_cast<double>(s.model.vocab);
  const Estimate plain = predict(s, 0), chunked = predict(s, 4);
  // Plain: the bf16 logits (the trainer drops them once forward_end is read), the fp32 log-softmax
  // [N, V] and lm_head's saved input [N, C]. Chunked: d h [N, C] and d W [V, C] in bf16.
  const double expected = ((c + 4) * n * v + c * n * h) - (c * n * h + c * v * h);
  const double measured = static_cast<double>(phase_end(plain, Phase::forward_end)) -
                          static_cast<double>(phase_end(chunked, Phase::forward_end));
  CHECK(measured == doctest::Approx(expected).epsilon(0.002));  // allocator rounding: <= 2 MiB a tensor
  // Inside forward a chunk's fp32 logits beside at::logsumexp's fp32 exp(z - max): 8 n V with
  // n = N / 4 (more than the bf16 logits + fp32 copy, (c + 4) n V), on top of lm_head's input,
  // which dies with the call.
  const double transient = static_cast<double>(phase_peak(chunked, Phase::forward_end) - phase_end(chunked, Phase::forward_end));
  CHECK(transient == doctest::Approx(8 * (n / 4) * v + c * n * h).epsilon(0.01));
  const Estimate finer = predict(s, 8);
  const double transient8 = static_cast<double>(phase_peak(finer, Phase::forward_end) - phase_end(finer, Phase::forward_end));
  CHECK(transient8 == doctest::Approx(8 * (n / 8) * v + c * n * h).epsilon(0.01));
  // The backward no longer starts with 12 bytes per token and vocabulary entry.
  CHECK(chunked.memory.peak_allocated_bytes + static_cast<uint64_t>(4 * n * v) < plain.memory.peak_allocated_bytes);
  CHECK(chunked.memory.logits_bytes < plain.memory.logits_bytes);
  // zplan's cross-entropy kernels on the plain path: the node keeps the bf16 logits and 8 bytes per
  // token instead of the fp32 log-softmax; the chunked path still holds less at its peak.
  s.training.cross_entropy = CrossEntropyImpl::fused;
  const Estimate fused = predict(s, 0);
  const double fused_minus_chunked = static_cast<double>(phase_end(fused, Phase::forward_end)) -
                                     static_cast<double>(phase_end(chunked, Phase::forward_end));
  CHECK(fused_minus_chunked == doctest::Approx(c * n * v + 8 * n - c * v * h).epsilon(0.002));
  CHECK(chunked.memory.peak_allocated_bytes < fused.memory.peak_allocated_bytes);
}

TEST_CASE("loss path: one chunk costs what the plain path costs; many tiny chunks pay for re-reading lm_head") {
  const Scenario s = runtime_scenario("qwen3-1.7b", 4096);
  const double plain = predict(s, 0).time.step_seconds;
  CHECK(predict(s, 1).time.step_seconds == plain);
  const double two = predict(s, 2).time.step_seconds, tiny = predict(s, 4096).time.step_seconds;
  CHECK(two >= plain);
  CHECK(tiny > 1.2 * two);  // 4096 one-token GEMMs each read the 0.6 GB weight
}

TEST_CASE("loss path: the search offers chunks to zplan's runtime only; Hugging Face refuses a pin") {
  Scenario hf = scenario("qwen3-1.7b", "1xH200", 16384);
  for (const Strategy& st : search_layouts(hf)) CHECK(st.loss_chunks == 0);
  Scenario rt = hf;
  rt.training.profile = Profile::zplan;
  bool plain = false, chunked = false;
  for (const Strategy& st : search_layouts(rt)) {
    plain |= st.loss_chunks == 0;
    chunked |= st.loss_chunks == offered_loss_chunks(16384);
  }
  CHECK(plain);
  CHECK(chunked);
  CHECK(offered_loss_chunks(16384) == 8);
  CHECK(offered_loss_chunks(1000) == 2);
  CHECK(offered_loss_chunks(1) == 0);
  Strategy pinned;
  pinned.loss_chunks = 8;
  CHECK_THROWS_WITH_AS(estimate(hf.model, hf.cluster, hf.training, pinned, EstimateOptions{}),
                       doctest::Contains("--loss-chunks"), InputError);
}

TEST_CASE("loss path: Qwen3-1.7B at 128K tokens fits one H200 only with the chunked loss (transformers' loss)") {
  Scenario s = runtime_scenario("qwen3-1.7b", 131072);
  s.training.cross_entropy = CrossEntropyImpl::composite;  // with zplan's kernels the plain path needs 4 B per logit, not 12
  s.pins.zero_stage = 0;  // what zplan --run searches on one GPU: no ZeRO stage, no offload
  s.pins.offload_optimizer = false;
  s.pins.offload_params = false;
  const Plan chosen = search_plan(s, SearchOptions{});
  REQUIRE(chosen.feasible);
  CHECK(chosen.chosen.strategy.loss_chunks == 64);
  s.pins.loss_chunks = 0;
  SearchOptions no_suggestions;
  no_suggestions.suggest = false;
  CHECK_FALSE(search_plan(s, no_suggestions).feasible);
}

// The first GPU comparison (docs/performance.md: Qwen3-1.7B, 131072 tokens, 28/28 layers on CPU, 64
// chunks, bf16 + fp32 masters) measured 30.53 GiB peak in forward and 43.97 GiB in backward. Each
// phase must equal the sum of the tensors the runtime holds there (runtime_layer_order.h).
TEST_CASE("loss path: 128K CPU-checkpointed chunked step holds what the runtime holds") {
  Scenario s = runtime_scenario("qwen3-1.7b", 131072);
  s.training.norm = NormImpl::composite;  // that run's RMSNorm (before the fused kernel, NormImpl)
  s.training.elementwise = ElementwiseImpl::composite;  // and its SwiGLU (silu's output saved)
  Strategy st;
  st.checkpointed_layers = 28;
  st.cpu_checkpointing = true;
  st.loss_chunks = 64;
  const Estimate e = estimate(s.model, s.cluster, s.training, st, EstimateOptions{});
  const double n = 131072, C = 2048, F = 6144, V = 151936, HD = 128;
  const double base = static_cast<double>(phase_end(e, Phase::after_init)) + n * (16 + 2 * 2 * HD);  // ids+labels, RoPE
  // End of forward: the final norm's fp32 input and normed output, d h, d W.
  CHECK(static_cast<double>(phase_end(e, Phase::forward_end)) ==
        doctest::Approx(base + n * 6 * C + 2 * n * C + 2 * V * C).epsilon(0.001));
  // Forward peak, at a checkpointed layer's down projection without autograd: its input, h, the
  // MLP input, gate, act, up, product, down's output.
  CHECK(static_cast<double>(phase_peak(e, Phase::forward_end)) ==
        doctest::Approx(base + n * (4 * 2 * C + 4 * 2 * F)).epsilon(0.001));
  // Backward peak, at layer 0's MLP multiply: every gradient but layer 0's, the incoming gradient,
  // the layer's input back from the host, its recomputed output, the saved rows less the product,
  // and d product, d act, d up.
  const ExecContext c = make_exec_context(s.training, st, 1);
  const double saved = static_cast<double>(sum_bytes(block_activations(s.model, 0, c).saved, 131072, 1));
  const double layer0_params = 50336000, all_params = 1720574976;
  const double expected = base + 2 * (all_params - layer0_params) + 3 * 2 * n * C + saved - 2 * n * F + 3 * 2 * n * F;
  CHECK(static_cast<double>(e.memory.peak_allocated_bytes) == doctest::Approx(expected).epsilon(0.002));
  CHECK(saved == doctest::Approx(n * 112704).epsilon(1e-9));  // the recomputed layer's saved rows
}
