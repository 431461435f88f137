// DeepSpeed's host-side step terms (planner/cost/deepspeed_step.h) move the way their mechanisms
// say: the CPU Adam streams host memory (twice the bandwidth, half the time; a host with few cores
// is bound by arithmetic instead), the offloaded step exists only with offload, ZeRO-3's hooks
// scale with the modules of the Hugging Face tree and the passes over them, and parameter offload
// streams the weights once per pass.
#include <doctest/doctest.h>

#include "test_scenarios.h"
#include "planner/cost/deepspeed_step.h"
#include "planner/cost/host_device_overlap.h"
#include "planner/cost/step_terms.h"
#include "planner/cost/step_time.h"
#include "planner/io/run_record.h"
#include "planner/memory/params.h"

using namespace zplan;

namespace {

Scenario deepspeed(const std::string& model, const std::string& gpus, int64_t seq) {
  Scenario s = scenario(model, gpus, seq);
  s.training.framework = Framework::deepspeed;
  return s;
}

Strategy zero(int stage, bool offload_optimizer = false, bool offload_params = false) {
  Strategy st;
  st.zero_stage = stage;
  st.offload_optimizer = offload_optimizer;
  st.offload_params = offload_params;
  return st;
}

}  // namespace

TEST_CASE("CPU Adam streams host memory: doubling its bandwidth halves the term") {
  Scenario s = deepspeed("qwen3-0.6b", "1xH200", 4096);
  const StepMechanisms k;
  s.cluster.cpu_cores = 64;                       // arithmetic far from binding
  s.cluster.host_memory_bw_gb_per_s = 100.0;
  const double shard = 1e9;
  const double base = cpu_adam_seconds(shard, s.cluster, Precision::bf16, k);
  // 28 B of Adam (fp32 param, grad, moments) + the fp32 -> bf16 cast (4 + 2 B) per parameter.
  CHECK(base == doctest::Approx(shard * 34.0 / 100e9));
  s.cluster.host_memory_bw_gb_per_s = 200.0;
  CHECK(cpu_adam_seconds(shard, s.cluster, Precision::bf16, k) == doctest::Approx(base / 2));
  // fp16 adds the in-place unscale of the fp32 gradient partition (read + write).
  CHECK(cpu_adam_seconds(shard, s.cluster, Precision::fp16, k) == doctest::Approx(shard * 42.0 / 200e9));
  // GPUs of one node share its bandwidth.
  Scenario eight = deepspeed("qwen3-0.6b", "8xH200", 4096);
  const double node_bw = eight.cluster.host_memory_bw_gb_per_s;
  REQUIRE(node_bw > 0);
  CHECK(cpu_adam_seconds(shard, eight.cluster, Precision::bf16, k) == doctest::Approx(shard * 34.0 / (node_bw / 8 * 1e9)));
  // One core: bound by its arithmetic rate, not by memory.
  s.cluster.cpu_cores = 1;
  CHECK(cpu_adam_seconds(shard, s.cluster, Precision::bf16, k) == doctest::Approx(shard / k.cpu_adam_params_per_second_per_core));
}

TEST_CASE("the offloaded step is priced only with offload, and not by the CPU-checkpoint efficiency") {
  const Scenario s = deepspeed("qwen3-0.6b", "1xH200", 4096);
  const StepTerms plain = step_terms(s.model, s.cluster, s.training, zero(2));
  const StepTerms offload = step_terms(s.model, s.cluster, s.training, zero(2, true));
  CHECK(plain.total[kOffloadStepTerm] == 0.0);
  const double psi = static_cast<double>(model_tables(s.model).counts.total);
  const double host_bw = host_memory_bytes_per_second_per_rank(s.cluster);
  const double pcie = s.cluster.gpu.pcie_bw_gb_per_s * 1e9;
  // CPU Adam + cast, fp32 gradients down, bf16 parameters up (stage 2: copies exposed).
  CHECK(offload.total[kOffloadStepTerm] == doctest::Approx(psi * 34.0 / host_bw + psi * 4.0 / pcie + psi * 2.0 / pcie));
  CHECK(offload.total[kOffloadTerm] == 0.0);
  CostOptions slow_pcie;
  slow_pcie.offload_efficiency = 0.1;  // the fitted CPU-checkpoint constant does not touch it
  CHECK(estimate_step_time(s.model, s.cluster, s.training, zero(2, true), slow_pcie).step_seconds ==
        doctest::Approx(estimate_step_time(s.model, s.cluster, s.training, zero(2, true)).step_seconds));
  // Twice the host bandwidth: the step gets faster by half its CPU part.
  Scenario fast = s;
  fast.cluster.host_memory_bw_gb_per_s = 2 * kAssumedHostMemoryBwPerGpuGbPerS;
  const double gain = step_terms(s.model, s.cluster, s.training, zero(2, true)).total[kOffloadStepTerm] -
                      step_terms(fast.model, fast.cluster, fast.training, zero(2, true)).total[kOffloadStepTerm];
  CHECK(gain == doctest::Approx(psi * 34.0 / host_bw / 2));
}

TEST_CASE("ZeRO-3 hooks scale with the modules and the passes over them") {
  const Scenario qwen = deepspeed("qwen3-0.6b", "1xH200", 4096);
  const Scenario llama = deepspeed("llama-3.2-1b", "1xH200", 4096);
  // Qwen3 layer: layer, attention + q/k/v/o + q/k norms, two norms, MLP + 3 linears + activation.
  CHECK(hf_layer_modules(qwen.model, 0) == 15.0);
  CHECK(hf_layer_modules(llama.model, 0) == 13.0);
  const double qwen_modules = hf_top_modules(qwen.model) + 15.0 * static_cast<double>(qwen.model.layers);
  CHECK(zero3_hooked_module_passes(qwen.model, zero(3)) == doctest::Approx(2 * qwen_modules));
  // Twice the layers: twice the layer modules.
  Scenario deeper = qwen;
  deeper.model.layers *= 2;
  CHECK(zero3_hooked_module_passes(deeper.model, zero(3)) - zero3_hooked_module_passes(qwen.model, zero(3)) ==
        doctest::Approx(2 * 15.0 * static_cast<double>(qwen.model.layers)));
  // Recompute runs the checkpointed layers' forward hooks again; accumulation repeats all.
  Strategy ckpt = zero(3);
  ckpt.checkpointed_layers = qwen.model.layers;
  CHECK(zero3_hooked_module_passes(qwen.model, ckpt) ==
        doctest::Approx(2 * qwen_modules + 15.0 * static_cast<double>(qwen.model.layers)));
  Strategy ga = zero(3);
  ga.grad_accumulation = 4;
  CHECK(zero3_hooked_module_passes(qwen.model, ga) == doctest::Approx(8 * qwen_modules));
  // In the step: only DeepSpeed's stage 3 on Hugging Face code, each pass at zero3_hook_seconds.
  CHECK(step_terms(qwen.model, qwen.cluster, qwen.training, zero(3)).total[kZero3HookTerm] == doctest::Approx(2 * qwen_modules));
  CHECK(step_terms(qwen.model, qwen.cluster, qwen.training, zero(2)).total[kZero3HookTerm] == 0.0);
  Scenario fsdp = qwen;
  fsdp.training.framework = Framework::fsdp2;
  CHECK(step_terms(fsdp.model, fsdp.cluster, fsdp.training, zero(3)).total[kZero3HookTerm] == 0.0);
  CostOptions slower;
  slower.zero3_hook_seconds = CostOptions{}.zero3_hook_seconds + 1e-3;
  // The hooks are host work that never waits for the GPU at one rank (the fetch's waits are on an
  // idle side stream): they overlap the GPU's work as launches do. The step grows by less than
  // they add, and by most of it when the host binds (Qwen3-0.6B at 4K on Hugging Face code).
  CHECK(term_side(kZero3HookTerm) == TermSide::host);
  const double added = 2 * qwen_modules * 1e-3;
  const double grew = estimate_step_time(qwen.model, qwen.cluster, qwen.training, zero(3), slower).step_seconds -
                      estimate_step_time(qwen.model, qwen.cluster, qwen.training, zero(3)).step_seconds;
  CHECK(grew < added);
  CHECK(grew > 0.8 * added);
}

TEST_CASE("ZeRO-3 parameter offload streams the 16-bit weights up once per pass") {
  const Scenario s = deepspeed("qwen3-0.6b", "1xH200", 4096);
  const double psi = static_cast<double>(model_tables(s.model).counts.total);
  const double pcie = s.cluster.gpu.pcie_bw_gb_per_s * 1e9;
  const double opt_only = step_terms(s.model, s.cluster, s.training, zero(3, true)).total[kOffloadStepTerm];
  const double both = step_terms(s.model, s.cluster, s.training, zero(3, true, true)).total[kOffloadStepTerm];
  // Parameters on the host: no 16-bit partition goes up after the step; forward + backward fetch it.
  CHECK(both - opt_only == doctest::Approx(2.0 * psi * 2.0 / pcie - psi * 2.0 / pcie));
  Strategy ckpt = zero(3, true, true);
  ckpt.checkpointed_layers = s.model.layers;
  CHECK(step_terms(s.model, s.cluster, s.training, ckpt).total[kOffloadStepTerm] - both == doctest::Approx(psi * 2.0 / pcie));
}

TEST_CASE("a DeepSpeed ZeRO-3 record's step is the steady one, after the step that pays the trace scan") {
  const std::string dir = std::string(ZPLAN_SOURCE_DIR) + "/tests/regression/measured/hf_deepspeed/";
  auto read = [&](const std::string& name) {
    const nlohmann::json r = read_run_record(dir + name);
    Strategy st;
    const Scenario s = scenario_from_record(r, name, &st);
    return std::make_pair(measurement_from_record(r, name, deepspeed_first_steady_step(s.training, st)), r);
  };
  // ZeRO-3: step 2 (2.49 s) pays the one-time scan, step 3 (0.50 s) is what a long run repeats.
  const auto [z3, z3_record] = read("ds-z3_plain_qwen3-0.6b_bf16_4096_mb1_ckpt-off.json");
  const nlohmann::json& steps = z3_record.at("measurement").at("memory").at("gpu").at("steps");
  REQUIRE(steps.size() == 3);
  CHECK(z3.step_seconds == doctest::Approx(steps.at(2).at("step_seconds").get<double>()));
  CHECK(z3.recorded_step_seconds == doctest::Approx(z3_record.at("measurement").at("time").at("step_seconds").get<double>()));
  CHECK(z3.recorded_step_seconds > 2.5 * z3.step_seconds);
  // The same tokens per step, at the steady step's rate.
  const nlohmann::json& time = z3_record.at("measurement").at("time");
  CHECK(z3.tokens_per_second * z3.step_seconds ==
        doctest::Approx(time.at("tokens_per_second").get<double>() * time.at("step_seconds").get<double>()));
  // ZeRO-2 pays nothing after step 1: the record's own step time stands.
  const auto [z2, z2_record] = read("ds-z2_plain_qwen3-0.6b_bf16_4096_mb1_ckpt-off.json");
  CHECK(z2.step_seconds == z2.recorded_step_seconds);
  Strategy s3 = zero(3);
  Scenario ds = deepspeed("qwen3-0.6b", "1xH200", 4096);
  CHECK(deepspeed_first_steady_step(ds.training, s3) == 3);
  CHECK(deepspeed_first_steady_step(ds.training, zero(2)) == 2);
  ds.training.framework = Framework::fsdp2;
  CHECK(deepspeed_first_steady_step(ds.training, s3) == 2);
}

TEST_CASE("ZeRO-2's gradient hook runs once per parameter tensor and micro-step, on the host") {
  const Scenario qwen = deepspeed("qwen3-0.6b", "1xH200", 4096);
  const double tensors = static_cast<double>(model_tables(qwen.model).hf.size());
  const double psi = static_cast<double>(model_tables(qwen.model).counts.total);
  // Stage 2 partitions gradients: every tensor goes through the hook; stage 1 reduces after
  // backward unless overlap_comm asks for the hooks; stage 3 has hooks of its own.
  CHECK(step_terms(qwen.model, qwen.cluster, qwen.training, zero(2)).total[kZero2HookTerm] == doctest::Approx(tensors));
  CHECK(step_terms(qwen.model, qwen.cluster, qwen.training, zero(1)).total[kZero2HookTerm] == 0.0);
  CHECK(step_terms(qwen.model, qwen.cluster, qwen.training, zero(3)).total[kZero2HookTerm] == 0.0);
  Scenario overlap = qwen;
  overlap.training.overlap_comm = 1;
  CHECK(step_terms(overlap.model, overlap.cluster, overlap.training, zero(1)).total[kZero2HookTerm] == doctest::Approx(tensors));
  Strategy ga = zero(2);
  ga.grad_accumulation = 3;
  CHECK(step_terms(qwen.model, qwen.cluster, qwen.training, ga).total[kZero2HookTerm] == doctest::Approx(3 * tensors));
  // Other frameworks' ZeRO-2 (FSDP2's, zplan's runtime) have no such hook.
  Scenario fsdp = qwen;
  fsdp.training.framework = Framework::fsdp2;
  CHECK(step_terms(fsdp.model, fsdp.cluster, fsdp.training, zero(2)).total[kZero2HookTerm] == 0.0);
  // Its copies: into the bucket, the in-place average, into the partition (16-bit: 2 B, r + w each).
  CHECK(deepspeed_gradient_hook_bytes(qwen.model, zero(2)) == doctest::Approx(6.0 * psi * 2.0));
  const double hbm = qwen.cluster.gpu.memory_bw_gb_per_s * 1e9;
  CHECK(step_terms(qwen.model, qwen.cluster, qwen.training, zero(2)).total[kMemoryBoundTerm] -
            step_terms(qwen.model, qwen.cluster, qwen.training, zero(1)).total[kMemoryBoundTerm] ==
        doctest::Approx(12.0 * psi / hbm));
  // Host work beside the launches: the step grows, by less than the hooks add.
  CHECK(term_side(kZero2HookTerm) == TermSide::host);
  CostOptions none;
  none.zero2_hook_seconds = 0.0;
  const double with_hooks = estimate_step_time(qwen.model, qwen.cluster, qwen.training, zero(2)).step_seconds;
  const double without = estimate_step_time(qwen.model, qwen.cluster, qwen.training, zero(2), none).step_seconds;
  CHECK(with_hooks > without);
  CHECK(with_hooks - without < tensors * CostOptions{}.zero2_hook_seconds);
}
