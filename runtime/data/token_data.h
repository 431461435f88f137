// token_data.h: training data for the runtime without torch. A token file is a flat array of
// little-endian token ids, 2 bytes (uint16, nanoGPT's train.bin) or 4 bytes (uint32, for
// vocabularies above 65536) each. Documents are concatenated with an end-of-sequence id between
// them (GPT-2 style packing); the id is declared so that it can be checked and documents counted.
//
// Format description, first found wins for each field:
//   1. flags: --data-dtype uint16|uint32, --eos ID
//   2. a sidecar JSON beside the file, FILE.json (train.bin -> train.bin.json):
//        {"dtype": "uint32", "eos": 151643, "vocab": 151669}
//      dtype is required there; eos and vocab are optional; "tokenizer" and "documents" are
//      accepted as information (tools/tokenize_text.py writes them); any other key is refused.
//   3. defaults: uint16, no eos.
// A flag that disagrees with the sidecar is refused (exit 2): the file was written one way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zplan::rt {

struct TokenFormat {
  int bytes_per_token = 2;   // 2 (uint16) or 4 (uint32)
  int64_t eos_id = -1;       // -1: no document separator declared
  int64_t vocab = -1;        // -1: the sidecar does not say which tokenizer vocabulary it used
  // The sidecar's "documents" (information only, -1 when absent): without an eos id the file does
  // not mark where they end, so the runtime cannot count them itself and reports this number.
  int64_t declared_documents = -1;
};

// The format of `path`: its sidecar (if any) merged with the flags. dtype_flag is "" or
// "uint16"/"uint32"; eos_flag -1 when not given. Throws InputError on a malformed sidecar, an
// unknown dtype or a flag contradicting the sidecar.
TokenFormat resolve_token_format(const std::string& path, const std::string& dtype_flag,
                                 int64_t eos_flag);

class TokenFile {
 public:
  // Maps the whole file read-only; throws InputError (file, problem) when it is missing, empty,
  // or its size is not a multiple of the token width.
  explicit TokenFile(const std::string& path, TokenFormat format = {});
  ~TokenFile();
  TokenFile(const TokenFile&) = delete;
  TokenFile& operator=(const TokenFile&) = delete;

  int64_t size() const { return count_; }
  int64_t at(int64_t i) const;
  int64_t max_token() const { return max_token_; }
  int64_t documents() const { return documents_; }  // eos count + 1 (or 1 without an eos id)
  const TokenFormat& format() const { return format_; }
  const std::string& path() const { return path_; }
  // Throws InputError naming the file, the first position whose id is >= vocab and the id;
  // `what` names the vocabulary ("the model's vocab").
  void check_ids_below(int64_t vocab, const std::string& what) const;
  // Windows of T + 1 tokens starting at multiples of T: window w covers [w*T, w*T + T].
  // Throws InputError when the file holds fewer than T + 1 tokens.
  int64_t windows(int64_t tokens) const;
  // Appends window w's ids [w*T, w*T+T) and targets [w*T+1, w*T+T+1).
  void read_window(int64_t w, int64_t tokens, std::vector<int64_t>* ids,
                   std::vector<int64_t>* targets) const;

 private:
  std::string path_;
  TokenFormat format_;
  const unsigned char* bytes_ = nullptr;
  size_t mapped_bytes_ = 0;
  int64_t count_ = 0;
  int64_t max_token_ = 0;
  int64_t documents_ = 1;
};

// Byte-level tokenisation (token = byte value, vocab 256): enough to show that loss falls on real text.
std::vector<uint16_t> bytes_to_tokens(const std::string& text);
// Writes tokens as a flat little-endian file of bytes_per_token (2 or 4) each; throws InputError
// when the file cannot be written.
void write_token_file(const std::string& path, const std::vector<uint16_t>& tokens);
void write_token_file(const std::string& path, const std::vector<uint32_t>& tokens, int bytes_per_token);

}  // namespace zplan::rt
