// DeepSpeed interop: the configs users wrote for their jobs (tests/data/deepspeed/) parse to
// the pins they state, "auto" values resolve as the Hugging Face integration resolves them, a
// config written for a searched plan reads back to the same Strategy and the same estimate, and
// every malformed config is rejected naming the file and the field.
#include <doctest/doctest.h>

#include <filesystem>
#include <filesystem>
#include <fstream>

#include "planner/estimate.h"
#include "planner/input_error.h"
#include "planner/io/deepspeed_config.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/model_loader.h"
#include "planner/search/search.h"

using namespace zplan;

namespace {

const std::string kDir = std::string(ZPLAN_SOURCE_DIR) + "/tests/data/deepspeed/";

Scenario scenario(const std::string& model, const std::string& gpus, int64_t seq) {
  Scenario s;
  s.model = load_model(model);
  s.cluster = cluster_from_gpus_flag(gpus);
  s.training.seq_len = seq;
  s.training.framework = s.cluster.world_size() > 1 ? Framework::deepspeed : Framework::plain;
  return s;
}

Scenario applied(const std::string& file, const std::string& model, const std::string& gpus, int64_t seq) {
  Scenario s = scenario(model, gpus, seq);
  apply_deepspeed_config(kDir + file, s);
  return s;
}

// Writes `text` to a fresh file under the temp directory and returns its path.
std::string temp_config(const std::string& name, const std::string& text) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "zplan_deepspeed_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

// The Strategy a fully pinned scenario runs (unpinned dimensions as `zplan check` defaults them).
Strategy pinned_strategy(const Scenario& s) { return strategy_with_defaults(s); }

void check_same(const Strategy& a, const Strategy& b) {
  CHECK(a.zero_stage == b.zero_stage);
  CHECK(a.offload_optimizer == b.offload_optimizer);
  CHECK(a.offload_params == b.offload_params);
  CHECK(a.checkpointed_layers == b.checkpointed_layers);
  CHECK(a.cpu_checkpointing == b.cpu_checkpointing);
  CHECK(a.sp_degree == b.sp_degree);
  CHECK(a.micro_batch == b.micro_batch);
  CHECK(a.grad_accumulation == b.grad_accumulation);
  CHECK(a.precision == b.precision);
}

// Search a plan, write its DeepSpeed config, read it into a fresh scenario, predict again.
void check_round_trip(Scenario s, const std::string& name) {
  s.pins.loss_chunks = 0;  // as zplan --emit-deepspeed: Hugging Face's Trainer has no chunked loss
  SearchOptions o;
  o.estimate.margin = 0.05;
  const Plan plan = search_plan(s, o);
  const Strategy& chosen = plan.chosen.strategy;
  const std::string path = temp_config(name, "");
  write_deepspeed_config(s, chosen, path, {plan.feasible, plan.chosen.verdict});
  Scenario back;  // what a user has: the model, the machine, the sequence length and the file
  back.model = s.model;
  back.cluster = s.cluster;
  back.training.seq_len = s.training.seq_len;
  back.training.profile = s.training.profile;
  back.training.attention = s.training.attention;
  apply_deepspeed_config(path, back);
  // Every dimension the plan decides is stated in the file, except recompute, which the launch
  // command's --gradient_checkpointing states (the model code decides it, not DeepSpeed).
  CHECK(back.pins.zero_stage);
  CHECK(back.pins.offload_optimizer);
  CHECK_FALSE(back.pins.checkpointed_layers);
  CHECK(back.pins.micro_batch);
  CHECK(back.pins.grad_accumulation);
  CHECK(back.pins.precision);
  back.pins.checkpointed_layers = chosen.checkpointed_layers;
  if (!back.pins.cpu_checkpointing) back.pins.cpu_checkpointing = false;
  const Strategy read = pinned_strategy(back);
  check_same(read, chosen);
  if (chosen.sp_degree == 1)
    CHECK(back.training.global_batch == chosen.micro_batch * chosen.grad_accumulation *
                                          (s.cluster.world_size() / chosen.sp_degree));
  const Estimate a = estimate(s.model, s.cluster, s.training, chosen, o.estimate);
  const Estimate b = estimate(back.model, back.cluster, back.training, read, o.estimate);
  CHECK(a.memory.peak_allocated_bytes == b.memory.peak_allocated_bytes);
  CHECK(a.memory.reserved_bytes == b.memory.reserved_bytes);
  CHECK(a.memory.device_total_bytes() == b.memory.device_total_bytes());
  CHECK(a.memory.host.peak_bytes == b.memory.host.peak_bytes);
  CHECK(a.time.step_seconds == doctest::Approx(b.time.step_seconds));
  CHECK(a.feasible == b.feasible);
  CHECK(a.verdict == b.verdict);
}

}  // namespace

TEST_CASE("Qwen3-30B-A3B user, plan 1, ds_config_zero3_optimized.json: CPU checkpointing; number_checkpoints is a buffer count, not layers") {
  const Scenario s = applied("ds_config_zero3_optimized.json", "qwen3-30b", "8xH100", 16384);
  CHECK(s.pins.cpu_checkpointing == true);
  CHECK_FALSE(s.pins.checkpointed_layers);
  CHECK(s.pins.precision == Precision::fp32);  // no bf16/fp16 block: DeepSpeed trains in fp32
  CHECK_FALSE(s.pins.zero_stage);              // the snippet states no zero_optimization block
  CHECK_FALSE(s.pins.sp_degree);
  CHECK_FALSE(s.pins.micro_batch);
  CHECK(s.training.framework == Framework::deepspeed);
}

TEST_CASE("Qwen3-30B-A3B user, plan 2, ds_config_zero3_ulysses.json: ZeRO-3, Ulysses 8, bf16, explicit buckets, auto batch") {
  const Scenario s = applied("ds_config_zero3_ulysses.json", "qwen3-30b", "8xH100", 16384);
  CHECK(s.pins.zero_stage == 3);
  CHECK(s.pins.offload_optimizer == false);
  CHECK(s.pins.offload_params == false);
  CHECK(s.pins.precision == Precision::bf16);
  CHECK(s.pins.sp_degree == 8);
  CHECK(s.pins.cpu_checkpointing == false);
  CHECK_FALSE(s.pins.checkpointed_layers);
  // "auto" batch sizes stay unpinned: the search (or the HF Trainer) decides them.
  CHECK_FALSE(s.pins.micro_batch);
  CHECK_FALSE(s.pins.grad_accumulation);
  CHECK(s.training.global_batch == 0);
  // 1e8 / 1e9 written as JSON floats.
  CHECK(s.training.reduce_bucket_elems == 100'000'000);
  CHECK(s.training.prefetch_bucket_elems == 100'000'000);
  CHECK(s.training.param_persistence_threshold == 1'000'000);
  CHECK(s.training.max_live_parameters == 1'000'000'000);
  CHECK(s.training.sub_group_size == 1'000'000'000);
  CHECK(s.training.overlap_comm == 1);
  CHECK(s.training.contiguous_gradients);
}

TEST_CASE("the other Qwen3-30B-A3B user's Ulysses snippet: sequence_parallel.size 8 pins SP, nothing else about ZeRO") {
  const Scenario s = applied("ds_config_zero3_ulysses_dmsc.json", "qwen3-30b", "8xH100", 16384);
  CHECK(s.pins.sp_degree == 8);
  CHECK(s.pins.cpu_checkpointing == false);
  CHECK_FALSE(s.pins.checkpointed_layers);
  CHECK_FALSE(s.pins.zero_stage);
}

TEST_CASE("zero where a positive integer is expected is refused, not divided by (fuzz_parsers found SP size 0)") {
  for (const char* text : {R"({"sequence_parallel": {"enabled": true, "size": 0}})", R"({"sequence_parallel_size": 0})",
                           R"({"train_micro_batch_size_per_gpu": 0})", R"({"gradient_accumulation_steps": 0})"}) {
    CAPTURE(text);
    const std::string path = (std::filesystem::temp_directory_path() / "zplan_ds_zero_test.json").string();
    std::ofstream(path) << text;
    Scenario s = scenario("qwen3-0.6b", "8xH100", 4096);
    CHECK_THROWS_WITH_AS(apply_deepspeed_config(path, s), doctest::Contains("a positive integer"), InputError);
  }
}

TEST_CASE("GPT-2 XL user's ds_config_zero2.json: GPT-2 XL, ZeRO-2, fp16, micro-batch 1 x 32") {
  const Scenario s = applied("ds_config_zero2.json", "gpt2-xl", "4xV100", 1024);
  CHECK(s.pins.zero_stage == 2);
  CHECK(s.pins.offload_optimizer == false);
  CHECK(s.pins.offload_params == false);
  CHECK(s.pins.precision == Precision::fp16);
  CHECK(s.pins.micro_batch == 1);
  CHECK(s.pins.grad_accumulation == 32);
  CHECK(s.training.global_batch == 0);  // not stated; DeepSpeed derives 1 x 32 x 4 itself
  CHECK(s.training.overlap_comm == 1);
  CHECK(s.training.reduce_bucket_elems == 500'000'000);  // DeepSpeed's default kept
  CHECK_FALSE(s.pins.checkpointed_layers);
}

TEST_CASE("GPT-2 XL user's ZeRO-3 offload snippet: both offloads on") {
  const Scenario s = applied("ds_config_zero3_offload.json", "gpt2-xl", "4xV100", 1024);
  CHECK(s.pins.zero_stage == 3);
  CHECK(s.pins.offload_optimizer == true);
  CHECK(s.pins.offload_params == true);
}

TEST_CASE("Hugging Face auto values: buckets from the hidden size, precision and batch unpinned") {
  const Scenario s = applied("ds_config_zero3_hf_auto.json", "gemma-3-27b", "4xH100", 2048);
  const int64_t h = s.model.hidden;
  REQUIRE(h == 5376);
  CHECK(s.training.reduce_bucket_elems == h * h);
  CHECK(s.training.prefetch_bucket_elems == static_cast<int64_t>(0.9 * h * h));
  CHECK(s.training.param_persistence_threshold == 10 * h);
  CHECK(s.training.max_live_parameters == 1'000'000'000);
  CHECK(s.pins.zero_stage == 3);
  CHECK(s.pins.offload_optimizer == true);
  CHECK(s.pins.offload_params == true);
  CHECK_FALSE(s.pins.precision);  // bf16/fp16 "auto": the Trainer's --bf16 decides
  CHECK_FALSE(s.pins.micro_batch);
  CHECK_FALSE(s.pins.grad_accumulation);
}

TEST_CASE("train_batch_size derives the missing batch dimension over the data-parallel ranks") {
  Scenario s = scenario("qwen3-8b", "8xH100", 4096);
  apply_deepspeed_config(temp_config("derive_ga.json", R"({"train_batch_size": 64, "train_micro_batch_size_per_gpu": 2,
                                                            "sequence_parallel_size": 2, "bf16": {"enabled": true}})"),
                         s);
  CHECK(s.pins.grad_accumulation == 8);  // 64 / (2 x 8/2)
  CHECK(s.training.global_batch == 64);
  Scenario t = scenario("qwen3-8b", "8xH100", 4096);
  apply_deepspeed_config(temp_config("derive_mb.json", R"({"train_batch_size": 32, "gradient_accumulation_steps": 2})"), t);
  CHECK(t.pins.micro_batch == 2);
  CHECK(t.pins.precision == Precision::fp32);
  Scenario u = scenario("qwen3-8b", "8xH100", 4096);
  apply_deepspeed_config(temp_config("auto_dtype.json", R"({"torch_autocast": {"enabled": true, "dtype": "bfloat16"},
                                                             "zero_optimization": {"stage": 1, "cpu_offload": true}})"),
                         u);
  CHECK(u.pins.precision == Precision::amp_bf16);
  CHECK(u.pins.offload_optimizer == true);
}

TEST_CASE("round trip: searched plan -> DeepSpeed config -> same Strategy and estimate (Qwen3-30B-A3B, 16K, 8xH100)") {
  Scenario s = scenario("qwen3-30b", "8xH100", 16384);
  check_round_trip(s, "roundtrip_qwen3_30b.json");
}

TEST_CASE("round trip: GPT-2 XL on 4xV100 (fp16, global batch 128)") {
  Scenario s = scenario("gpt2-xl", "4xV100", 1024);
  s.training.global_batch = 128;
  check_round_trip(s, "roundtrip_gpt2_xl.json");
}

TEST_CASE("round trip: pinned offload and CPU checkpointing of some layers (Llama-3.1-8B on 2xH100)") {
  Scenario s = scenario("llama3-8b", "2xH100", 8192);
  s.pins.zero_stage = 3;
  s.pins.offload_optimizer = true;
  s.pins.offload_params = true;
  s.pins.cpu_checkpointing = true;
  s.pins.checkpointed_layers = 16;
  check_round_trip(s, "roundtrip_llama_offload.json");
}

TEST_CASE("the written config is DeepSpeed's shape") {
  Scenario s = scenario("qwen3-30b", "8xH100", 16384);
  Strategy st;
  st.zero_stage = 3;
  st.offload_optimizer = true;
  st.checkpointed_layers = 48;
  st.sp_degree = 8;
  st.precision = Precision::fp16;
  const nlohmann::json j = deepspeed_config_for(s, st);
  CHECK(j.at("train_batch_size") == "auto");  // with SP the Trainer fills it from its own world size
  CHECK(j.at("sequence_parallel_size") == 8);
  CHECK(j.at("zero_optimization").at("offload_optimizer").at("device") == "cpu");
  CHECK(j.at("zero_optimization").at("offload_optimizer").at("pin_memory") == true);
  CHECK(j.at("zero_optimization").at("offload_param").at("device") == "none");
  CHECK(j.at("fp16").at("loss_scale") == 0);
  CHECK(j.at("bf16").at("enabled") == false);
  CHECK_FALSE(j.contains("activation_checkpointing"));  // recompute is the Trainer's --gradient_checkpointing
  // ZeRO-Offload refuses the Trainer's torch optimizer: the file names DeepSpeed's AdamW, and only then.
  CHECK(j.at("optimizer").at("type") == "AdamW");
  CHECK(j.at("optimizer").at("params").at("lr") == "auto");
  st.offload_optimizer = false;
  CHECK_FALSE(deepspeed_config_for(s, st).contains("optimizer"));
  st.offload_optimizer = true;
  st.precision = Precision::bf16_pure;
  CHECK_THROWS_WITH_AS(deepspeed_config_for(s, st), doctest::Contains("--emit-deepspeed"), InputError);
  CHECK_THROWS_WITH_AS(write_deepspeed_config(s, Strategy{}, "/nonexistent-dir/ds.json"),
                       doctest::Contains("--emit-deepspeed: cannot write /nonexistent-dir/ds.json"), InputError);
}

TEST_CASE("malformed configs are rejected naming the file and the field") {
  struct Bad {
    const char* file;
    const char* message;  // after "<path>: "
  };
  const Bad cases[] = {
      {"ds_config_zero2_with_comments.json", "expected valid JSON (comments are not JSON"},
      {"trailing_comma.json", "expected valid JSON"},
      {"not_an_object.json", "expected one JSON object"},
      {"stage4.json", "field 'zero_optimization.stage': expected a ZeRO stage 0, 1, 2 or 3, got 4"},
      {"negative_bucket.json", "field 'zero_optimization.reduce_bucket_size': expected a non-negative number"},
      {"bucket_as_string.json", "field 'zero_optimization.stage3_prefetch_bucket_size': expected a non-negative"},
      {"micro_batch_fraction.json", "field 'train_micro_batch_size_per_gpu': expected a positive integer, got 1.5"},
      {"offload_gpu.json", "field 'zero_optimization.offload_optimizer.device': expected \"cpu\" or \"none\""},
      {"offload_param_stage2.json", "field 'zero_optimization.offload_param.device': expected \"none\": parameter offload needs stage 3"},
      {"batch_mismatch.json", "field 'train_batch_size': expected train_micro_batch_size_per_gpu x gradient_accumulation_steps"},
      {"bf16_and_fp16.json", "field 'fp16.enabled': expected false"},
      {"enabled_as_string.json", "field 'bf16.enabled': expected true or false, got \"true\""},
      {"sp_not_dividing.json", "field 'sequence_parallel_size': expected a divisor of the 8 GPUs, got 3"},
  };
  for (const Bad& b : cases) {
    CAPTURE(b.file);
    Scenario s = scenario("qwen3-8b", "8xH100", 4096);
    const std::string path = kDir + "bad/" + b.file;
    CHECK_THROWS_WITH_AS(apply_deepspeed_config(path, s), doctest::Contains((path + ": " + b.message).c_str()), InputError);
  }
  Scenario s = scenario("qwen3-8b", "8xH100", 4096);
  CHECK_THROWS_WITH_AS(apply_deepspeed_config(kDir + "bad/missing.json", s), doctest::Contains("missing.json"), InputError);
}
