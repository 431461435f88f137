// libFuzzer target: GPU and cluster profiles (hardware/*/*.yaml) -> parse_gpu_yaml, parse_cluster_yaml.
#include "fuzz_common.h"
#include "planner/io/hardware_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string t = zplan_fuzz::text(data, size);
  zplan_fuzz::expect_input_errors_only([&] { (void)zplan::parse_gpu_yaml(t, "gpu.yaml"); });
  zplan_fuzz::expect_input_errors_only([&] { (void)zplan::parse_cluster_yaml(t, "cluster.yaml"); });
  return 0;
}
