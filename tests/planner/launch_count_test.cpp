// The step-time model's launch count against the kernels torch.profiler counted in transformers'
// forward + backward (tools/gpu/measure_host_phases.py, one H100, 512 tokens, bf16 weights, no
// recompute; the KV cache was on, so two torch.cat launches per layer forward are in the measured
// counts and not in the model's): docs/measurements/2026-12-07/call25 and call26. The launch term (`kernels`) is a
// count times one fitted cost, so its error per family is what the fit cannot absorb.
// Prints the table docs/cost-model.md ("Call26") cites: ctest -R launch_count_test -V.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "planner/cost/deepspeed_step.h"
#include "planner/cost/step_terms.h"
#include "planner/memory/params.h"
#include "test_scenarios.h"

using namespace zplan;

namespace {

// Measured forward + backward kernels per model (the first row of each model in the files).
std::map<std::string, double> measured_launches() {
  std::map<std::string, double> out;
  for (const char* file : {"/docs/measurements/2026-12-07/call25/host_phases_families.json",
                           "/docs/measurements/2026-12-07/call26/kernel_names_families.json"}) {
    std::ifstream f(std::string(ZPLAN_SOURCE_DIR) + file);
    REQUIRE(f.good());
    for (const nlohmann::json& row : nlohmann::json::parse(f)) {
      if (row.at("seq").get<int>() != 512 || row.at("gradient_checkpointing").get<bool>()) continue;
      out.emplace(row.at("model").get<std::string>(),
                  row.at("forward_kernels").get<double>() + row.at("backward_kernels").get<double>());
    }
  }
  return out;
}

// The model's launches of forward + backward (the optimizer's own launches taken out: the
// measurement has no optimizer step).
double modelled_launches(const std::string& model, int64_t layers) {
  Scenario s = scenario(model, "1xH100", 512);
  if (layers > 0) s.model.layers = layers;
  Strategy st;
  st.precision = Precision::bf16_pure;
  st.micro_batch = 1;
  const StepMechanisms k;
  const StepTerms t = step_terms(s.model, s.cluster, s.training, st, k);
  return t.total[kKernelTerm] - k.optimizer_kernels_per_tensor * static_cast<double>(model_tables(s.model).tensors.size());
}

}  // namespace

TEST_CASE("launches per step: within 15% of the measured count for every measured family") {
  const std::map<std::string, double> measured = measured_launches();
  struct Case {
    const char* measured_name;
    const char* model;
    int64_t layers;  // 0: the model's own
  };
  const Case cases[] = {{"gpt2", "gpt2", 0},
                        {"gpt2-medium", "gpt2-medium", 0},
                        {"gpt2-large", "gpt2-large", 0},
                        {"qwen3-0.6b", "qwen3-0.6b", 0},
                        {"qwen3-1.7b", "qwen3-1.7b", 0},
                        {"llama-3.2-1b", "llama-3.2-1b", 0},
                        {"gemma-3-1b", "gemma-3-1b", 0},
                        {"mistral-7b-4l", "mistral-7b", 4}};
  std::printf("%-14s %9s %9s %8s\n", "model", "measured", "modelled", "error");
  for (const Case& c : cases) {
    CAPTURE(c.measured_name);
    REQUIRE(measured.count(c.measured_name) == 1);
    const double m = measured.at(c.measured_name), p = modelled_launches(c.model, c.layers);
    std::printf("%-14s %9.0f %9.0f %+7.1f%%\n", c.measured_name, m, p, 100.0 * (p / m - 1.0));
    CHECK(std::abs(p / m - 1.0) < 0.15);
  }
}

// tools/gpu/host_phases_fit.py fits files measured before measure_host_phases.py counted module
// calls with its own table of them: it must stay the planner's count (hf_top_modules + layers x
// hf_layer_modules, the module passes DeepSpeed ZeRO-3's hooks are priced by).
TEST_CASE("host_phases_fit.py's module calls per forward are the planner's") {
  std::ifstream f(std::string(ZPLAN_SOURCE_DIR) + "/tools/gpu/host_phases_fit.py");
  REQUIRE(f.good());
  std::stringstream text;
  text << f.rdbuf();
  const std::string source = text.str();
  const size_t table = source.find("MODULE_CALLS = {");
  REQUIRE(table != std::string::npos);
  const std::string entries = source.substr(table, source.find('}', table) - table);
  const std::regex entry("\"([a-z0-9.-]+)\": ([0-9]+)");
  int checked = 0;
  for (std::sregex_iterator it(entries.begin(), entries.end(), entry), end; it != end; ++it) {
    const std::string model = (*it)[1];
    CAPTURE(model);
    const ModelSpec m = scenario(model, "1xH100", 512).model;
    double modules = hf_top_modules(m);
    for (int64_t i = 0; i < m.layers; ++i) modules += hf_layer_modules(m, i);
    CHECK(std::stod((*it)[2]) == modules);
    ++checked;
  }
  CHECK(checked >= 8);
}
