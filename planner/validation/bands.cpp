// Per-path reserved-memory bands (see bands.h).
#include "planner/validation/bands.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "planner/input_error.h"

namespace zplan {
namespace {

// Four decimals (0.01 percentage point): the file stays stable across platforms' last digits.
double rounded(double x) { return std::round(x * 1e4) / 1e4; }

}  // namespace

std::string PathKey::str() const {
  return std::string(to_string(profile)) + "/" + to_string(framework) + "/" + (offload ? "offload" : "no-offload") +
         "/" + (sequence_parallel ? "sp>1" : "sp1") + "/world " + std::to_string(world_size) +
         (chunked_loss ? "/chunked-loss" : "");
}

PathKey path_key(const TrainingSpec& training, const Strategy& s, int64_t world_size) {
  PathKey k;
  k.profile = training.profile;
  k.framework = training.framework;
  if (k.framework == Framework::plain && (s.zero_stage > 0 || s.offload_optimizer || s.offload_params))
    k.framework = Framework::deepspeed;
  k.offload = s.offload_optimizer || s.offload_params;
  k.sequence_parallel = s.sp_degree > 1;
  k.world_size = world_size;
  k.chunked_loss = s.loss_chunks > 1;
  return k;
}

std::vector<PathBand> measure_bands(const std::vector<PathError>& errors) {
  std::map<std::string, std::pair<PathKey, std::vector<double>>> by_path;
  for (const PathError& e : errors) {
    auto& slot = by_path[e.key.str()];
    slot.first = e.key;
    slot.second.push_back(std::abs(e.reserved_error));
  }
  std::vector<PathBand> out;
  for (auto& [name, slot] : by_path) {
    std::vector<double>& v = slot.second;
    std::sort(v.begin(), v.end());
    PathBand b;
    b.key = slot.first;
    b.runs = v.size();
    const size_t rank = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(v.size())));
    b.p95_abs_error = rounded(v[std::max<size_t>(rank, 1) - 1]);
    b.max_abs_error = rounded(v.back());
    out.push_back(b);
  }
  return out;
}

nlohmann::json bands_to_json(const std::vector<PathBand>& bands, const std::string& command) {
  nlohmann::json j;
  j["generated_by"] = command;
  j["statistic"] = "p95_abs_error: nearest-rank 95th percentile of |predicted - measured| / measured peak reserved "
                   "bytes over the path's runs; max_abs_error: the largest";
  j["paths"] = nlohmann::json::array();
  for (const PathBand& b : bands)
    j["paths"].push_back({{"path", b.key.str()},
                          {"profile", to_string(b.key.profile)},
                          {"framework", to_string(b.key.framework)},
                          {"offload", b.key.offload},
                          {"sequence_parallel", b.key.sequence_parallel},
                          {"world_size", b.key.world_size},
                          {"chunked_loss", b.key.chunked_loss},
                          {"runs", b.runs},
                          {"p95_abs_error", b.p95_abs_error},
                          {"max_abs_error", b.max_abs_error}});
  return j;
}

std::vector<PathBand> bands_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("paths") || !j.at("paths").is_array())
    throw InputError(where, "paths", "missing or not an array");
  std::vector<PathBand> out;
  for (const nlohmann::json& p : j.at("paths")) {
    PathBand b;
    try {
      if (!parse_profile(p.at("profile").get<std::string>(), &b.key.profile))
        throw InputError(where, "paths[].profile", "expected zplan or hf");
      if (!parse_framework(p.at("framework").get<std::string>(), &b.key.framework))
        throw InputError(where, "paths[].framework", "expected deepspeed, fsdp2, ddp or plain");
      b.key.offload = p.at("offload").get<bool>();
      b.key.sequence_parallel = p.at("sequence_parallel").get<bool>();
      b.key.world_size = p.at("world_size").get<int64_t>();
      // Written since the chunked loss got its own band; before, no path had one.
      b.key.chunked_loss = p.value("chunked_loss", false);
      b.runs = p.at("runs").get<size_t>();
      b.p95_abs_error = p.at("p95_abs_error").get<double>();
      b.max_abs_error = p.at("max_abs_error").get<double>();
    } catch (const nlohmann::json::exception& e) {
      throw InputError(where, "paths[]", std::string("malformed: ") + e.what());
    }
    if (b.runs == 0 || !(b.p95_abs_error >= 0) || !(b.p95_abs_error < 10))
      throw InputError(where, "paths[].p95_abs_error", "expected runs > 0 and an error in [0, 10)");
    out.push_back(b);
  }
  return out;
}

}  // namespace zplan
