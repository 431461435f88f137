// Reading run records (see run_record.h).
#include "planner/io/run_record.h"

#include <algorithm>
#include <fstream>
#include <vector>

#include "planner/input_error.h"
#include "planner/io/breakdown_json.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/hf_config.h"
#include "planner/io/model_loader.h"

namespace zplan {
namespace {

// Per-step times of the steps numbered `first` (1-based) and later, from the memory readings'
// per-step entries ({"step": k, "step_seconds": ...}); empty when the record has none.
std::vector<double> step_seconds_from(const nlohmann::json& measurement, int first) {
  std::vector<double> out;
  const nlohmann::json* steps = nullptr;
  if (measurement.contains("memory") && measurement.at("memory").contains("gpu") &&
      measurement.at("memory").at("gpu").contains("steps"))
    steps = &measurement.at("memory").at("gpu").at("steps");
  if (!steps || !steps->is_array()) return out;
  for (const nlohmann::json& st : *steps) {
    if (!st.is_object() || !st.contains("step") || !st.at("step").is_number_integer()) continue;
    if (!st.contains("step_seconds") || !st.at("step_seconds").is_number()) continue;
    const double seconds = st.at("step_seconds").get<double>();
    if (st.at("step").get<int>() >= first && seconds > 0) out.push_back(seconds);
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

nlohmann::json read_run_record(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw InputError(path, "", "cannot read");
  try {
    return nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, "", std::string("malformed JSON: ") + e.what());
  }
}

Scenario scenario_from_record(const nlohmann::json& record, const std::string& where, Strategy* strategy) {
  if (!record.is_object()) throw InputError(where, "", "expected one JSON object");
  if (!record.contains("scenario") || !record.at("scenario").is_object())
    throw InputError(where, "scenario", "missing or not an object");
  const nlohmann::json& sj = record.at("scenario");
  Scenario s;
  if (sj.contains("model_config") && sj.at("model_config").is_object()) {
    s.model = model_from_hf_config(sj.at("model_config"), where + ": scenario.model_config");
  } else if (sj.contains("model") && sj.at("model").is_string()) {
    s.model = load_model(sj.at("model").get<std::string>(), where, "scenario.model");
  } else if (sj.contains("model_name") && sj.at("model_name").is_string()) {
    s.model = load_model(sj.at("model_name").get<std::string>(), where, "scenario.model_name");
  } else {
    throw InputError(where, "scenario.model", "missing: a built-in model name or scenario.model_config");
  }
  const char* layers_key = sj.contains("model_layers") ? "model_layers" : "num_layers";
  if (sj.contains(layers_key) && !sj.contains("model_config")) {
    if (!sj.at(layers_key).is_number_integer() || sj.at(layers_key).get<int64_t>() < 1)
      throw InputError(where, std::string("scenario.") + layers_key, "expected a positive integer");
    s.model.layers = sj.at(layers_key).get<int64_t>();
  }
  if (!sj.contains("gpus") || !sj.at("gpus").is_string()) throw InputError(where, "scenario.gpus", "missing, e.g. \"1xh100-80gb\"");
  s.cluster = cluster_from_gpus_flag(sj.at("gpus").get<std::string>());
  if (!sj.contains("seq") || !sj.at("seq").is_number_integer() || sj.at("seq").get<int64_t>() <= 0)
    throw InputError(where, "scenario.seq", "missing or not a positive integer");
  s.training.seq_len = sj.at("seq").get<int64_t>();
  auto text = [&](const char* key, const char* def) {
    if (!sj.contains(key)) return std::string(def);
    if (!sj.at(key).is_string()) throw InputError(where, std::string("scenario.") + key, "expected a string");
    return sj.at(key).get<std::string>();
  };
  if (!parse_attention(text("attention", "sdpa"), &s.training.attention))
    throw InputError(where, "scenario.attention", "expected sdpa, flash or eager");
  if (!parse_profile(text("profile", record.value("profile", std::string("zplan")).c_str()), &s.training.profile))
    throw InputError(where, "scenario.profile", "expected zplan or hf");
  if (!parse_framework(text("framework", s.cluster.world_size() > 1 ? "deepspeed" : "plain"), &s.training.framework))
    throw InputError(where, "scenario.framework", "expected deepspeed, fsdp2, ddp or plain");
  std::string experts = text("experts_implementation", "grouped_mm");
  if (experts.empty()) experts = "grouped_mm";
  if (!parse_experts_impl(experts, &s.training.experts))
    throw InputError(where, "scenario.experts_implementation", "expected grouped_mm, eager or loop");
  // Records of zplan's runtime measured before it ran the fused RMSNorm carry no field: composite.
  if (!parse_norm_impl(text("norm_implementation", "composite"), &s.training.norm))
    throw InputError(where, "scenario.norm_implementation", "expected fused or composite");
  // ... and before its fused-master AdamW kernel: upcast.
  if (!parse_adamw_impl(text("adamw_implementation", "upcast"), &s.training.adamw))
    throw InputError(where, "scenario.adamw_implementation", "expected fused-master or upcast");
  if (!parse_elementwise_impl(text("elementwise_implementation", "composite"), &s.training.elementwise))
    throw InputError(where, "scenario.elementwise_implementation", "expected fused or composite");
  if (!parse_cross_entropy_impl(text("cross_entropy_implementation", "composite"), &s.training.cross_entropy))
    throw InputError(where, "scenario.cross_entropy_implementation", "expected fused or composite");
  if (sj.contains("use_cache")) {
    if (!sj.at("use_cache").is_boolean()) throw InputError(where, "scenario.use_cache", "expected true or false");
    s.training.use_cache = sj.at("use_cache").get<bool>();
  }
  if (sj.contains("drop_logits")) {
    // The loop keeps only the loss (HF Trainer): the output's logits die before backward.
    if (!sj.at("drop_logits").is_boolean()) throw InputError(where, "scenario.drop_logits", "expected true or false");
    s.training.hold_outputs = !sj.at("drop_logits").get<bool>();
  }
  if (!record.contains("strategy")) throw InputError(where, "strategy", "missing");
  *strategy = strategy_from_json(record.at("strategy"), where);
  return s;
}

Measurement measurement_from_record(const nlohmann::json& record, const std::string& where, int first_steady_step) {
  if (!record.contains("measurement") || !record.at("measurement").is_object())
    throw InputError(where, "measurement", "missing or not an object");
  const nlohmann::json& mj = record.at("measurement");
  Measurement m;
  if (!mj.contains("memory")) throw InputError(where, "measurement.memory", "missing");
  m.memory = memory_from_json(mj.at("memory"), where);
  if (mj.contains("time") && mj.at("time").is_object()) {
    // A run that died has no step time (null).
    auto seconds = [&](const char* key) {
      const nlohmann::json& t = mj.at("time");
      if (!t.contains(key) || t.at(key).is_null()) return 0.0;
      if (!t.at(key).is_number()) throw InputError(where, std::string("measurement.time.") + key, "expected a number");
      return t.at(key).get<double>();
    };
    m.step_seconds = seconds("step_seconds");
    m.tokens_per_second = seconds("tokens_per_second");
  }
  m.recorded_step_seconds = m.step_seconds;
  const std::vector<double> later = step_seconds_from(mj, std::max(2, first_steady_step));
  if (first_steady_step > 2 && !later.empty() && m.step_seconds > 0) {
    const double steady = median(later);
    m.tokens_per_second *= m.step_seconds / steady;
    m.step_seconds = steady;
  }
  if (later.size() >= 2 && m.step_seconds > 0) {
    const double fastest = *std::min_element(later.begin(), later.end());
    m.step_excess_over_fastest = m.step_seconds / fastest - 1.0;
  }
  // Older records keep the flag at the top level.
  m.oom = mj.value("oom", false) || (record.contains("oom") && record.at("oom").is_boolean() && record.at("oom").get<bool>());
  if (record.contains("failed_phase") && record.at("failed_phase").is_string()) m.failed_phase = record.at("failed_phase").get<std::string>();
  return m;
}

bool Measurement::step_time_is_steady() const { return step_excess_over_fastest <= kMaxStepExcessOverFastest; }

}  // namespace zplan
