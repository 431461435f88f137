// Calibration files (see calibration_loader.h).
#include "planner/io/calibration_loader.h"

#include <cstdio>
#include <map>
#include <sstream>

#include "planner/input_error.h"
#include "planner/io/builtin_data.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/yaml_fields.h"

namespace zplan {
namespace {

const std::vector<std::string> kConstantKeys = {"matmul_efficiency",       "attention_efficiency",        "memory_bw_efficiency",
                                                "optimizer_traffic_factor", "kernel_overhead_seconds", "micro_step_overhead_seconds", "link_efficiency",
                                                "offload_efficiency",      "host_sync_seconds",       "offload_step_efficiency",
                                                "zero3_hook_seconds",      "zero2_hook_seconds",      "checkpoint_hook_seconds"};

// The fit's leave-one-model-out error (HeldOutError): mean, max, models.
constexpr const char* kHeldOutKeys[] = {"leave_one_model_out_mean_error", "leave_one_model_out_max_error", "leave_one_model_out_models"};
// Every run the fit did not see (leave-one-model-out and held out), by regime (HeldOutError::device_bound,
// host_bound): mean, max, runs each.
constexpr const char* kDeviceBoundKeys[] = {"held_out_device_bound_mean_error", "held_out_device_bound_max_error",
                                            "held_out_device_bound_runs"};
constexpr const char* kHostBoundKeys[] = {"held_out_host_bound_mean_error", "held_out_host_bound_max_error",
                                          "held_out_host_bound_runs"};
constexpr const char* kDeviceBoundRepeatKeys[] = {"held_out_device_bound_repeat_floor", "held_out_device_bound_repeat_groups"};
constexpr const char* kHostBoundRepeatKeys[] = {"held_out_host_bound_repeat_floor", "held_out_host_bound_repeat_groups"};

// The floor of a regime's repeated configurations (RegimeError::repeat_floor); files written before
// it was kept leave it unknown (0 groups).
void parse_repeat_floor(const FieldReader& r, const char* const (&keys)[2], RegimeError* e) {
  e->repeat_floor = r.optional_double(keys[0], 0.0, 1.0).value_or(0.0);
  e->repeat_groups = static_cast<int>(r.optional_int(keys[1], 0, 1'000'000).value_or(0));
}

// An error's mean, max and count under three keys (kHeldOutKeys: the count is models; the regimes':
// runs). Files written before a key was kept leave it unknown (count 0).
RegimeError parse_regime(const FieldReader& r, const char* const (&keys)[3]) {
  RegimeError e;
  e.mean = r.optional_double(keys[0], 0.0, 100.0).value_or(0.0);
  e.max = r.optional_double(keys[1], 0.0, 100.0).value_or(0.0);
  e.runs = static_cast<int>(r.optional_int(keys[2], 0, 1'000'000).value_or(0));
  if (e.max < e.mean) r.fail(keys[1], std::string("below ") + keys[0]);
  return e;
}

ProfileCalibration parse_profile_constants(const FieldReader& r) {
  std::vector<std::string> known = {"runs"};
  known.insert(known.end(), kConstantKeys.begin(), kConstantKeys.end());
  known.push_back("fitted");
  for (const char* k : kHeldOutKeys) known.push_back(k);
  for (const char* k : kDeviceBoundKeys) known.push_back(k);
  for (const char* k : kHostBoundKeys) known.push_back(k);
  for (const char* k : kDeviceBoundRepeatKeys) known.push_back(k);
  for (const char* k : kHostBoundRepeatKeys) known.push_back(k);
  r.reject_unknown(known);
  ProfileCalibration p;
  CostOptions& c = p.constants;
  p.runs = static_cast<int>(r.optional_int("runs", 0, 1'000'000).value_or(0));
  // An efficiency is a fraction of a datasheet rate: above 1 the datasheet (or the fit) is wrong.
  c.matmul_efficiency = r.required_double("matmul_efficiency", 1e-4, 1.0);
  c.attention_efficiency = r.required_double("attention_efficiency", 1e-4, 1.0);
  c.memory_bw_efficiency = r.required_double("memory_bw_efficiency", 1e-4, 1.0);
  c.optimizer_traffic_factor = r.required_double("optimizer_traffic_factor", 1.0, 100.0);
  c.kernel_overhead_seconds = r.required_double("kernel_overhead_seconds", 0.0, 1.0);
  c.micro_step_overhead_seconds = r.required_double("micro_step_overhead_seconds", 0.0, 100.0);
  c.link_efficiency = r.required_double("link_efficiency", 1e-4, 1.0);
  c.offload_efficiency = r.required_double("offload_efficiency", 1e-4, 1.0);
  c.host_sync_seconds = r.required_double("host_sync_seconds", 0.0, 1.0);
  // The DeepSpeed terms came later: files fitted before them keep the defaults.
  c.offload_step_efficiency = r.optional_double("offload_step_efficiency", 1e-4, 1.0).value_or(c.offload_step_efficiency);
  c.zero3_hook_seconds = r.optional_double("zero3_hook_seconds", 0.0, 1.0).value_or(c.zero3_hook_seconds);
  c.zero2_hook_seconds = r.optional_double("zero2_hook_seconds", 0.0, 1.0).value_or(c.zero2_hook_seconds);
  c.checkpoint_hook_seconds = r.optional_double("checkpoint_hook_seconds", 0.0, 1.0).value_or(c.checkpoint_hook_seconds);
  p.fitted = r.optional_string_list("fitted");
  const RegimeError leave_one_model_out = parse_regime(r, kHeldOutKeys);
  c.held_out.mean = leave_one_model_out.mean;
  c.held_out.max = leave_one_model_out.max;
  c.held_out.models = leave_one_model_out.runs;
  c.held_out.device_bound = parse_regime(r, kDeviceBoundKeys);
  c.held_out.host_bound = parse_regime(r, kHostBoundKeys);
  parse_repeat_floor(r, kDeviceBoundRepeatKeys, &c.held_out.device_bound);
  parse_repeat_floor(r, kHostBoundRepeatKeys, &c.held_out.host_bound);
  return p;
}

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void write_regime(std::ostream& o, const RegimeError& e, const char* const (&keys)[3]) {
  if (e.runs <= 0) return;
  o << "    " << keys[0] << ": " << number(e.mean) << "\n    " << keys[1] << ": " << number(e.max) << "\n    " << keys[2] << ": "
    << e.runs << "\n";
}

void write_repeat_floor(std::ostream& o, const RegimeError& e, const char* const (&keys)[2]) {
  if (e.repeat_groups <= 0) return;
  o << "    " << keys[0] << ": " << number(e.repeat_floor) << "\n    " << keys[1] << ": " << e.repeat_groups << "\n";
}

}  // namespace

Calibration parse_calibration_yaml(const std::string& text, const std::string& source) {
  FieldReader r(parse_yaml_text(text, source), source);
  r.reject_unknown({"gpu", "note", "profiles"});
  Calibration c;
  c.source = source;
  c.gpu = load_gpu(r.required_string("gpu"), source, "gpu").name;
  c.note = r.optional_string("note").value_or("");
  if (!r.has("profiles") || !r.node("profiles").IsMap()) r.fail("profiles", "expected a map from hf/zplan to fitted constants");
  FieldReader profiles = r.sub("profiles");
  profiles.reject_unknown({"hf", "zplan"});
  for (const char* name : {"hf", "zplan"}) {
    if (!profiles.has(name)) continue;
    Profile p;
    parse_profile(name, &p);
    c.profiles[p] = parse_profile_constants(profiles.sub(name));
    c.profiles[p].constants.calibration = source;
  }
  if (c.profiles.empty()) r.fail("profiles", "expected at least one of hf, zplan");
  return c;
}

Calibration load_calibration(const std::string& path) { return parse_calibration_yaml(read_text_file(path), path); }

std::string calibration_yaml(const Calibration& c) {
  std::ostringstream o;
  o << "# Step-time constants of zplan's cost model (docs/cost-model.md), fitted by least squares on\n"
       "# measured step times. Regenerate with the command in `note`.\n";
  o << "gpu: " << c.gpu << "\n";
  o << "note: \"" << c.note << "\"\n";
  o << "profiles:\n";
  for (const auto& [profile, p] : c.profiles) {
    const CostOptions& k = p.constants;
    o << "  " << to_string(profile) << ":\n";
    o << "    runs: " << p.runs << "\n";
    const double values[] = {k.matmul_efficiency,       k.attention_efficiency,        k.memory_bw_efficiency,
                             k.optimizer_traffic_factor, k.kernel_overhead_seconds, k.micro_step_overhead_seconds, k.link_efficiency,
                             k.offload_efficiency,      k.host_sync_seconds,       k.offload_step_efficiency,
                             k.zero3_hook_seconds,      k.zero2_hook_seconds,      k.checkpoint_hook_seconds};
    for (size_t i = 0; i < kConstantKeys.size(); ++i) o << "    " << kConstantKeys[i] << ": " << number(values[i]) << "\n";
    write_regime(o, RegimeError{k.held_out.mean, k.held_out.max, k.held_out.models}, kHeldOutKeys);
    write_regime(o, k.held_out.device_bound, kDeviceBoundKeys);
    write_regime(o, k.held_out.host_bound, kHostBoundKeys);
    write_repeat_floor(o, k.held_out.device_bound, kDeviceBoundRepeatKeys);
    write_repeat_floor(o, k.held_out.host_bound, kHostBoundRepeatKeys);
    o << "    fitted: [";
    for (size_t i = 0; i < p.fitted.size(); ++i) o << (i ? ", " : "") << "\"" << p.fitted[i] << "\"";
    o << "]\n";
  }
  return o.str();
}

std::optional<Calibration> builtin_calibration(const std::string& gpu_name) {
  const std::string path = "hardware/calibration/" + gpu_name + ".yaml";
  for (const BuiltinFile& f : builtin_files())
    if (f.path == path) {
      Calibration c = parse_calibration_yaml(f.content, "built-in " + path);
      return c;
    }
  return std::nullopt;
}

namespace {

// The built-in constants of another GPU of the same architecture (compute capability) for this
// profile, the first by name. The fitted constants are fractions of a GPU's own peak FLOP/s and HBM
// bandwidth and per-launch overheads, which belong to the architecture's kernels: an H200 runs the
// H100's GH100 die and kernels with more HBM bandwidth, which the memory-bound term already uses.
std::optional<CostOptions> same_architecture_constants(const GpuSpec& gpu, Profile profile) {
  if (gpu.compute_capability <= 0) return std::nullopt;
  for (const std::string& name : builtin_gpu_names()) {
    if (name == gpu.name || load_gpu(name).compute_capability != gpu.compute_capability) continue;
    const std::optional<Calibration> c = builtin_calibration(name);
    if (!c) continue;
    auto it = c->profiles.find(profile);
    if (it == c->profiles.end()) continue;
    CostOptions o = it->second.constants;
    o.calibration = "borrowed from " + it->second.constants.calibration + " (same compute capability)";
    o.calibration_borrowed = true;
    return o;
  }
  return std::nullopt;
}

}  // namespace

CostOptions cost_options_for(const GpuSpec& gpu, Profile profile, const Calibration* user) {
  auto pick = [&](const Calibration& c) -> std::optional<CostOptions> {
    if (c.gpu != gpu.name) return std::nullopt;
    auto it = c.profiles.find(profile);
    if (it == c.profiles.end()) return std::nullopt;
    return it->second.constants;
  };
  if (user)
    if (auto o = pick(*user)) return *o;
  static thread_local std::string cached_name;
  static thread_local std::optional<Calibration> cached;
  if (cached_name != gpu.name || !cached) {
    cached = builtin_calibration(gpu.name);
    cached_name = gpu.name;
  }
  if (cached)
    if (auto o = pick(*cached)) return *o;
  static thread_local std::map<std::pair<std::string, Profile>, std::optional<CostOptions>> borrowed;
  const auto key = std::make_pair(gpu.name, profile);
  auto it = borrowed.find(key);
  if (it == borrowed.end()) it = borrowed.emplace(key, same_architecture_constants(gpu, profile)).first;
  return it->second ? *it->second : CostOptions{};
}

}  // namespace zplan
