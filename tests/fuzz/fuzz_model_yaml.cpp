// libFuzzer target: a model profile (models/*.yaml) -> parse_model_yaml.
#include "fuzz_common.h"
#include "planner/io/model_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zplan_fuzz::expect_input_errors_only([&] { (void)zplan::parse_model_yaml(zplan_fuzz::text(data, size), "fuzz.yaml"); });
  return 0;
}
