// checkpoint.cpp: write-to-temp-and-rename checkpoints (format in checkpoint.h).
#include "runtime/train/checkpoint.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "planner/input_error.h"

namespace zplan::rt {
namespace {

const char kMagic[] = "ZPLAN-CHECKPOINT 1";

struct FileCloser {
  void operator()(std::FILE* f) const { if (f) std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

std::vector<int64_t> shape_of(const at::Tensor& t) { return t.sizes().vec(); }

struct Parsed {
  CheckpointState state;
  nlohmann::json tensors;
  uint64_t data_start = 0;
};

Parsed parse(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw InputError(path, "", "cannot open the checkpoint");
  const auto file_bytes = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  std::string magic, length_line;
  std::getline(in, magic);
  if (magic != kMagic) throw InputError(path, "", "is not a zplan checkpoint (first line is not '" + std::string(kMagic) + "')");
  std::getline(in, length_line);
  uint64_t header_bytes = 0;
  try {
    header_bytes = std::stoull(length_line);
  } catch (const std::exception&) {
    throw InputError(path, "", "truncated or damaged: no header length on line 2");
  }
  const auto header_start = static_cast<uint64_t>(in.tellg());
  if (!in || header_start + header_bytes > file_bytes)
    throw InputError(path, "", "truncated: the header ends past the end of the file");
  std::string header(header_bytes, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_bytes));
  Parsed p;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
    p.state.step = j.at("step").get<int>();
    p.state.model = j.at("model").get<std::string>();
    p.state.seed = j.at("seed").get<uint64_t>();
    if (!j.at("data").is_null()) {
      p.state.has_data_position = true;
      p.state.data.epoch = j["data"].at("epoch").get<int64_t>();
      p.state.data.index = j["data"].at("index").get<int64_t>();
    }
    const auto& o = j.at("optimizer");
    p.state.optimizer_steps = o.at("steps_taken").get<int64_t>();
    p.state.loss_scale = o.at("loss_scale").get<double>();
    p.state.good_steps = o.at("good_steps").get<int>();
    p.tensors = j.at("tensors");
    const auto data_bytes = j.at("data_bytes").get<uint64_t>();
    p.data_start = header_start + header_bytes;
    if (p.data_start + data_bytes != file_bytes)
      throw InputError(path, "", "truncated or damaged: " + std::to_string(file_bytes) + " bytes, the header describes " +
                                     std::to_string(p.data_start + data_bytes));
    for (const auto& t : p.tensors)
      if (t.at("offset").get<uint64_t>() + t.at("bytes").get<uint64_t>() > data_bytes)
        throw InputError(path, t.at("name").get<std::string>(), "lies outside the checkpoint's data");
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, "", std::string("damaged header: ") + e.what());
  }
  return p;
}

}  // namespace

void save_checkpoint(const std::string& path, const CheckpointState& s, const NamedTensors& tensors) {
  nlohmann::json list = nlohmann::json::array();
  std::vector<at::Tensor> host;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    host.push_back(tensor.detach().to(at::kCPU).contiguous());
    const auto bytes = static_cast<uint64_t>(host.back().nbytes());
    list.push_back({{"name", name}, {"dtype", std::string(c10::toString(tensor.scalar_type()))},
                    {"shape", shape_of(tensor)}, {"offset", offset}, {"bytes", bytes}});
    offset += bytes;
  }
  nlohmann::json data = nullptr;
  if (s.has_data_position) data = {{"epoch", s.data.epoch}, {"index", s.data.index}};
  const nlohmann::json header = {
      {"step", s.step}, {"model", s.model}, {"seed", s.seed}, {"data", data},
      {"optimizer", {{"steps_taken", s.optimizer_steps}, {"loss_scale", s.loss_scale}, {"good_steps", s.good_steps}}},
      {"tensors", list}, {"data_bytes", offset}};
  const std::string text = header.dump();
  const std::string tmp = path + ".tmp";
  {
    File f(std::fopen(tmp.c_str(), "wb"));
    if (!f) throw InputError(path, "", "cannot write the checkpoint (opening " + tmp + " failed)");
    const std::string prefix = std::string(kMagic) + "\n" + std::to_string(text.size()) + "\n";
    bool ok = std::fwrite(prefix.data(), 1, prefix.size(), f.get()) == prefix.size() &&
              std::fwrite(text.data(), 1, text.size(), f.get()) == text.size();
    for (const at::Tensor& t : host)
      ok = ok && std::fwrite(t.data_ptr(), 1, t.nbytes(), f.get()) == t.nbytes();
    ok = ok && std::fflush(f.get()) == 0 && ::fsync(fileno(f.get())) == 0;
    if (!ok) {
      f.reset();
      std::remove(tmp.c_str());
      throw InputError(path, "", "writing the checkpoint failed (disk full?); the previous one is kept");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw InputError(path, "", "cannot rename " + tmp + " to it");
}

CheckpointState read_checkpoint_header(const std::string& path) { return parse(path).state; }

CheckpointState load_checkpoint(const std::string& path, const NamedTensors& tensors) {
  const Parsed p = parse(path);
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& t : p.tensors) by_name[t.at("name").get<std::string>()] = t;
  if (by_name.size() != tensors.size())
    throw InputError(path, "tensors", "holds " + std::to_string(by_name.size()) + " tensors; this model and optimizer have " +
                                          std::to_string(tensors.size()) + " (another model or precision?)");
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) throw InputError(path, "", "cannot open the checkpoint");
  at::NoGradGuard no_grad;
  for (const auto& [name, target] : tensors) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) throw InputError(path, name, "missing from the checkpoint");
    const nlohmann::json& e = it->second;
    const std::string dtype = c10::toString(target.scalar_type());
    if (e.at("dtype").get<std::string>() != dtype)
      throw InputError(path, name, "dtype " + e["dtype"].get<std::string>() + ", expected " + dtype);
    if (e.at("shape").get<std::vector<int64_t>>() != shape_of(target))
      throw InputError(path, name, "shape " + e["shape"].dump() + ", expected " + nlohmann::json(shape_of(target)).dump());
    at::Tensor host = at::empty(target.sizes(), target.options().device(at::kCPU));
    if (e.at("bytes").get<uint64_t>() != static_cast<uint64_t>(host.nbytes()))
      throw InputError(path, name, "byte count does not match its shape and dtype");
    const auto at_byte = static_cast<long>(p.data_start + e.at("offset").get<uint64_t>());
    if (std::fseek(f.get(), at_byte, SEEK_SET) != 0 ||
        std::fread(host.data_ptr(), 1, host.nbytes(), f.get()) != host.nbytes())
      throw InputError(path, name, "could not be read");
    target.detach().copy_(host);
  }
  return p.state;
}

}  // namespace zplan::rt
