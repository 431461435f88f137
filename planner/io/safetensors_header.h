// safetensors_header.h: the safetensors file layout (https://github.com/huggingface/safetensors),
// parsed and written without torch so that the planner-side checks (and a fuzz target) can use it:
//   8 bytes    little-endian uint64 N, the header's length
//   N bytes    JSON {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, ...,
//              optionally "__metadata__": {string: string}}
//   the rest   raw tensor bytes; offsets are relative to the first byte after the header.
// Every check a reader needs before touching the bytes is done here: a header longer than the
// file, offsets beyond the file, or a byte count that disagrees with dtype x shape -> InputError
// naming the file (a truncated download is the common case).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace zplan {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;            // "BF16", "F16", "F32", ... as in the file
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets from the start of the data section
};

struct SafetensorsHeader {
  uint64_t data_start = 0;  // 8 + N: where offset 0 is in the file
  std::vector<SafetensorsEntry> tensors;  // in header order
};

// Bytes per element of a safetensors dtype name; 0 when the name is not a dtype zplan reads
// (BF16, F16, F32, F64, I64, I32, I16, I8, U8, BOOL are sized; others are rejected by the reader).
int safetensors_dtype_bytes(const std::string& dtype);

// `bytes` is the start of the file (at least min(file_bytes, 8 + N) bytes readable);
// `file_bytes` its full size. `path` names the file in errors.
SafetensorsHeader parse_safetensors_header(const unsigned char* bytes, uint64_t file_bytes,
                                           const std::string& path);

// The 8-byte length plus the JSON header for tensors laid out back to back in `tensors` order
// (their begin/end are filled in), padded with spaces to a multiple of 8 bytes as the reference
// writer does so the data stays aligned.
std::string safetensors_header_bytes(std::vector<SafetensorsEntry>& tensors);

}  // namespace zplan
