// libFuzzer target: a Hugging Face config.json -> load_hf_config_file (JSON parsing included).
#include "fuzz_common.h"
#include "planner/io/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = zplan_fuzz::as_file(zplan_fuzz::text(data, size), "_config.json");
  zplan_fuzz::expect_input_errors_only([&] { (void)zplan::load_hf_config_file(path); });
  return 0;
}
