// libFuzzer target: a user's DeepSpeed JSON -> apply_deepspeed_config on an 8-GPU scenario.
#include "fuzz_common.h"
#include "planner/io/deepspeed_config.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/model_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const zplan::ModelSpec model = zplan::load_model("qwen3-8b");
  static const zplan::ClusterSpec cluster = zplan::cluster_from_gpus_flag("8xH100");
  zplan::Scenario s;
  s.model = model;
  s.cluster = cluster;
  s.training.seq_len = 4096;
  const std::string path = zplan_fuzz::as_file(zplan_fuzz::text(data, size), "_ds.json");
  zplan_fuzz::expect_input_errors_only([&] { zplan::apply_deepspeed_config(path, s); });
  return 0;
}
