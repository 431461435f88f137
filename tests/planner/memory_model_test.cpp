// Memory-model tests: closed forms from the literature (ZeRO paper, Korthikanti et al. 2022),
// monotonicity properties, and the timeline/allocator machinery.
#include <doctest/doctest.h>

#include "planner/config/validate.h"
#include "planner/estimate.h"
#include "planner/input_error.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/model_loader.h"
#include "planner/memory/activations.h"
#include "planner/memory/caching_allocator.h"
#include "planner/memory/params.h"
#include "planner/search/search.h"

using namespace zplan;

namespace {

TrainingSpec training(int64_t seq, Profile profile = Profile::hf, Framework fw = Framework::deepspeed) {
  TrainingSpec t;
  t.seq_len = seq;
  t.profile = profile;
  t.framework = fw;
  return t;
}

Strategy strategy(int zero, int64_t ckpt = 0, Precision p = Precision::bf16, int sp = 1, int64_t mb = 1) {
  Strategy s;
  s.zero_stage = zero;
  s.checkpointed_layers = ckpt;
  s.precision = p;
  s.sp_degree = sp;
  s.micro_batch = mb;
  return s;
}

}  // namespace

TEST_CASE("ZeRO model states per rank follow the ZeRO paper's 2+2+12 bytes per parameter") {
  // Rajbhandari et al. 2019, sec. 5 / Figure 1: mixed-precision Adam keeps 2Ψ fp16 params,
  // 2Ψ grads, KΨ = 12Ψ optimizer states (fp32 params, momentum, variance); P_os divides the 12Ψ,
  // P_os+g also the 2Ψ grads, P_os+g+p everything, by the data-parallel degree N. DeepSpeed 0.19's
  // stage 1 keeps only its gradient partition between backward and step (sharding_policy.cpp), so it holds
  // what P_os+g holds, not the paper's P_os.
  const int64_t psi = 7'500'000'000;
  const int n = 64;
  const double p = static_cast<double>(psi);
  CHECK(model_state_bytes_per_rank(psi, strategy(0), n) == static_cast<uint64_t>(16 * p));
  CHECK(model_state_bytes_per_rank(psi, strategy(1), n) == static_cast<uint64_t>(2 * p + 14 * p / n));
  CHECK(model_state_bytes_per_rank(psi, strategy(2), n) == static_cast<uint64_t>(2 * p + 14 * p / n));
  CHECK(model_state_bytes_per_rank(psi, strategy(3), n) == static_cast<uint64_t>(16 * p / n));
  // The paper's worked example: 7.5B parameters on 64 GPUs: 120 GB, 31.4 GB (P_os; DeepSpeed 0.19's
  // stage 1: 16.6 GB), 16.6 GB, 1.9 GB.
  CHECK(model_state_bytes_per_rank(psi, strategy(0), n) / 1e9 == doctest::Approx(120.0).epsilon(0.01));
  CHECK(model_state_bytes_per_rank(psi, strategy(1), n) / 1e9 == doctest::Approx(16.6).epsilon(0.01));
  CHECK(model_state_bytes_per_rank(psi, strategy(2), n) / 1e9 == doctest::Approx(16.6).epsilon(0.01));
  CHECK(model_state_bytes_per_rank(psi, strategy(3), n) / 1e9 == doctest::Approx(1.9).epsilon(0.02));
}

TEST_CASE("the timeline's resident DeepSpeed model states match the same formulas") {
  const ModelSpec m = load_model("qwen3-8b");
  const ClusterSpec c = cluster_from_gpus_flag("8xH100");
  const double psi = static_cast<double>(count_parameters(m).total);
  for (int stage = 0; stage <= 3; ++stage) {
    CAPTURE(stage);
    const Estimate e = estimate(m, c, training(1024), strategy(stage, m.layers));
    const PhaseMemory init = e.memory.phases[static_cast<size_t>(Phase::after_init)];
    // After init: params + fp32 master (+ Adam m and v for stage 0 only, whose unfused optimizer
    // steps once at init: ZeRO stages create them in the first step) (+ the 16-bit gradient
    // partition stage 3 allocates up front; stages 1/2 create theirs per step) + cuBLAS. Stage 3
    // also creates its reduce bucket with the optimizer (reduce_bucket_size 5e8 elements, bf16).
    double expected = 2 * psi / (stage == 3 ? 8 : 1) + 4 * psi / (stage >= 1 ? 8 : 1);
    if (stage == 0) expected += 8 * psi;
    if (stage == 3) expected += 2 * psi / 8 + 2 * 500'000'000.0;
    expected += 64.0 * 1024 * 1024;
    CHECK(static_cast<double>(init.allocated_bytes) == doctest::Approx(expected).epsilon(0.001));
  }
}

TEST_CASE("a dense block without flash attention saves Korthikanti et al.'s sbh(34 + 5as/h) bytes") {
  // Korthikanti et al. 2022, eq. (1) / Table 2 (no parallelism): 16-bit activations, GELU keeping
  // its input, dropout masks of 1 byte, attention scores materialised: 34 sbh + 5 a s^2 b bytes.
  ModelSpec m = load_model("gpt2-medium");
  m.composite_gelu = false;   // the paper's GELU is one op
  m.hidden_dropout = 0.1;
  m.attention_dropout = 0.1;
  TrainingSpec t = training(1024);
  t.attention = Attention::eager;
  const ExecContext c = make_exec_context(t, strategy(0, 0, Precision::bf16), 1);
  const BlockActivations b = block_activations(m, 0, c);
  const double s = 1024, h = static_cast<double>(m.hidden), a = static_cast<double>(m.heads);
  const double paper = s * h * (34.0 + 5.0 * a * s / h);
  const double ours = static_cast<double>(sum_bytes(b.saved, 1024, 1));
  // Ours also keeps LayerNorm's per-token mean and rstd (2 x 4 bytes per norm), which the paper drops.
  CHECK(ours == doctest::Approx(paper + 2 * 8 * s).epsilon(1e-9));
}

TEST_CASE("more checkpointed layers never raise the predicted peak") {
  const ModelSpec m = load_model("qwen3-1.7b");
  const ClusterSpec c = cluster_from_gpus_flag("1xH100");
  uint64_t previous = UINT64_MAX;
  for (int64_t n = 0; n <= m.layers; n += 4) {
    CAPTURE(n);
    const Estimate e = estimate(m, c, training(8192, Profile::hf, Framework::plain), strategy(0, n, Precision::amp_bf16));
    CHECK(e.memory.peak_allocated_bytes <= previous);
    previous = e.memory.peak_allocated_bytes;
  }
}

TEST_CASE("a higher ZeRO stage never raises model-state bytes") {
  const ModelSpec m = load_model("llama-3.1-8b");
  const ClusterSpec c = cluster_from_gpus_flag("8xH100");
  uint64_t previous = UINT64_MAX;
  for (int stage = 0; stage <= 3; ++stage) {
    const Estimate e = estimate(m, c, training(2048), strategy(stage, m.layers));
    const uint64_t states = model_state_bytes_per_rank(e.parameters, e.strategy, 8);
    CHECK(states <= previous);
    CHECK(e.memory.peak_allocated_bytes >= states);  // the peak holds at least the states
    previous = states;
  }
}

TEST_CASE("Ulysses divides per-rank activations by the SP degree") {
  const ModelSpec m = load_model("qwen3-8b");  // 32 query heads, 8 KV heads
  TrainingSpec t = training(16384);
  for (int sp : {2, 4, 8}) {
    CAPTURE(sp);
    const ExecContext c1 = make_exec_context(t, strategy(3, 0, Precision::bf16, 1), 8);
    const ExecContext cs = make_exec_context(t, strategy(3, 0, Precision::bf16, sp), 8);
    const double one = static_cast<double>(sum_bytes(block_activations(m, 0, c1).saved, c1.tokens_per_rank(), 1));
    const double split = static_cast<double>(sum_bytes(block_activations(m, 0, cs).saved, cs.tokens_per_rank(), 1));
    // The all-to-all output buffer (one [t, NH*HD] tensor) is the only addition.
    const double a2a = 2.0 * static_cast<double>(m.q_dim()) * static_cast<double>(cs.tokens_per_rank());
    CHECK(split == doctest::Approx(one / sp + a2a).epsilon(1e-9));
  }
}

TEST_CASE("with fewer KV heads than the SP degree, KV heads are replicated") {
  ModelSpec m = load_model("qwen3-8b");
  m.kv_heads = 2;
  TrainingSpec t = training(8192);
  const ExecContext c = make_exec_context(t, strategy(3, 0, Precision::bf16, 8), 8);
  double kv = 0;
  for (const TensorRow& r : block_activations(m, 0, c).saved)
    if (r.name == "attn.k") kv = static_cast<double>(r.bytes(c.tokens_per_rank(), 1));
  // Each of the 8 ranks holds 1 (replicated) KV head over the whole 8192-token sequence.
  CHECK(kv == doctest::Approx(2.0 * 8192 * m.head_dim));
}

TEST_CASE("strategy validation rejects impossible layouts with the numbers in the message") {
  const ModelSpec m = load_model("qwen3-8b");
  const ClusterSpec c = cluster_from_gpus_flag("8xH100");
  TrainingSpec t = training(10004);
  CHECK_THROWS_WITH_AS(validate_strategy(strategy(3, 0, Precision::bf16, 8), m, c, t),
                       doctest::Contains("10004 is not divisible by degree 8"), InputError);
  t.seq_len = 8192;
  CHECK_THROWS_WITH_AS(validate_strategy(strategy(3, 0, Precision::bf16, 3), m, c, t),
                       doctest::Contains("does not divide the 8 GPUs"), InputError);
  ModelSpec odd = m;
  odd.heads = 28;
  CHECK_THROWS_WITH_AS(validate_strategy(strategy(3, 0, Precision::bf16, 8), odd, c, t),
                       doctest::Contains("28 attention heads"), InputError);
  CHECK_THROWS_WITH_AS(validate_strategy(strategy(0, 0, Precision::bf16, 1, 0), m, c, t),
                       doctest::Contains("--micro-batch"), InputError);
  CHECK_THROWS_WITH_AS(validate_strategy(strategy(0, 99), m, c, t), doctest::Contains("0..36"), InputError);
  const ClusterSpec v100 = cluster_from_gpus_flag("4xV100");
  CHECK_THROWS_WITH_AS(validate_strategy(strategy(2), m, v100, t), doctest::Contains("no bf16"), InputError);
  Strategy offload = strategy(2);
  offload.offload_params = true;
  CHECK_THROWS_WITH_AS(validate_strategy(offload, m, c, t), doctest::Contains("needs ZeRO stage 3"), InputError);
}

TEST_CASE("the caching allocator replay reuses freed blocks and carves small requests from 20 MiB segments") {
  Timeline t;
  const int a = t.alloc(Category::working, "a", "", 3u << 20);   // 3 MiB -> one 20 MiB segment
  const int b = t.alloc(Category::working, "b", "", 3u << 20);   // same segment
  t.free(a);
  t.free(b);
  t.alloc(Category::working, "c", "", 5u << 20);                  // reuses the cached segment
  t.alloc(Category::working, "d", "", 100u << 20);                // a segment of its own
  const AllocatorResult r = replay_caching_allocator(t, {});
  CHECK(r.peak_reserved_bytes == (20u << 20) + (100u << 20));
  CHECK(r.peak_allocated_bytes == (100u << 20) + (5u << 20));
}

TEST_CASE("a full device makes the allocator release cached segments before reporting OOM") {
  Timeline t;
  const int a = t.alloc(Category::working, "a", "", 600u << 20);
  t.free(a);
  t.alloc(Category::working, "b", "", 700u << 20);  // does not fit in the cached 600 MiB block
  AllocatorOptions o;
  o.device_limit_bytes = 1000u << 20;
  const AllocatorResult r = replay_caching_allocator(t, o);
  CHECK(r.alloc_retries == 1);
  CHECK_FALSE(r.out_of_memory);
  CHECK(r.peak_reserved_bytes == 700u << 20);  // the cached 600 MiB went back before the 700 came
  o.device_limit_bytes = 650u << 20;
  CHECK(replay_caching_allocator(t, o).out_of_memory);
}
