// libFuzzer target: the first bytes of a .safetensors file -> parse_safetensors_header (length
// prefix, JSON header, offsets against the file size). Only InputError may come out.
#include "fuzz_common.h"
#include "planner/io/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zplan_fuzz::expect_input_errors_only([&] { (void)zplan::parse_safetensors_header(data, size, "fuzz.safetensors"); });
  return 0;
}
