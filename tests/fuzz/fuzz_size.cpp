// libFuzzer target: size strings (--host-ram, host_ram, memory_bytes) -> parse_bytes, parse_size_with_unit.
#include "fuzz_common.h"
#include "planner/io/hardware_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string t = zplan_fuzz::text(data, size);
  zplan_fuzz::expect_input_errors_only([&] { (void)zplan::parse_bytes(t, "--host-ram"); });
  zplan_fuzz::expect_input_errors_only([&] { (void)zplan::parse_size_with_unit(t, "--host-ram"); });
  return 0;
}
