// hf_checkpoint_reader.cpp: --init-from DIR (see hf_checkpoint_reader.h).
#include "runtime/io/hf_checkpoint_reader.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "planner/input_error.h"
#include "planner/io/hf_config.h"
#include "planner/io/hf_config_writer.h"
#include "planner/memory/params.h"
#include "runtime/io/hf_disk_names.h"

namespace zplan::rt {

struct HfCheckpointReader::Piece {
  const MappedSafetensors* file = nullptr;
  const SafetensorsEntry* entry = nullptr;
  int64_t expert = -1;    // -1: the whole parameter; else its row `expert` along dim 0
  int64_t row_begin = 0;  // inside that expert: rows [row_begin, row_begin + entry rows)
};

namespace {

namespace fs = std::filesystem;

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Buffers and duplicates transformers may leave in a checkpoint that are not parameters.
bool ignorable(const std::string& name, const ModelSpec& spec) {
  if (spec.tied_embeddings && name == "lm_head.weight") return true;
  return spec.qkv_projection == QkvProjection::c_attn && (ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias"));
}

// The table's name, then the same name as a base model (no "transformer." / "model.") saves it.
std::vector<std::string> spellings(const std::string& name) {
  std::vector<std::string> out{name};
  for (const char* prefix : {"transformer.", "model."})
    if (name.rfind(prefix, 0) == 0) out.push_back(name.substr(std::string(prefix).size()));
  return out;
}

}  // namespace

std::string hf_config_path(const std::string& dir) { return (fs::path(dir) / "config.json").string(); }

HfCheckpointReader::HfCheckpointReader(const std::string& dir, const ModelSpec& spec) : dir_(dir) {
  if (!fs::is_directory(dir)) throw InputError(dir, "", "--init-from expects a Hugging Face checkpoint directory");
  const std::string config_path = hf_config_path(dir);
  if (!fs::exists(config_path)) throw InputError(dir, "", "has no config.json (expected a Hugging Face checkpoint directory)");
  check_hf_config_matches(load_hf_config_file(config_path), spec, config_path);

  // Which file each tensor is in: the index's weight_map, or the one model.safetensors.
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  std::map<std::string, const MappedSafetensors*> where;
  if (fs::exists(index_path)) {
    nlohmann::json index;
    try {
      index = nlohmann::json::parse(std::ifstream(index_path));
    } catch (const nlohmann::json::exception& e) {
      throw InputError(index_path.string(), "", std::string("invalid JSON: ") + e.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      throw InputError(index_path.string(), "weight_map", "missing; expected {tensor name: shard file}");
    std::map<std::string, const MappedSafetensors*> shard_of;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string()) throw InputError(index_path.string(), "weight_map." + it.key(), "expected a file name");
      const std::string file = it.value().get<std::string>();
      if (file.find('/') != std::string::npos || file == "..")
        throw InputError(index_path.string(), "weight_map." + it.key(), "expected a file in the same directory, got " + file);
      if (!shard_of.count(file)) {
        files_.push_back(std::make_unique<MappedSafetensors>((fs::path(dir) / file).string()));
        shard_of[file] = files_.back().get();
      }
      if (!shard_of[file]->find(it.key()))
        throw InputError(shard_of[file]->path(), it.key(), "listed in " + index_path.filename().string() + " but not in this file");
    }
    for (const auto& f : files_)
      for (const SafetensorsEntry& e : f->tensors()) where[e.name] = f.get();
  } else {
    const fs::path single = fs::path(dir) / "model.safetensors";
    if (!fs::exists(single))
      throw InputError(dir, "", "has neither model.safetensors nor model.safetensors.index.json");
    files_.push_back(std::make_unique<MappedSafetensors>(single.string()));
    for (const SafetensorsEntry& e : files_.back()->tensors()) where[e.name] = files_.back().get();
  }

  std::set<std::string> used;
  auto lookup = [&](const std::string& name) -> Piece {
    std::vector<std::string> names = spellings(name);
    if (disk_name(spec, name) != name)  // Mixtral's router: block_sparse_moe.gate.weight
      for (const std::string& n : spellings(disk_name(spec, name))) names.push_back(n);
    for (const std::string& n : names) {
      auto it = where.find(n);
      if (it != where.end()) {
        used.insert(n);
        return Piece{it->second, it->second->find(n)};
      }
    }
    return Piece{};
  };
  const std::string files_text = files_.size() == 1 ? files_.front()->path() : dir + " (" + std::to_string(files_.size()) + " shards)";
  for (const HfTensor& t : hf_tensors(parameter_tensors(spec))) {
    std::vector<Piece> pieces;
    Piece whole = lookup(t.name);
    const bool experts = is_stacked_experts(t.name);
    if (whole.entry) {
      if (whole.entry->shape != t.shape)
        throw InputError(whole.file->path(), t.name, "shape " + shape_text(whole.entry->shape) + " but the model's " +
                                                         "parameter is " + shape_text(t.shape));
      pieces.push_back(whole);
    } else if (experts) {  // the per-expert layout on disk (runtime/io/hf_disk_names.h)
      const bool gate_up = ends_with(t.name, "gate_up_proj");
      const int64_t rows = gate_up ? t.shape[1] / 2 : t.shape[1];
      for (int64_t e = 0; e < t.shape[0]; ++e) {
        const std::vector<std::string> parts = per_expert_disk_names(spec, t.name, e);
        for (size_t k = 0; k < parts.size(); ++k) {
          const std::string& name = parts[k];
          Piece p = lookup(name);
          if (!p.entry)
            throw InputError(files_text, name, "missing: the model needs " + t.name + " " + shape_text(t.shape) +
                                                   " or its per-expert tensors");
          const std::vector<int64_t> want{rows, t.shape[2]};
          if (p.entry->shape != want)
            throw InputError(p.file->path(), name, "shape " + shape_text(p.entry->shape) + " but the model needs " + shape_text(want));
          p.expert = e;
          p.row_begin = static_cast<int64_t>(k) * rows;
          pieces.push_back(p);
        }
      }
    } else {
      throw InputError(files_text, t.name, "missing: the model needs this tensor, shape " + shape_text(t.shape));
    }
    for (const Piece& p : pieces) scalar_type_of(p.entry->dtype, p.file->path(), p.entry->name);
    plan_.emplace_back(t.name, std::move(pieces));
  }
  for (const auto& [name, file] : where)
    if (!used.count(name) && !ignorable(name, spec))
      throw InputError(file->path(), name, "unexpected tensor: model " + spec.name + " has no such parameter "
                                           "(a checkpoint of another architecture or size?)");
}

HfCheckpointReader::~HfCheckpointReader() = default;

int64_t HfCheckpointReader::tensors_read() const {
  int64_t n = 0;
  for (const auto& p : plan_) n += static_cast<int64_t>(p.second.size());
  return n;
}

void HfCheckpointReader::copy_into(const std::vector<NamedParam>& params) const {
  at::NoGradGuard no_grad;
  if (params.size() != plan_.size())
    throw std::logic_error("HfCheckpointReader: the model has " + std::to_string(params.size()) +
                           " parameters, the table " + std::to_string(plan_.size()));
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].name != plan_[i].first)
      throw std::logic_error("HfCheckpointReader: parameter " + params[i].name + " where the table has " + plan_[i].first);
    at::Tensor dst = params[i].tensor.detach();
    for (const Piece& p : plan_[i].second) {
      const at::Tensor src = p.file->view(*p.entry);
      if (p.expert < 0) dst.copy_(src);
      else dst.select(0, p.expert).narrow(0, p.row_begin, src.size(0)).copy_(src);
    }
  }
}

}  // namespace zplan::rt
