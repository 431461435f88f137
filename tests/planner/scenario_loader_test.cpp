// Scenario loading tests: every configs/*.yaml loads with the pins its user story implies, and bad
// scenarios are rejected with the file and the field in the message.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "planner/input_error.h"
#include "planner/io/scenario_loader.h"

using namespace zplan;

namespace {
const std::string kConfigs = std::string(ZPLAN_SOURCE_DIR) + "/configs/";
constexpr uint64_t GiB = uint64_t{1} << 30;

// Writes a scenario into a scratch directory and returns its path.
std::string write_scenario(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / "zplan_scenario_loader_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

const std::string kBase = "model: gpt2\ngpus: 4xV100\nseq: 1024\n";
}  // namespace

TEST_CASE("every configs/*.yaml loads") {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kConfigs)) {
    if (entry.path().extension() != ".yaml") continue;
    CAPTURE(entry.path().string());
    CHECK_NOTHROW(load_scenario(entry.path().string()));
    ++n;
  }
  CHECK(n >= 5);
}

TEST_CASE("Qwen3-30B-A3B fine-tune on 8 x H100 at 16K: the user's ZeRO-3 + CPU checkpointing pins, and the free variant pins nothing") {
  const Scenario s = load_scenario(kConfigs + "qwen3-30b-a3b_h100x8_16k_cpu-ckpt.yaml");
  CHECK(s.model.name == "qwen3-30b-a3b");
  CHECK(s.cluster.world_size() == 8);
  CHECK(s.cluster.gpu.name == "h100-80gb");
  CHECK(s.training.seq_len == 16384);
  CHECK(s.training.attention == Attention::flash);
  CHECK(s.training.profile == Profile::hf);
  CHECK(s.training.framework == Framework::deepspeed);
  CHECK(s.pins.zero_stage == 3);
  CHECK(s.pins.offload_optimizer == false);
  CHECK(s.pins.checkpoint_full == true);
  CHECK(s.pins.checkpointed_layers == 48);
  CHECK(s.pins.cpu_checkpointing == true);
  CHECK(s.pins.micro_batch == 1);
  CHECK(s.pins.grad_accumulation == 2);
  CHECK(s.pins.precision == Precision::bf16);

  const Scenario free = load_scenario(kConfigs + "qwen3-30b-a3b_h100x8_16k.yaml");
  CHECK_FALSE(free.pins.zero_stage.has_value());
  CHECK_FALSE(free.pins.checkpointed_layers.has_value());
  CHECK_FALSE(free.pins.precision.has_value());
  CHECK_FALSE(free.pins.sp_degree.has_value());
}

TEST_CASE("GPT-2 XL with ZeRO-2 fp16 on 4 x V100, DDP pretraining on 3 x RTX 3080 with 12 GB RAM, Gemma-3-27B with offload on 4 x H100: each user's pins") {
  const Scenario g = load_scenario(kConfigs + "gpt2-xl_v100x4_zero2.yaml");
  CHECK(g.model.name == "gpt2-xl");
  CHECK(g.cluster.gpu.name == "v100-32gb");
  CHECK(g.pins.precision == Precision::fp16);
  CHECK(g.pins.zero_stage == 2);
  CHECK(g.pins.grad_accumulation == 32);
  CHECK(g.pins.checkpointed_layers == 0);
  CHECK(g.training.global_batch == 128);

  const Scenario p = load_scenario(kConfigs + "pretrain-small_3080x3_12gb.yaml");
  CHECK(p.cluster.world_size() == 3);
  CHECK(p.cluster.host_ram_bytes == 12 * GiB);
  CHECK(p.training.seq_len == 192);
  CHECK(p.pins.micro_batch == 32);
  CHECK(p.training.framework == Framework::ddp);

  const Scenario gm = load_scenario(kConfigs + "gemma-3-27b_4gpu_zero3.yaml");
  CHECK(gm.model.name == "gemma-3-27b");
  CHECK(gm.cluster.world_size() == 4);
  CHECK(gm.pins.offload_optimizer == true);
  CHECK(gm.pins.offload_params == true);
  CHECK(gm.pins.checkpointed_layers == 62);
  CHECK(gm.training.seq_len == 2048);
}

TEST_CASE("scenario defaults, overrides and relative paths") {
  const Scenario s = load_scenario(write_scenario("min.yaml", kBase));
  CHECK(s.training.attention == Attention::sdpa);
  CHECK(s.training.profile == Profile::hf);  // a scenario is the user's stack: transformers unless it says otherwise
  CHECK(s.training.framework == Framework::deepspeed);
  CHECK(s.training.global_batch == 0);
  CHECK_FALSE(s.pins.micro_batch.has_value());

  const Scenario o = load_scenario(write_scenario("o.yaml", kBase + "host_ram: 96GiB\nnodes: 2\nstrategy:\n  ckpt: 5\n"));
  CHECK(o.cluster.host_ram_bytes == 96 * GiB);
  CHECK(o.cluster.nodes == 2);
  CHECK(o.cluster.world_size() == 8);
  CHECK(o.pins.checkpointed_layers == 5);
  CHECK(o.pins.checkpoint_full == false);

  // A model file next to the scenario is found relative to the scenario.
  const std::string hf = std::string(ZPLAN_SOURCE_DIR) + "/tests/data/hf/qwen3-8b.json";
  const auto dir = std::filesystem::path(write_scenario("rel.yaml", "")).parent_path();
  std::filesystem::copy_file(hf, dir / "qwen3-8b-config.json", std::filesystem::copy_options::overwrite_existing);
  const Scenario r = load_scenario(write_scenario("rel.yaml", "model: qwen3-8b-config.json\ncluster: 8xh100\nseq: 4096\n"));
  CHECK(r.model.layers == 36);
  CHECK(r.cluster.name == "8xh100");
}

TEST_CASE("bad scenarios name the file and the field") {
  struct Case {
    std::string text, expected;
  };
  const std::vector<Case> cases = {
      {"model: gpt2\ngpus: 4xV100\n", "field 'seq': missing"},
      {kBase + "sqe: 2\n", "field 'sqe': unknown key; did you mean seq"},
      {"model: gpt5\ngpus: 4xV100\nseq: 1024\n", "field 'model': unknown model \"gpt5\""},
      {"model: gpt2\ngpus: 4xV1OO\nseq: 1024\n", "field 'gpus': unknown GPU"},
      {"model: gpt2\nseq: 1024\n", "field 'gpus': missing"},
      {kBase + "cluster: 8xh100\n", "field 'gpus': give gpus or cluster, not both"},
      {"model: gpt2\ngpus: 4xV100\nseq: 0\n", "field 'seq': expected an integer in [1, "},
      {kBase + "attention: flash2\n", "field 'attention': expected one of sdpa|flash|eager"},
      {kBase + "host_ram: lots\n", "field 'host_ram': expected a positive size"},
      {kBase + "strategy:\n  zero: 4\n", "field 'strategy.zero': expected an integer in [0, 3]"},
      {kBase + "strategy:\n  zeros: 3\n", "field 'strategy.zeros': unknown key; did you mean zero"},
      {kBase + "strategy:\n  ckpt: 13\n", "field 'strategy.ckpt': expected an integer in [0, 12]"},
      {kBase + "strategy:\n  ckpt: half\n", "field 'strategy.ckpt': expected none, full or a number of checkpointed layers in [0, 12], got \"half\""},
      {kBase + "strategy:\n  ckpt: -1\n", "field 'strategy.ckpt': expected none, full or"},
      {kBase + "strategy:\n  offload_optimizer: gpu\n", "field 'strategy.offload_optimizer': expected one of cpu|none"},
      {kBase + "strategy:\n  zero: 2\n  offload_params: cpu\n", "field 'strategy.offload_params': cpu needs zero: 3"},
      {kBase + "strategy:\n  ckpt: none\n  cpu_ckpt: true\n", "field 'strategy.cpu_ckpt'"},
      {kBase + "strategy:\n  sp: 5\n", "field 'strategy.sp': expected a divisor of the model's 12"},
      {kBase + "strategy:\n  sp: 3\n", "field 'strategy.sp': expected a divisor of the 4 GPUs"},
      {kBase + "strategy:\n  precision: bf16\n", "field 'strategy.precision': bf16 is not supported by v100-32gb"},
      {kBase + "strategy:\n  precision: int8\n", "field 'strategy.precision': expected one of"},
      {kBase + "strategy:\n  micro_batch: 0\n", "field 'strategy.micro_batch'"},
      {kBase + "strategy: 3\n", "field 'strategy': expected a map"},
      {kBase + "global_batch: 100\nstrategy:\n  sp: 1\n  micro_batch: 1\n  grad_accum: 32\n",
       "field 'global_batch': expected micro_batch x grad_accum x data-parallel ranks = 1 x 32 x 4 = 128, got 100"},
      {"model: [gpt2\n", "invalid YAML"},
      {"- a\n- b\n", "expected a map"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(cases[i].text);
    const std::string path = write_scenario("bad" + std::to_string(i) + ".yaml", cases[i].text);
    CHECK_THROWS_WITH_AS(load_scenario(path), doctest::Contains((path + ": ").c_str()), InputError);
    CHECK_THROWS_WITH_AS(load_scenario(path), doctest::Contains(cases[i].expected.c_str()), InputError);
  }
  CHECK_THROWS_WITH_AS(load_scenario("/nonexistent/s.yaml"), doctest::Contains("/nonexistent/s.yaml: cannot read"),
                       InputError);
  // deepspeed: holds DeepSpeed's buffer sizes under their zero_optimization names; others are typos.
  CHECK(load_scenario(write_scenario("ds.yaml", kBase + "deepspeed:\n  reduce_bucket_size: 2e8\n")).training.reduce_bucket_elems ==
        200'000'000);
  // stage3_max_reuse_distance (which ZeRO-3 parameters stay gathered from forward to backward)
  // is read, and --print-config writes it back.
  const Scenario reuse = load_scenario(write_scenario("ds3.yaml", kBase + "deepspeed:\n  stage3_max_reuse_distance: 0\n"));
  CHECK(reuse.training.max_reuse_distance == 0);
  CHECK(TrainingSpec{}.max_reuse_distance != 0);
  CHECK(load_scenario(write_scenario("ds4.yaml", scenario_to_yaml(reuse))).training.max_reuse_distance == 0);
  CHECK_THROWS_WITH_AS(load_scenario(write_scenario("ds2.yaml", kBase + "deepspeed:\n  reduce_bucket_sise: 2e8\n")),
                       doctest::Contains("field 'deepspeed.reduce_bucket_sise': unknown key; did you mean reduce_bucket_size"),
                       InputError);
}
