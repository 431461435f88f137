// hf_checkpoint_writer.cpp: --save-hf DIR (see hf_checkpoint_writer.h).
#include "runtime/io/hf_checkpoint_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "planner/input_error.h"
#include "planner/io/hf_config_writer.h"
#include "runtime/io/remove_tree.h"
#include "runtime/io/hf_disk_names.h"
#include "runtime/io/safetensors_file.h"

namespace zplan::rt {

namespace {

namespace fs = std::filesystem;

std::string torch_dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: return "float32";
  }
}

void sync_path(const fs::path& p) {  // a file's or directory's metadata on disk before the rename
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

std::vector<std::pair<std::string, at::Tensor>> hf_state_dict(const std::vector<NamedParam>& params,
                                                              const ModelSpec& spec) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const NamedParam& p : params) {
    const at::Tensor t = p.tensor.detach();
    if (!is_stacked_experts(p.name)) {
      out.emplace_back(disk_name(spec, p.name), t);
      continue;
    }
    for (int64_t e = 0; e < t.size(0); ++e) {
      const at::Tensor w = t.select(0, e);  // [2F', C] gate then up, or [C, F']
      const std::vector<std::string> names = per_expert_disk_names(spec, p.name, e);
      if (names.size() == 1) {
        out.emplace_back(names[0], w);
      } else {
        const int64_t rows = w.size(0) / 2;
        out.emplace_back(names[0], w.narrow(0, 0, rows));
        out.emplace_back(names[1], w.narrow(0, rows, rows));
      }
    }
  }
  return out;
}

void save_hf_checkpoint(const std::string& dir, const ModelSpec& spec, const std::vector<NamedParam>& params) {
  if (params.empty()) throw InputError(dir, "", "no parameters to write");
  fs::path target = fs::path(dir);
  if (target.filename().empty()) target = target.parent_path();  // "out/" -> "out"
  const fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  const std::string pid = std::to_string(::getpid());
  const fs::path tmp = parent / ("." + target.filename().string() + ".tmp-" + pid);
  const fs::path old = parent / ("." + target.filename().string() + ".old-" + pid);
  std::error_code ec;
  if (fs::exists(target) && !fs::is_directory(target)) throw InputError(dir, "", "exists and is not a directory");
  remove_tree(tmp.string());  // not fs::remove_all: remove_tree.h says why
  if (!fs::create_directories(tmp, ec) || ec)
    throw InputError(dir, "", "cannot create the temporary directory " + tmp.string() + ": " + ec.message());
  try {
    const std::string dtype = torch_dtype_name(params.front().tensor.scalar_type());
    {
      std::ofstream cfg(tmp / "config.json");
      cfg << hf_config_json(spec, dtype).dump(2) << "\n";
      if (!cfg.flush()) throw InputError((tmp / "config.json").string(), "", "write failed");
    }
    sync_path(tmp / "config.json");
    write_safetensors((tmp / "model.safetensors").string(), hf_state_dict(params, spec));
    sync_path(tmp);
    const bool had_old = fs::exists(target);
    if (had_old) {
      fs::rename(target, old, ec);
      if (ec) throw InputError(dir, "", "cannot move the existing directory aside: " + ec.message());
    }
    fs::rename(tmp, target, ec);
    if (ec) {
      if (had_old) fs::rename(old, target, ec);
      throw InputError(dir, "", "cannot rename " + tmp.string() + " to it");
    }
    sync_path(parent);
    if (had_old) remove_tree(old.string());
  } catch (...) {
    remove_tree(tmp.string());
    throw;
  }
}

}  // namespace zplan::rt
