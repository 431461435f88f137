// Built-in model and hardware profiles, embedded at build time (tools/embed_files.cmake).
#pragma once
#include <string>
#include <vector>

namespace zplan {

struct BuiltinFile {
  std::string path;     // relative to the source root, e.g. "models/qwen3-8b.yaml"
  std::string content;  // the YAML text
};

const std::vector<BuiltinFile>& builtin_files();

}  // namespace zplan
