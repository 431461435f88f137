// Writing run records (see run_record_writer.h).
#include "planner/report/run_record_writer.h"

#include "planner/io/breakdown_json.h"
#include "planner/report/estimate_report.h"

namespace zplan {

nlohmann::json scenario_to_json(const Scenario& s) {
  nlohmann::json j;
  j["model"] = s.model.name;
  j["model_layers"] = s.model.layers;
  j["gpus"] = std::to_string(s.cluster.world_size()) + "x" + s.cluster.gpu.name;
  j["seq"] = s.training.seq_len;
  j["attention"] = to_string(s.training.attention);
  j["profile"] = to_string(s.training.profile);
  j["framework"] = to_string(s.training.framework);
  j["experts_implementation"] = to_string(s.training.experts);
  j["norm_implementation"] = to_string(s.training.norm);
  j["adamw_implementation"] = to_string(s.training.adamw);
  j["elementwise_implementation"] = to_string(s.training.elementwise);
  j["cross_entropy_implementation"] = to_string(s.training.cross_entropy);
  j["use_cache"] = s.training.use_cache;
  return j;
}

nlohmann::json make_run_record(const Scenario& s, const Estimate& e, const Measurement& m,
                               const std::string& gpu_name, const nlohmann::json& versions,
                               const std::string& command) {
  nlohmann::json j;
  j["profile"] = to_string(s.training.profile);
  j["world_size"] = s.cluster.world_size();
  j["gpu"] = gpu_name;
  j["versions"] = versions;
  j["command"] = command;
  j["scenario"] = scenario_to_json(s);
  j["strategy"] = strategy_to_json(e.strategy);
  j["estimate"] = estimate_to_json(e, s);
  nlohmann::json meas;
  meas["memory"] = memory_to_json(m.memory);
  meas["time"] = {{"step_seconds", m.step_seconds}, {"tokens_per_second", m.tokens_per_second}};
  meas["oom"] = m.oom;
  if (m.oom) meas["failed_phase"] = m.failed_phase;
  j["measurement"] = meas;
  return j;
}

}  // namespace zplan
