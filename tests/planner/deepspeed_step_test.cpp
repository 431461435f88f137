// DeepSpeed's host-side step terms (planner/cost/deepspeed_step.h) move the way their mechanisms
// say: the CPU Adam streams host memory (twice the bandwidth, half the time; a host with few cores
// is bound by arithmetic instead), the offloaded step exists only with offload, ZeRO-3's hooks
// scale with the modules of the Hugging Face tree and the passes over them, and parameter offload
// streams the weights once per pass.
#include <doctest/doctest.h>

#include "test_scenarios.h"
#include "planner/cost/deepspeed_step.h"
#include "planner/cost/step_terms.h"
#include "planner/cost/step_time.h"
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
  CHECK(estimate_step_time(qwen.model, qwen.cluster, qwen.training, zero(3), slower).step_seconds -
            estimate_step_time(qwen.model, qwen.cluster, qwen.training, zero(3)).step_seconds ==
        doctest::Approx(2 * qwen_modules * 1e-3));
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
