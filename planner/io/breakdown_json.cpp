// JSON encoding of MemoryBreakdown and Strategy (see breakdown_json.h).
#include "planner/io/breakdown_json.h"

#include "planner/input_error.h"
#include "planner/memory/memory_category.h"

namespace zplan {
namespace {

// The breakdown's keys come from the category table (memory_category.h); the host fields have one
// list of (key, member) pairs here, so encoding and decoding cannot drift apart.
struct HostField {
  const char* key;
  uint64_t HostMemory::*member;
};
constexpr HostField kHost[] = {
    {"baseline_bytes", &HostMemory::baseline_bytes},
    {"model_load_bytes", &HostMemory::model_load_bytes},
    {"optimizer_bytes", &HostMemory::optimizer_bytes},
    {"params_bytes", &HostMemory::params_bytes},
    {"checkpoints_bytes", &HostMemory::checkpoints_bytes},
    {"pinned_buffers_bytes", &HostMemory::pinned_buffers_bytes},
    {"steady_bytes", &HostMemory::steady_bytes},
    {"peak_bytes", &HostMemory::peak_bytes},
    {"capacity_bytes", &HostMemory::capacity_bytes},
};

uint64_t read_bytes(const nlohmann::json& j, const char* key, const std::string& where, const std::string& path) {
  if (!j.contains(key) || j.at(key).is_null()) return 0;
  const nlohmann::json& v = j.at(key);
  if (!v.is_number()) throw InputError(where, path + key, "expected a number of bytes");
  if (v.is_number_integer() && v.get<int64_t>() < 0) throw InputError(where, path + key, "negative bytes");
  if (!v.is_number_float()) return v.get<uint64_t>();
  const double bytes = v.get<double>();
  if (bytes < 0) throw InputError(where, path + key, "negative bytes");
  // 2^64 and above (1e22 from a corrupted record) cannot be cast: that is undefined behaviour.
  if (!(bytes < 18446744073709551616.0)) throw InputError(where, path + key, "more bytes than fit in 64 bits");
  return static_cast<uint64_t>(bytes);
}

}  // namespace

nlohmann::json memory_to_json(const MemoryBreakdown& m) {
  nlohmann::json gpu;
  gpu["peak_bytes"] = m.peak_allocated_bytes;
  gpu["reserved_bytes"] = m.reserved_bytes;
  gpu["capacity_bytes"] = m.capacity_bytes;
  gpu["cuda_context_bytes"] = m.cuda_context_bytes;
  gpu["fragmentation_bytes"] = m.fragmentation_bytes;
  gpu["device_total_bytes"] = m.device_total_bytes();
  gpu["peak_phase"] = to_string(m.peak_phase);
  nlohmann::json breakdown = nlohmann::json::object();
  for (const CategoryInfo& f : kCategories) breakdown[f.json_key] = m.*(f.member);
  gpu["breakdown"] = breakdown;
  nlohmann::json phases = nlohmann::json::object();
  for (const PhaseMemory& p : m.phases)
    phases[to_string(p.phase)] = {{"allocated_bytes", p.allocated_bytes}, {"peak_allocated_bytes", p.peak_allocated_bytes}};
  gpu["phases"] = phases;
  nlohmann::json host = nlohmann::json::object();
  for (const HostField& f : kHost) host[f.key] = m.host.*(f.member);
  return {{"gpu", gpu}, {"host", host}};
}

MemoryBreakdown memory_from_json(const nlohmann::json& j, const std::string& where) {
  MemoryBreakdown m;
  if (!j.is_object() || !j.contains("gpu") || !j.at("gpu").is_object())
    throw InputError(where, "memory.gpu", "missing or not an object");
  const nlohmann::json& gpu = j.at("gpu");
  if (!gpu.contains("peak_bytes")) throw InputError(where, "memory.gpu.peak_bytes", "missing");
  m.peak_allocated_bytes = read_bytes(gpu, "peak_bytes", where, "memory.gpu.");
  m.reserved_bytes = read_bytes(gpu, "reserved_bytes", where, "memory.gpu.");
  m.capacity_bytes = read_bytes(gpu, "capacity_bytes", where, "memory.gpu.");
  m.cuda_context_bytes = read_bytes(gpu, "cuda_context_bytes", where, "memory.gpu.");
  m.fragmentation_bytes = read_bytes(gpu, "fragmentation_bytes", where, "memory.gpu.");
  if (gpu.contains("breakdown") && gpu.at("breakdown").is_object())
    for (const CategoryInfo& f : kCategories)
      m.*(f.member) = read_bytes(gpu.at("breakdown"), f.json_key, where, "memory.gpu.breakdown.");
  if (gpu.contains("phases") && gpu.at("phases").is_array()) {
    // Measurement files list phases in order: [{"phase": "forward_end", ...}, ...].
    for (const nlohmann::json& pj : gpu.at("phases")) {
      if (!pj.is_object() || !pj.contains("phase") || !pj.at("phase").is_string())
        throw InputError(where, "memory.gpu.phases[].phase", "expected a phase name");
      PhaseMemory pm;
      bool known = false;
      for (size_t i = 0; i < static_cast<size_t>(Phase::count); ++i)
        if (pj.at("phase").get<std::string>() == to_string(static_cast<Phase>(i))) { pm.phase = static_cast<Phase>(i); known = true; }
      if (!known) throw InputError(where, "memory.gpu.phases[].phase", "unknown phase '" + pj.at("phase").get<std::string>() + "'");
      pm.allocated_bytes = read_bytes(pj, "allocated_bytes", where, "memory.gpu.phases[].");
      pm.peak_allocated_bytes = read_bytes(pj, "peak_allocated_bytes", where, "memory.gpu.phases[].");
      m.phases.push_back(pm);
    }
  } else if (gpu.contains("phases") && gpu.at("phases").is_object()) {
    for (size_t i = 0; i < static_cast<size_t>(Phase::count); ++i) {
      const Phase p = static_cast<Phase>(i);
      if (!gpu.at("phases").contains(to_string(p))) continue;
      const nlohmann::json& pj = gpu.at("phases").at(to_string(p));
      PhaseMemory pm;
      pm.phase = p;
      const std::string path = std::string("memory.gpu.phases.") + to_string(p) + ".";
      pm.allocated_bytes = read_bytes(pj, "allocated_bytes", where, path);
      pm.peak_allocated_bytes = read_bytes(pj, "peak_allocated_bytes", where, path);
      m.phases.push_back(pm);
    }
  }
  if (j.contains("host") && j.at("host").is_object())
    for (const HostField& f : kHost) m.host.*(f.member) = read_bytes(j.at("host"), f.key, where, "memory.host.");
  return m;
}

nlohmann::json strategy_to_json(const Strategy& s) {
  nlohmann::json j = {{"zero_stage", s.zero_stage},
                      {"offload_optimizer", s.offload_optimizer},
                      {"offload_params", s.offload_params},
                      {"checkpointed_layers", s.checkpointed_layers},
                      {"cpu_checkpointing", s.cpu_checkpointing},
                      {"sp_degree", s.sp_degree},
                      {"micro_batch", s.micro_batch},
                      {"grad_accumulation", s.grad_accumulation},
                      {"precision", to_string(s.precision)}};
  if (s.loss_chunks > 1) j["loss_chunks"] = s.loss_chunks;  // absent: the plain loss path (whole logits)
  return j;
}

Strategy strategy_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw InputError(where, "strategy", "expected an object");
  Strategy s;
  auto get_int = [&](const char* key, int64_t def) -> int64_t {
    if (!j.contains(key)) return def;
    if (!j.at(key).is_number_integer()) throw InputError(where, std::string("strategy.") + key, "expected an integer");
    return j.at(key).get<int64_t>();
  };
  auto get_bool = [&](const char* key) -> bool {
    if (!j.contains(key)) return false;
    if (!j.at(key).is_boolean()) throw InputError(where, std::string("strategy.") + key, "expected true or false");
    return j.at(key).get<bool>();
  };
  s.zero_stage = static_cast<int>(get_int("zero_stage", 0));
  s.offload_optimizer = get_bool("offload_optimizer");
  s.offload_params = get_bool("offload_params");
  s.checkpointed_layers = get_int("checkpointed_layers", 0);
  s.cpu_checkpointing = get_bool("cpu_checkpointing");
  s.sp_degree = static_cast<int>(get_int("sp_degree", 1));
  s.micro_batch = get_int("micro_batch", 1);
  s.grad_accumulation = get_int("grad_accumulation", 1);
  s.loss_chunks = get_int("loss_chunks", 0);
  if (j.contains("precision")) {
    if (!j.at("precision").is_string() || !parse_precision(j.at("precision").get<std::string>(), &s.precision))
      throw InputError(where, "strategy.precision", "expected bf16, fp16, fp32, amp-bf16, amp-fp16 or bf16-pure");
  }
  return s;
}

}  // namespace zplan
