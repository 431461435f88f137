// test_corpus.h: real text for the runtime's loss-falls tests: this repository's docs/runtime.md,
// one token per byte (vocabulary 256), written as a token file.
#pragma once
#include <fstream>
#include <sstream>
#include <string>

#include "runtime/data/token_data.h"

namespace zplan::test {

// Writes the corpus to `path`; false when the source file cannot be read.
inline bool write_docs_corpus(const std::string& path) {
  std::ifstream in(std::string(ZPLAN_SOURCE_DIR) + "/docs/runtime.md");
  if (!in.good()) return false;
  std::stringstream text;
  text << in.rdbuf();
  rt::write_token_file(path, rt::bytes_to_tokens(text.str()));
  return true;
}

}  // namespace zplan::test
