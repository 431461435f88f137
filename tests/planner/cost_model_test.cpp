// Step-time model, its calibration and the hardware/price search: the terms move the way their
// mechanisms say, the least-squares fit recovers known constants and respects physical bounds,
// calibration files round-trip and bad ones are rejected, the plan search ranks with the
// calibrated function (brute force agrees), and the pruned hardware search equals an exhaustive one.
#include <doctest/doctest.h>

#include <algorithm>

#include <cmath>
#include <limits>
#include <tuple>

#include "test_scenarios.h"
#include "planner/config/runtime_support.h"
#include "planner/cost/calibration.h"
#include "planner/cost/host_device_overlap.h"
#include "planner/estimate.h"
#include "planner/input_error.h"
#include "planner/io/calibration_loader.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/model_loader.h"
#include "planner/search/hardware_search.h"
#include "planner/search/search.h"
#include "planner/search/selection.h"

using namespace zplan;

namespace {

Strategy strategy(int64_t mb, int64_t ckpt, Precision p = Precision::bf16) {
  Strategy st;
  st.micro_batch = mb;
  st.checkpointed_layers = ckpt;
  st.precision = p;
  return st;
}

double seconds(const Scenario& s, const Strategy& st, const CostOptions& o = {}) {
  return estimate_step_time(s.model, s.cluster, s.training, st, o).step_seconds;
}

// A calibration far from the defaults: slow GEMMs, costly launches and syncs.
CostOptions unusual_constants() {
  CostOptions o;
  o.matmul_efficiency = 0.25;
  o.attention_efficiency = 0.9;
  o.kernel_overhead_seconds = 60e-6;
  o.micro_step_overhead_seconds = 0.02;
  o.offload_step_efficiency = 0.5;
  o.zero3_hook_seconds = 1e-3;
  o.zero2_hook_seconds = 2e-3;
  o.checkpoint_hook_seconds = 3e-5;
  o.calibration = "test";
  return o;
}

}  // namespace

TEST_CASE("terms follow their mechanisms") {
  const Scenario s = scenario("qwen3-0.6b", "1xH100", 4096);
  CHECK(seconds(s, strategy(1, 28)) > seconds(s, strategy(1, 0)));             // recompute adds a forward
  CHECK(seconds(s, strategy(4, 0)) > seconds(s, strategy(1, 0)));
  CHECK(seconds(s, strategy(1, 0, Precision::fp32)) > 2 * seconds(s, strategy(1, 0)));  // no tensor cores
  Scenario longer = s;
  longer.training.seq_len = 16384;
  CHECK(seconds(longer, strategy(1, 0)) > 4 * seconds(s, strategy(1, 0)));     // attention grows as T^2
  Scenario eager = s;
  eager.training.attention = Attention::eager;
  CHECK(seconds(eager, strategy(1, 0)) > seconds(s, strategy(1, 0)));          // T x T scores in HBM
  // MoE: transformers' Python loop over experts waits for the GPU once per expert.
  Scenario moe = scenario("qwen3-30b-a3b", "1xH100", 4096);
  moe.model.layers = 2;
  Scenario loop = moe;
  loop.training.experts = ExpertsImpl::eager;
  const StepTerms grouped = step_terms(moe.model, moe.cluster, moe.training, strategy(1, 0));
  const StepTerms looped = step_terms(loop.model, loop.cluster, loop.training, strategy(1, 0));
  CHECK(grouped.total[kHostSyncTerm] == 0);
  CHECK(looped.total[kHostSyncTerm] == doctest::Approx(2 * 128));
  // Collectives appear with a second GPU, and ZeRO-3 gathers the weights again each micro-step.
  Scenario two = scenario("qwen3-0.6b", "2xH100", 4096);
  Strategy z3 = strategy(1, 0);
  z3.zero_stage = 3;
  const StepTerms t0 = step_terms(two.model, two.cluster, two.training, strategy(1, 0));
  const StepTerms t3 = step_terms(two.model, two.cluster, two.training, z3);
  CHECK(t0.total[kCommTerm] > 0);
  CHECK(t3.total[kCommTerm] > t0.total[kCommTerm]);
  CHECK(t3.total[kOptimizerTerm] == doctest::Approx(t0.total[kOptimizerTerm] / 2));
}

TEST_CASE("MoE experts under autocast multiply in fp32; the eager loop casts instead and makes whole-stack gradients") {
  Scenario moe = scenario("qwen3-30b-a3b", "1xH100", 4096);
  moe.model.layers = 2;
  const double C = static_cast<double>(moe.model.hidden), FE = static_cast<double>(moe.model.moe.expert_ffn);
  const double E = moe.model.moe.num_experts, K = moe.model.moe.experts_per_token, tokens = 4096;
  const StepMechanisms k;
  auto terms = [](const Scenario& s, Precision p) { return step_terms(s.model, s.cluster, s.training, strategy(1, 0, p)); };
  // The same FLOPs either way; under autocast the experts' share runs at the fp32 rate instead of
  // _grouped_mm's 16-bit rate (the peak's share for tokens x K / E rows per expert).
  const StepTerms bf16 = terms(moe, Precision::bf16), amp = terms(moe, Precision::amp_bf16);
  const double expert_flops = 2.0 * tokens * K * 3.0 * C * FE * static_cast<double>(moe.model.layers) * k.training_passes_per_forward;
  const double rows = tokens * K / E, grouped_share = rows / (rows + k.grouped_gemm_half_rate_rows);
  const double fp32_rate = moe.cluster.gpu.fp32_tflops * 1e12, bf16_rate = moe.cluster.gpu.bf16_tflops * 1e12 * grouped_share;
  CHECK(amp.total[kMatmulTerm] - bf16.total[kMatmulTerm] >= 0.95 * expert_flops * (1.0 / fp32_rate - 1.0 / bf16_rate));
  CHECK(amp.total[kMatmulTerm] - bf16.total[kMatmulTerm] <= 1.3 * expert_flops * (1.0 / fp32_rate - 1.0 / bf16_rate));
  // FSDP2's mixed precision hands the experts 16-bit weights and runs no autocast: no fp32 GEMMs.
  Scenario fsdp = moe;
  fsdp.training.framework = Framework::fsdp2;
  CHECK(terms(fsdp, Precision::amp_bf16).total[kMatmulTerm] == doctest::Approx(terms(fsdp, Precision::bf16).total[kMatmulTerm]).epsilon(0.02));
  // transformers' eager loop: F.linear is on autocast's list, so 16-bit GEMMs after a cast of
  // each hit expert's weights; its backward returns a whole [E, ...] gradient per hit expert.
  Scenario eager = moe;
  eager.training.experts = ExpertsImpl::eager;
  const StepTerms eager_bf16 = terms(eager, Precision::bf16), eager_amp = terms(eager, Precision::amp_bf16);
  CHECK(eager_amp.total[kMatmulTerm] == doctest::Approx(eager_bf16.total[kMatmulTerm]));
  const double hbm = moe.cluster.gpu.memory_bw_gb_per_s * 1e9;
  const double stack_bytes_bf16 = E * 3.0 * C * FE * 2.0;  // gate, up and down of every expert
  const double whole_stack_grads = static_cast<double>(moe.model.layers) * E * 4.0 * stack_bytes_bf16 / hbm;
  CHECK(eager_bf16.total[kMemoryBoundTerm] - bf16.total[kMemoryBoundTerm] == doctest::Approx(whole_stack_grads));
  // fp32 stacks (AMP) double those bytes, and each forward casts the hit experts' weights.
  CHECK(eager_amp.total[kMemoryBoundTerm] - amp.total[kMemoryBoundTerm] > 2.0 * whole_stack_grads);
}

TEST_CASE("GPT-2's composite GELU under autocast runs in fp32 after torch.pow") {
  const Scenario gpt2 = scenario("gpt2-xl", "1xH200", 1024);
  REQUIRE(gpt2.model.composite_gelu);
  auto memory = [](const Scenario& s, Precision p) {
    return step_terms(s.model, s.cluster, s.training, strategy(8, 0, p)).total[kMemoryBoundTerm];
  };
  // Per element of [tokens, 4C]: 8 passes at 4 B instead of 2 B, and two casts (read 4, write 2).
  const double elements = 8.0 * 1024 * static_cast<double>(gpt2.model.ffn) * static_cast<double>(gpt2.model.layers);
  const double gelu_seconds = elements * (8.0 * 2.0 + 12.0) * StepMechanisms{}.training_passes_per_forward /
                              (gpt2.cluster.gpu.memory_bw_gb_per_s * 1e9);
  const double amp_extra = memory(gpt2, Precision::amp_bf16) - memory(gpt2, Precision::bf16);
  CHECK(amp_extra > gelu_seconds);
  // The rest of AMP's extra traffic (weight casts) is smaller than the GELU's at 8 x 1024 tokens.
  CHECK(amp_extra < 2.0 * gelu_seconds);
  // Models with a one-kernel activation have no such cost.
  const Scenario qwen = scenario("qwen3-0.6b", "1xH200", 1024);
  REQUIRE_FALSE(qwen.model.composite_gelu);
  CHECK(memory(qwen, Precision::amp_bf16) - memory(qwen, Precision::bf16) < 0.5 * gelu_seconds);
}

TEST_CASE("transformers' gradient checkpointing costs host time per op of each wrapped layer; the runtime's does not") {
  Scenario hf = scenario("qwen3-0.6b", "1xH100", 2048);
  hf.training.profile = Profile::hf;
  auto terms = [](const Scenario& s, int64_t ckpt, int64_t ga = 1) {
    Strategy st = strategy(1, ckpt);
    st.grad_accumulation = ga;
    return step_terms(s.model, s.cluster, s.training, st);
  };
  CHECK(terms(hf, 0).total[kCheckpointHookTerm] == 0.0);
  const StepTerms half = terms(hf, 14);
  // One count per op of the recomputed layers (their forward's kernels), per micro-step.
  CHECK(half.total[kCheckpointHookTerm] == doctest::Approx(half.recompute[kKernelTerm]));
  CHECK(terms(hf, 28).total[kCheckpointHookTerm] == doctest::Approx(2.0 * half.total[kCheckpointHookTerm]));
  CHECK(terms(hf, 14, 4).total[kCheckpointHookTerm] == doctest::Approx(4.0 * half.total[kCheckpointHookTerm]));
  Scenario runtime = hf;
  runtime.training.profile = Profile::zplan;
  CHECK(terms(runtime, 28).total[kCheckpointHookTerm] == 0.0);
  // A host-side overhead: the fit keeps it at or above zero, and a calibration file may set it.
  CHECK(term_side(kCheckpointHookTerm) == TermSide::host);
  CHECK(physical_lower_bounds(hf.cluster.gpu)[kCheckpointHookTerm] == 0.0);
  CHECK(term_weights(CostOptions{})[kCheckpointHookTerm] == doctest::Approx(90e-6));
}

TEST_CASE("MoE experts take torch._grouped_mm's fused kernel only for bf16 experts on compute capability 9-10") {
  Scenario moe = scenario("qwen3-30b-a3b", "1xH100", 4096);
  moe.model.layers = 2;
  auto syncs = [](const Scenario& s, Precision p) {
    return step_terms(s.model, s.cluster, s.training, strategy(1, 0, p)).total[kHostSyncTerm];
  };
  CHECK(syncs(moe, Precision::bf16) == 0);               // one CUTLASS kernel, no host sync
  CHECK(syncs(moe, Precision::amp_bf16) == doctest::Approx(2 * 2));  // fp32 experts: fallback, offs.cpu() per call
  CHECK(syncs(moe, Precision::fp16) == doctest::Approx(2 * 2));
  Scenario fsdp = moe;                                   // FSDP2's policy hands the experts bf16 weights
  fsdp.training.framework = Framework::fsdp2;
  CHECK(syncs(fsdp, Precision::amp_bf16) == 0);
  Scenario ampere = scenario("qwen3-30b-a3b", "1xA100-80GB", 4096);
  ampere.model.layers = 2;
  CHECK(syncs(ampere, Precision::bf16) == doctest::Approx(2 * 2));
  // zplan's runtime: the same _grouped_mm on a GPU; its own loop (records before 2026-12-06) syncs
  // once per layer and costs more than the fused kernel.
  Scenario runtime = moe;
  runtime.training.profile = Profile::zplan;
  Scenario runtime_loop = runtime;
  runtime_loop.training.experts = ExpertsImpl::loop;
  CHECK(syncs(runtime, Precision::bf16) == 0);
  CHECK(syncs(runtime_loop, Precision::bf16) == doctest::Approx(2));
  CHECK(seconds(runtime_loop, strategy(1, 0)) > seconds(runtime, strategy(1, 0)));
}

TEST_CASE("the least-squares fit recovers known constants and keeps physical bounds") {
  CostOptions truth;
  truth.matmul_efficiency = 0.45;
  truth.attention_efficiency = 0.5;
  truth.memory_bw_efficiency = 0.8;
  truth.optimizer_traffic_factor = 3.0;
  truth.kernel_overhead_seconds = 20e-6;
  truth.micro_step_overhead_seconds = 0.01;
  truth.host_sync_seconds = 300e-6;
  const StepTermVector w = term_weights(truth);
  std::vector<CalibrationSample> samples;
  for (const char* model : {"qwen3-0.6b", "qwen3-1.7b", "llama-3.2-1b", "gpt2-xl"})
    for (int64_t seq : {1024, 4096, 16384})
      for (int64_t mb : {1, 4})
        for (bool ckpt : {false, true})
          for (Precision p : {Precision::bf16, Precision::amp_bf16}) {
            Scenario s = scenario(model, "1xH100", seq);
            if (std::string(model) == "gpt2-xl" && seq > 1024) continue;
            CalibrationSample c;
            c.terms = step_terms(s.model, s.cluster, s.training, strategy(mb, ckpt ? s.model.layers : 0, p)).total;
            c.measured_seconds = predicted_step_seconds(c.terms, w);
            samples.push_back(c);
          }
  // MoE samples with the expert loop exercise the host-sync term.
  for (ExpertsImpl e : {ExpertsImpl::grouped_mm, ExpertsImpl::eager}) {
    Scenario s = scenario("qwen3-30b-a3b", "1xH100", 4096);
    s.model.layers = 2;
    s.training.experts = e;
    CalibrationSample c;
    c.terms = step_terms(s.model, s.cluster, s.training, strategy(1, 0)).total;
    c.measured_seconds = predicted_step_seconds(c.terms, w);
    samples.push_back(c);
  }
  const FitResult fit = fit_term_weights(samples, CostOptions{}, 0.0);
  for (size_t t : {kMatmulTerm, kAttentionTerm, kMemoryBoundTerm, kOptimizerTerm, kKernelTerm, kMicroStepTerm, kHostSyncTerm}) {
    CAPTURE(step_term_name(t));
    CHECK(fit.weights[t] == doctest::Approx(w[t]).epsilon(0.02));
  }
  // No sample has a second GPU or an offload: those keep their documented defaults.
  CHECK(fit.weights[kCommTerm] == doctest::Approx(term_weights(CostOptions{})[kCommTerm]));
  CHECK(fit.weights[kOffloadTerm] == doctest::Approx(term_weights(CostOptions{})[kOffloadTerm]));
  // Measurements faster than the datasheet allows: the matmul weight stops at 1 (100% of peak).
  std::vector<CalibrationSample> too_fast = samples;
  for (CalibrationSample& c : too_fast) c.measured_seconds = 0.3 * c.terms[kMatmulTerm] + 1e-6 * c.terms[kKernelTerm];
  const FitResult bounded = fit_term_weights(too_fast, CostOptions{}, 0.0);
  CHECK(bounded.weights[kMatmulTerm] >= 1.0);
  for (size_t t = 0; t < kStepTermCount; ++t) CHECK(bounded.weights[t] >= 0.0);
}

TEST_CASE("calibration files round-trip; bad ones name the file and field") {
  Calibration c;
  c.gpu = "h100-80gb";
  c.note = "test";
  c.profiles[Profile::hf].constants = unusual_constants();
  c.profiles[Profile::hf].runs = 12;
  c.profiles[Profile::hf].fitted = {"matmul", "kernels"};
  const Calibration back = parse_calibration_yaml(calibration_yaml(c), "round-trip.yaml");
  CHECK(back.gpu == "h100-80gb");
  REQUIRE(back.profiles.count(Profile::hf) == 1);
  const StepTermVector a = term_weights(c.profiles[Profile::hf].constants), b = term_weights(back.profiles.at(Profile::hf).constants);
  for (size_t t = 0; t < kStepTermCount; ++t) CHECK(b[t] == doctest::Approx(a[t]).epsilon(1e-5));
  CHECK(back.profiles.at(Profile::hf).fitted.size() == 2);
  std::string text = calibration_yaml(c);
  const std::string good = "matmul_efficiency: 0.25";
  REQUIRE(text.find(good) != std::string::npos);
  std::string over = text;
  over.replace(over.find(good), good.size(), "matmul_efficiency: 1.5");
  CHECK_THROWS_WITH_AS(parse_calibration_yaml(over, "c.yaml"), doctest::Contains("profiles.hf.matmul_efficiency"), InputError);
  CHECK_THROWS_AS(parse_calibration_yaml("gpu: h900\nprofiles: {hf: {}}\n", "c.yaml"), InputError);
  CHECK_THROWS_AS(parse_calibration_yaml("gpu: h100\nprofile: {}\n", "c.yaml"), InputError);
  CHECK_THROWS_AS(load_calibration("no/such/calibration.yaml"), InputError);
  // Files fitted before the DeepSpeed terms existed lack their keys: those keep the defaults.
  std::string older = text;
  for (const char* key : {"    offload_step_efficiency: 0.5\n", "    zero3_hook_seconds: 0.001\n", "    zero2_hook_seconds: 0.002\n",
                          "    checkpoint_hook_seconds: 3e-05\n"}) {
    REQUIRE(older.find(key) != std::string::npos);
    older.erase(older.find(key), std::string(key).size());
  }
  const CostOptions kept = parse_calibration_yaml(older, "old.yaml").profiles.at(Profile::hf).constants;
  CHECK(kept.zero3_hook_seconds == CostOptions{}.zero3_hook_seconds);
  CHECK(kept.zero2_hook_seconds == CostOptions{}.zero2_hook_seconds);
  CHECK(kept.checkpoint_hook_seconds == CostOptions{}.checkpoint_hook_seconds);
  CHECK(kept.offload_step_efficiency == CostOptions{}.offload_step_efficiency);
  // A calibration applies to its own GPU only; other GPUs stay uncalibrated.
  CHECK(cost_options_for(load_gpu("a100-40gb"), Profile::hf, &c).calibration.empty());
  CHECK(cost_options_for(load_gpu("h100"), Profile::hf, &c).matmul_efficiency == doctest::Approx(0.25));
}

TEST_CASE("the search ranks with the calibrated step time: brute force agrees") {
  Scenario s = scenario("qwen3-1.7b", "2xH100", 8192);
  s.pins.precision = Precision::bf16;
  SearchOptions o;
  o.estimate.margin = 0.05;
  o.estimate.cost = unusual_constants();
  const Plan plan = search_plan(s, o);
  REQUIRE(plan.feasible);
  CHECK(plan.chosen.time.calibrated);
  // What the report prints is the same function the ranking used.
  const StepTime direct = estimate_step_time(s.model, s.cluster, s.training, plan.chosen.strategy, o.estimate.cost);
  CHECK(plan.chosen.time.step_seconds == doctest::Approx(direct.step_seconds));
  size_t feasible = 0;
  double fastest_tokens_per_second = 0;
  for (const Strategy& st : enumerate_candidates(s)) {
    const Estimate e = estimate(s.model, s.cluster, s.training, st, o.estimate);
    if (!e.feasible) continue;
    ++feasible;
    fastest_tokens_per_second = std::max(fastest_tokens_per_second, e.time.tokens_per_second);
    // The chosen plan is within the step-time model's error of the fastest feasible one
    // (planner/search/selection.h: inside that window more free memory wins).
    CHECK(tie_floor(e.time.tokens_per_second) <= plan.chosen.time.tokens_per_second * 1.005);
  }
  CHECK(feasible > 0);
  // The fastest feasible plan the search reports (--explain measures the tie against it) is the
  // brute force's, not merely the fastest of the alternatives it shows.
  CHECK(plan.fastest_tokens_per_second == doctest::Approx(fastest_tokens_per_second).epsilon(0.005));
  CHECK(estimate(s.model, s.cluster, s.training, plan.fastest_strategy, o.estimate).feasible);
  // Under the defaults the ranking differs in seconds: the calibration is really used.
  SearchOptions d = o;
  d.estimate.cost = CostOptions{};
  CHECK(search_plan(s, d).chosen.time.step_seconds != doctest::Approx(plan.chosen.time.step_seconds));
}

namespace {

std::tuple<int, bool, bool, int64_t, bool, int, int64_t, int64_t, int64_t> key_of(const Strategy& s) {
  return {s.zero_stage, s.offload_optimizer, s.offload_params, s.checkpointed_layers, s.cpu_checkpointing, s.sp_degree,
          s.loss_chunks, s.micro_batch, s.grad_accumulation};
}

void check_pruning_is_exact(const Scenario& s, const std::vector<GpuSpec>& gpus, int max_gpus) {
  for (HardwareObjective objective : {HardwareObjective::cost, HardwareObjective::time}) {
    HardwareSearchOptions o;
    o.search.estimate.margin = 0.05;
    o.objective = objective;
    o.max_gpus = max_gpus;
    const HardwarePlan hp = search_hardware(s, gpus, o);
    REQUIRE(hp.feasible);
    // Exhaustive: every GPU and count, searched in full.
    double best = std::numeric_limits<double>::infinity();
    for (const GpuSpec& g : gpus)
      for (int n : gpu_counts(max_gpus)) {
        Scenario c = s;
        c.cluster = cluster_of(g, n);
        pin_search_to_runtime(c);  // what the hardware search offers on this count (--profile zplan)
        SearchOptions so = o.search;
        so.estimate.cost = cost_options_for(g, s.training.profile, nullptr);
        const Plan p = search_plan(c, so);
        if (c.cluster.name == hp.ranked.front().cluster.name) {
          // The layout-by-layout screen, merged, is search_plan's own search of that hardware.
          CHECK(key_of(p.chosen.strategy) == key_of(hp.ranked.front().plan.chosen.strategy));
          CHECK(p.evaluated == hp.ranked.front().plan.evaluated);
          CHECK(p.alternatives.size() == hp.ranked.front().plan.alternatives.size());
        }
        if (!p.feasible) continue;
        const double tps = p.chosen.time.tokens_per_second;
        best = std::min(best, objective == HardwareObjective::cost ? g.price_per_gpu_hour * n / 3600.0 / tps * 1e6 : -tps);
      }
    const HardwareCandidate& chosen = hp.ranked.front();
    const double got = objective == HardwareObjective::cost ? chosen.dollars_per_million_tokens : -chosen.tokens_per_second;
    CHECK(got == doctest::Approx(best));
    // Bounds are bounds: no searched candidate beat its own optimistic throughput.
    for (const HardwareCandidate& c : hp.ranked) {
      CHECK(c.tokens_per_second <= c.bound_tokens_per_second * (1 + 1e-9));
      if (c.screened_bound_tokens_per_second > 0) CHECK(c.tokens_per_second <= c.screened_bound_tokens_per_second * (1 + 1e-9));
    }
    // The search without pruning (every candidate screened and searched in full) chooses the same
    // hardware and plan, and every candidate the pruned search ranked gets the same plan there.
    HardwareSearchOptions all = o;
    all.prune = false;
    const HardwarePlan every = search_hardware(s, gpus, all);
    REQUIRE(every.feasible);
    CHECK(every.ranked.front().cluster.name == chosen.cluster.name);
    CHECK(key_of(every.ranked.front().plan.chosen.strategy) == key_of(chosen.plan.chosen.strategy));
    CHECK(every.ranked.front().plan.evaluated == chosen.plan.evaluated);
    CHECK(every.ranked.size() >= hp.ranked.size());
    for (const HardwareCandidate& c : hp.ranked)
      for (const HardwareCandidate& e : every.ranked)
        if (e.cluster.name == c.cluster.name) CHECK(e.tokens_per_second == c.tokens_per_second);
  }
}

}  // namespace

TEST_CASE("hardware search: pruning returns what the exhaustive search returns") {
  check_pruning_is_exact(scenario("qwen3-1.7b", "1xH100", 4096),
                         {load_gpu("h100"), load_gpu("a100-80gb"), load_gpu("l40s"), load_gpu("rtx4090")}, 8);
  // Long sequences: the logits bound on the micro-batch decides which layouts are searched.
  check_pruning_is_exact(scenario("qwen3-0.6b", "1xH100", 32768), {load_gpu("rtx4090"), load_gpu("l40s")}, 4);
  // Calibrated and uncalibrated GPUs, one with 141 GB: screens shared across GPU types of a count.
  check_pruning_is_exact(scenario("llama-3.2-1b", "1xH100", 8192), {load_gpu("h100"), load_gpu("h200"), load_gpu("a100-40gb")}, 4);
}

TEST_CASE("hardware search: model-state memory sets the fewest GPUs; below it, bad input") {
  const Scenario s = scenario("qwen3-30b-a3b", "1xH100", 16384);
  const int minimum = min_gpus_for_model_states(s.model, cluster_of(load_gpu("h100"), 8), Precision::bf16);
  CHECK(minimum >= 2);
  HardwareSearchOptions o;
  o.max_gpus = 1;
  CHECK_THROWS_WITH_AS(search_hardware(s, {load_gpu("h100")}, o), doctest::Contains("--max-gpus"), InputError);
}
