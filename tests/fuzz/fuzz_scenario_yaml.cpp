// libFuzzer target: a scenario file (configs/*.yaml) -> load_scenario, then --print-config's writer.
#include "fuzz_common.h"
#include "planner/io/scenario_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = zplan_fuzz::as_file(zplan_fuzz::text(data, size), "_scenario.yaml");
  zplan_fuzz::expect_input_errors_only([&] { (void)zplan::scenario_to_yaml(zplan::load_scenario(path)); });
  return 0;
}
