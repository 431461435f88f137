// `zplan --run --framework deepspeed`: check a plan on the stack the user will train with. zplan
// plans for Hugging Face + DeepSpeed with the Trainer's loop, writes the DeepSpeed config, starts
// tools/hf_reference/deepspeed_run.py on this machine's GPUs with DeepSpeed's launcher
// (python3 -m deepspeed.launcher.runner), reads the run record it writes, prints measured against
// predicted memory and writes the record with zplan's estimate in it. Python with deepspeed and
// transformers must be importable; when they are not, it says which and exits 2.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sys/wait.h>

#include "commands.h"
#include "planner/cost/deepspeed_step.h"
#include "planner/format.h"
#include "planner/input_error.h"
#include "planner/io/deepspeed_config.h"
#include "planner/io/breakdown_json.h"
#include "planner/report/plan_report.h"
#include "planner/io/run_record.h"

namespace zplan {
namespace {

// Where the Python entry point lives: ZPLAN_TOOLS_DIR, else the source tree this binary was built from.
std::string tools_dir() {
  if (const char* env = std::getenv("ZPLAN_TOOLS_DIR"); env && *env) return env;
  return ZPLAN_TOOLS_DIR;
}

std::string python() {
  const char* env = std::getenv("ZPLAN_PYTHON");
  return env && *env ? env : "python3";
}

std::string shell_quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The exit status of a shell command, with its combined output captured in `output`.
int run_captured(const std::string& command, std::string* output) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::array<char, 512> buf;
  while (fgets(buf.data(), buf.size(), p)) *output += buf.data();
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void require_python_stack() {
  std::string out;
  const std::string probe = python() + " -c " + shell_quoted("import deepspeed, transformers");
  if (run_captured(probe, &out) == 0) return;
  std::string last = out;
  while (!last.empty() && last.back() == '\n') last.pop_back();
  if (const size_t nl = last.find_last_of('\n'); nl != std::string::npos) last = last.substr(nl + 1);
  throw InputError("--run --framework deepspeed", "",
                   "needs " + python() + " with deepspeed and transformers importable (set ZPLAN_PYTHON to "
                   "choose the interpreter); `" + probe + "` failed: " + (last.empty() ? "no output" : last));
}

void compare_row(const char* name, uint64_t predicted, uint64_t measured) {
  if (measured == 0) {
    std::printf("  %-26s %12s %12s %9s\n", name, format_bytes(predicted).c_str(), "-", "n/a");
    return;
  }
  const double err = (static_cast<double>(predicted) - static_cast<double>(measured)) / static_cast<double>(measured);
  std::printf("  %-26s %12s %12s %+8.1f%%\n", name, format_bytes(predicted).c_str(), format_bytes(measured).c_str(), 100.0 * err);
}

}  // namespace

int run_with_deepspeed(PlanCommand& cmd) {
  ScenarioOptions o = cmd.scenario;
  if (o.profile.empty()) o.profile = "hf";
  if (o.profile != "hf")
    throw InputError("--profile", "", "--run --framework deepspeed trains with Hugging Face transformers: expected hf, got '" +
                                          o.profile + "'");
  if (o.loop.empty()) o.loop = "trainer";
  if (o.loop != "trainer")
    throw InputError("--loop", "", "--run --framework deepspeed trains with the Hugging Face Trainer: expected trainer, got '" +
                                       o.loop + "'");
  if (!cmd.data.empty()) throw InputError("--data", "", "--run --framework deepspeed trains on random tokens only");
  if (cmd.steps < 1 || cmd.steps > 100000) throw InputError("--steps", "", "expected 1..100000");
  Scenario s = build_scenario(o, false);
  if (s.cluster.nodes > 1)
    throw InputError("--nodes", "", "--run --framework deepspeed starts the GPUs of this machine only");
  // The Trainer recomputes all layers or none and cannot move checkpoints to the host.
  if (!s.pins.cpu_checkpointing) s.pins.cpu_checkpointing = false;
  if (s.pins.cpu_checkpointing.value_or(false))
    throw InputError("--cpu-ckpt", "", "the Hugging Face Trainer cannot keep checkpoints on the host");
  SearchOptions so;
  so.estimate = estimate_options(o, s);
  const Plan plan = search_for_trainer(s, so);
  std::cout << plan_to_text(plan, s, false);
  if (!plan.feasible) {
    std::cerr << "zplan: not running: the plan does not fit (" << plan.chosen.verdict << ")\n";
    return 3;
  }
  const Strategy& st = plan.chosen.strategy;
  if (st.checkpointed_layers != 0 && st.checkpointed_layers != s.model.layers)
    throw InputError("--ckpt", "", "the Hugging Face Trainer recomputes all layers or none");
  require_python_stack();

  const std::string record_path = cmd.run_out.empty() ? "zplan_deepspeed_run.json" : cmd.run_out;
  const std::string config_path = record_path + ".deepspeed.json";
  {
    std::ofstream f(config_path);
    f << deepspeed_config_for(s, st).dump(2) << "\n";
    if (!f) throw InputError("--run-out", "", "cannot write " + config_path);
  }
  const std::string model_arg = o.model.size() > 5 && o.model.substr(o.model.size() - 5) == ".json" ? o.model : s.model.name;
  const std::string launch =
      "OUT=" + shell_quoted(record_path + ".trainer") + " " + python() + " -m deepspeed.launcher.runner --num_gpus " +
      std::to_string(s.cluster.gpus_per_node) + " " + shell_quoted(tools_dir() + "/hf_reference/deepspeed_run.py") +
      " --model " + shell_quoted(model_arg) + " --seq " + std::to_string(s.training.seq_len) + " --deepspeed " +
      shell_quoted(config_path) + " --steps " + std::to_string(cmd.steps) + " --ckpt " +
      (st.checkpointed_layers > 0 ? "full" : "off") + " --out " + shell_quoted(record_path) + " --command " +
      shell_quoted(cmd.command_line);
  std::cerr << "zplan: wrote DeepSpeed config " << config_path << "; training " << cmd.steps << " steps:\n  " << launch << "\n";
  std::fflush(stdout);
  std::remove(record_path.c_str());
  const int status = std::system(launch.c_str());
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream probe(record_path);
  if (!probe) {
    std::cerr << "zplan: the DeepSpeed run wrote no record (launcher exit " << rc << "); its output is above\n";
    return 4;
  }
  probe.close();
  nlohmann::json record = read_run_record(record_path);
  const int first_steady_step = deepspeed_first_steady_step(s.training, st);
  const Measurement m = measurement_from_record(record, record_path, first_steady_step);
  record["estimate"] = memory_to_json(plan.chosen.memory);
  record["zplan_command"] = cmd.command_line;
  {
    std::ofstream f(record_path);
    f << record.dump(1) << "\n";
  }
  std::printf("\nMeasured against predicted (DeepSpeed %s, %s)\n", record.value("versions", nlohmann::json::object()).value("deepspeed", "?").c_str(),
              strategy_summary(st, s.model.layers).c_str());
  std::printf("  %-26s %12s %12s %9s\n", "", "predicted", "measured", "error");
  if (m.oom) {
    std::printf("  the run ran out of memory%s; zplan predicted it fits\n",
                m.failed_phase.empty() ? "" : (" in " + m.failed_phase).c_str());
    return 3;
  }
  compare_row("peak allocated", plan.chosen.memory.peak_allocated_bytes, m.memory.peak_allocated_bytes);
  compare_row("peak reserved", plan.chosen.memory.reserved_bytes, m.memory.reserved_bytes);
  compare_row("outside the allocator", plan.chosen.memory.cuda_context_bytes,
              record["measurement"]["memory"]["gpu"].value("outside_allocator_bytes", uint64_t{0}));
  compare_row("host RAM per process", plan.chosen.memory.host.steady_bytes / static_cast<uint64_t>(s.cluster.gpus_per_node),
              m.memory.host.peak_bytes);
  std::printf("  %-26s %12.3f %12.3f\n", "step seconds", plan.chosen.time.step_seconds, m.step_seconds);
  if (m.step_seconds != m.recorded_step_seconds)  // ZeRO-3: the steady step, from step 3 on
    std::printf("  (the steady step from step %d on; the steps after the first took %.3f s: ZeRO-3's step 2 pays a one-time trace scan)\n",
                first_steady_step, m.recorded_step_seconds);
  std::cerr << "zplan: wrote run record " << record_path << "\n";
  return rc == 0 ? 0 : 4;
}

}  // namespace zplan
