// safetensors header parsing and writing (see safetensors_header.h).
#include "planner/io/safetensors_header.h"

#include <nlohmann/json.hpp>

#include "planner/input_error.h"

namespace zplan {

namespace {
// The reference implementation refuses headers above 100 MB; a larger value is a corrupt file.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
}  // namespace

int safetensors_dtype_bytes(const std::string& d) {
  if (d == "F64" || d == "I64") return 8;
  if (d == "F32" || d == "I32") return 4;
  if (d == "BF16" || d == "F16" || d == "I16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL") return 1;
  return 0;
}

SafetensorsHeader parse_safetensors_header(const unsigned char* bytes, uint64_t file_bytes,
                                           const std::string& path) {
  if (file_bytes < 8)
    throw InputError(path, "", "truncated safetensors file: " + std::to_string(file_bytes) + " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];  // little-endian
  if (n > kMaxHeaderBytes || n > file_bytes - 8)
    throw InputError(path, "", "truncated or not a safetensors file: header length " + std::to_string(n) +
                                   " bytes but the file has " + std::to_string(file_bytes) + " bytes");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(bytes + 8, bytes + 8 + n);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, "", std::string("safetensors header is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw InputError(path, "", "safetensors header is not a JSON object");
  SafetensorsHeader h;
  h.data_start = 8 + n;
  const uint64_t data_bytes = file_bytes - h.data_start;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const nlohmann::json& t = it.value();
    const std::string& name = it.key();
    auto bad = [&](const std::string& what) { return InputError(path, name, what); };
    if (!t.is_object() || !t.contains("dtype") || !t["dtype"].is_string() || !t.contains("shape") ||
        !t["shape"].is_array() || !t.contains("data_offsets") || !t["data_offsets"].is_array() ||
        t["data_offsets"].size() != 2)
      throw bad("expected {\"dtype\", \"shape\", \"data_offsets\": [begin, end]}");
    SafetensorsEntry e;
    e.name = name;
    e.dtype = t["dtype"].get<std::string>();
    uint64_t elements = 1;
    for (const nlohmann::json& d : t["shape"]) {
      if (!d.is_number_unsigned()) throw bad("shape must hold non-negative integers, got " + t["shape"].dump());
      const uint64_t v = d.get<uint64_t>();
      if (v > (1ull << 40) || (v > 0 && elements > (1ull << 50) / v)) throw bad("shape " + t["shape"].dump() + " is too large");
      e.shape.push_back(static_cast<int64_t>(v));
      elements *= v;
    }
    for (const nlohmann::json& o : t["data_offsets"])
      if (!o.is_number_unsigned()) throw bad("data_offsets must be non-negative integers");
    e.begin = t["data_offsets"][0].get<uint64_t>();
    e.end = t["data_offsets"][1].get<uint64_t>();
    if (e.begin > e.end) throw bad("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] run backwards");
    if (e.end > data_bytes)
      throw bad("truncated file: data_offsets end at byte " + std::to_string(e.end) + " of the data section, which has " +
                std::to_string(data_bytes) + " bytes");
    const int width = safetensors_dtype_bytes(e.dtype);
    if (width > 0 && e.end - e.begin != elements * static_cast<uint64_t>(width))
      throw bad("holds " + std::to_string(e.end - e.begin) + " bytes, but " + e.dtype + " " + t["shape"].dump() +
                " needs " + std::to_string(elements * static_cast<uint64_t>(width)));
    h.tensors.push_back(std::move(e));
  }
  return h;
}

std::string safetensors_header_bytes(std::vector<SafetensorsEntry>& tensors) {
  // nlohmann::json sorts object keys; the file format does not care about their order.
  nlohmann::json j = nlohmann::json::object();
  j["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (SafetensorsEntry& e : tensors) {
    uint64_t elements = 1;
    for (int64_t d : e.shape) elements *= static_cast<uint64_t>(d);
    e.begin = offset;
    e.end = offset + elements * static_cast<uint64_t>(safetensors_dtype_bytes(e.dtype));
    offset = e.end;
    j[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {e.begin, e.end}}};
  }
  std::string header = j.dump();
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header;
}

}  // namespace zplan
