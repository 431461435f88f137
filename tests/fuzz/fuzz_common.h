// Shared by the libFuzzer targets (one per parser, tools/fuzz.sh runs them): bad input must end in
// an InputError (the CLI's exit 2), never in a crash, a sanitizer report, a hang or another exception.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "planner/input_error.h"

namespace zplan_fuzz {

inline std::string text(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }

// For readers that take a path: the input written to a file of this process, in the temporary
// directory ($TMPDIR, else /tmp), which tools/fuzz.sh cleans afterwards.
inline std::string as_file(const std::string& content, const char* suffix) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("zplan_fuzz_" + std::to_string(getpid()) + suffix)).string();
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// Runs `f`; an InputError is the expected answer to bad input, anything else escapes and the fuzzer
// reports it.
template <class F>
void expect_input_errors_only(F&& f) {
  try {
    f();
  } catch (const zplan::InputError&) {
  }
}

}  // namespace zplan_fuzz
