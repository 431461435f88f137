// token_data.h: training data for the runtime without torch. A token file is nanoGPT's train.bin:
// a flat array of little-endian uint16 token ids. Batches are windows of T+1 tokens at random
// offsets (nanoGPT get_batch): ids = window[0:T], targets = window[1:T+1].
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace zplan::rt {

class TokenFile {
 public:
  // Reads the whole file; throws InputError (file, problem) when it is missing, empty, has an odd
  // byte count, or holds fewer than 2 tokens.
  explicit TokenFile(const std::string& path);
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  uint16_t max_token() const { return max_token_; }
  const std::string& path() const { return path_; }
  // ids and targets get batch*tokens entries, row-major [B, T]. Throws InputError when the file
  // is shorter than tokens + 1.
  void sample(int64_t batch, int64_t tokens, std::mt19937_64& rng, std::vector<int64_t>* ids,
              std::vector<int64_t>* targets) const;

 private:
  std::string path_;
  std::vector<uint16_t> tokens_;
  uint16_t max_token_ = 0;
};

// Byte-level tokenisation (token = byte value, vocab 256): enough to show that loss falls on real text.
std::vector<uint16_t> bytes_to_tokens(const std::string& text);
// Writes tokens as a flat little-endian uint16 file; throws InputError when the file cannot be written.
void write_token_file(const std::string& path, const std::vector<uint16_t>& tokens);

}  // namespace zplan::rt
