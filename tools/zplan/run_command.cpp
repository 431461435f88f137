// `zplan --run`: train with the chosen plan on this machine (runtime/, libtorch), then print
// measured against predicted memory per component and phase, and write a run record.
// A plan on several GPUs runs one process per GPU: under a launcher (torchrun, srun: RANK and
// WORLD_SIZE set) this process is one rank; otherwise it starts the node's ranks itself
// (runtime/dist/local_launcher.h) and returns the first failing rank's status. Rank 0 prints and
// writes the record; the other ranks stay quiet. Builds without libtorch get a clear message and exit 2.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <sched.h>
#include <unistd.h>
#include <vector>

#include "commands.h"
#include "planner/format.h"
#include "planner/input_error.h"
#include "planner/memory/memory_category.h"
#include "planner/memory/precision_recipe.h"
#include "planner/report/run_record_writer.h"
#ifdef ZPLAN_HAVE_RUNTIME
#include "runtime/dist/launch_env.h"
#include "runtime/dist/local_launcher.h"
#include "runtime/run_api.h"
#include "zplan_source_commit.h"  // generated at build time (cmake/source_commit.cmake)
#endif

namespace zplan {

#ifdef ZPLAN_HAVE_RUNTIME
namespace {

void compare_row(const char* name, uint64_t predicted, uint64_t measured) {
  if (measured == 0) {  // the run did not get there (or a CPU run cannot read it)
    std::printf("  %-24s %12s %12s %9s\n", name, format_bytes(predicted).c_str(), "-", "n/a");
    return;
  }
  const double err = (static_cast<double>(predicted) - static_cast<double>(measured)) / static_cast<double>(measured);
  std::printf("  %-24s %12s %12s %+8.1f%%\n", name, format_bytes(predicted).c_str(), format_bytes(measured).c_str(), 100.0 * err);
}

// What trained the run: the runtime's speed changes with its code (a new kernel, a fused path) even
// where no scenario field changes, so a record names the source commit and the libtorch it ran on.
nlohmann::json run_versions(const RunResult& r) {
  return {{"zplan", ZPLAN_VERSION}, {"zplan_source_commit", ZPLAN_SOURCE_COMMIT}, {"libtorch", r.libtorch_version}};
}

// The host: where a step is bound by dispatch (small models, short sequences) its time follows the
// CPU, and the lent machines' CPUs differ. First "model name" of /proc/cpuinfo (null elsewhere) and
// the logical CPUs this process may run on, as tools/hf_reference/harness.py host_description writes them.
nlohmann::json host_description() {
  nlohmann::json cpu = nullptr;
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    const size_t start = colon == std::string::npos ? std::string::npos : line.find_first_not_of(" \t", colon + 1);
    if (start != std::string::npos) cpu = line.substr(start);
    break;
  }
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  const int cpus = sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? CPU_COUNT(&allowed) : 0;
  return {{"cpu", cpu}, {"logical_cpus", cpus > 0 ? nlohmann::json(cpus) : nlohmann::json(nullptr)}};
}

}  // namespace

int start_local_ranks_if_needed(PlanCommand& cmd, const Scenario& s) {
  const int world = s.cluster.world_size();
  const rt::LaunchEnv env = rt::launch_env_from_environment();
  if (env.from_launcher) {
    if (env.world_size != world)
      throw InputError("environment variable WORLD_SIZE", "", std::to_string(env.world_size) +
                       " ranks were launched but the plan's --gpus/--nodes give " + std::to_string(world));
    // One copy of the plan and of the comparison: rank 0's.
    if (env.rank != 0 && std::freopen("/dev/null", "w", stdout) == nullptr) return -1;
    return -1;
  }
  if (world <= 1) return -1;
  if (s.cluster.nodes > 1)
    throw InputError("--nodes", "", "a run over several nodes needs a launcher on each node, e.g. "
                     "torchrun --nnodes " + std::to_string(s.cluster.nodes) + " --nproc_per_node " +
                     std::to_string(s.cluster.gpus_per_node) + " --no-python zplan-run <the same flags>");
  if (cmd.steps < 0 || cmd.steps > 100000) throw InputError("--steps", "", "expected 0..100000 (0: evaluate or export the initial weights)");
  rt::LocalLaunch l;
  l.program = "/proc/self/exe";
  l.args = cmd.argv_tail;
  l.ranks = world;
  l.grace_seconds = cmd.comm_timeout + 30;
  std::fprintf(stderr, "zplan: starting %d ranks on this node (RANK, WORLD_SIZE, MASTER_ADDR/PORT as torchrun sets them)\n", world);
  return rt::launch_local_ranks(l);
}

int run_training_command(PlanCommand& cmd, const Scenario& s, const Estimate& e) {
  RunOptions ro;
  ro.steps = cmd.steps;
  ro.data_path = cmd.data;
  ro.comm_timeout_seconds = cmd.comm_timeout;
  ro.learning_rate = cmd.learning_rate;
  ro.seed = cmd.seed;
  ro.trainer = cmd.trainer;
  if (cmd.steps < 0 || cmd.steps > 100000) throw InputError("--steps", "", "expected 0..100000 (0: evaluate or export the initial weights)");
  if (cmd.comm_timeout < 1) throw InputError("--comm-timeout", "", "expected seconds >= 1");
  const rt::LaunchEnv env = rt::launch_env_from_environment();
  if (env.rank == 0)
    std::fprintf(stderr, "zplan: running %d steps of %s on %d rank%s ...\n", cmd.steps, s.model.name.c_str(),
                 env.world_size, env.world_size > 1 ? "s" : "");
  const RunResult r = run_training(s.model, s.training, e.strategy, ro);
  if (r.rank != 0) return r.oom || !r.error.empty() ? 4 : 0;
  const MemoryBreakdown& p = e.memory;
  const MemoryBreakdown& m = r.measured;
  std::printf("\nmeasured on %s against predicted (%s profile):\n", r.device_name.c_str(), to_string(s.training.profile));
  std::printf("  %-24s %12s %12s %9s\n", "component", "predicted", "measured", "error");
  // Model states as whole tensors (the runtime measures their exact bytes; the prediction's
  // breakdown is the composition at its peak, where gradients may not all exist yet).
  const PrecisionRecipe recipe = precision_recipe(e.strategy.precision);
  // Rows named as every report names the category (memory_category.h).
  auto state_row = [&](Category c, const std::string& suffix, uint64_t predicted) {
    const CategoryInfo& k = category_info(c);
    compare_row((k.label + suffix).c_str(), predicted, m.*(k.member));
  };
  state_row(Category::weights, "", p.weights_bytes);
  // At the optimizer step ZeRO 1-3 ranks hold only their gradient chunks (the runtime drops the
  // full gradients once they are reduce-scattered).
  const uint64_t world = static_cast<uint64_t>(s.cluster.world_size());
  const bool sharded_grads = world > 1 && e.strategy.zero_stage >= 1;
  const uint64_t grad_elems = sharded_grads ? (static_cast<uint64_t>(e.parameters) + world - 1) / world
                                            : static_cast<uint64_t>(e.parameters);
  state_row(Category::grads, sharded_grads ? " (own chunks)" : " (all)", grad_elems * recipe.grad_bytes);
  state_row(Category::master_weights, "", p.master_weights_bytes);
  state_row(Category::optimizer_states, "", p.optimizer_states_bytes);
  const bool on_gpu = r.device_name != "cpu";
  if (!on_gpu) std::printf("  (no CUDA device: trained on the CPU, so allocator phases and peaks cannot be measured)\n");
  for (const PhaseMemory& pp : on_gpu ? p.phases : std::vector<PhaseMemory>{}) {
    uint64_t measured = 0;  // the last reading of that phase (a failed run ends with a partial one)
    for (const PhaseMemory& pm : m.phases)
      if (pm.phase == pp.phase) measured = pm.peak_allocated_bytes;
    const std::string name = std::string("peak in ") + to_string(pp.phase);
    compare_row(name.c_str(), pp.peak_allocated_bytes, measured);
  }
  if (on_gpu) {
    compare_row("peak allocated", p.peak_allocated_bytes, m.peak_allocated_bytes);
    compare_row("peak reserved", p.reserved_bytes, m.reserved_bytes);
  }
  for (size_t i = 0; i < r.per_rank_peak_bytes.size() && on_gpu; ++i)
    std::printf("  rank %zu: peak allocated %s, reserved %s\n", i, format_bytes(r.per_rank_peak_bytes[i]).c_str(),
                format_bytes(r.per_rank_reserved_bytes[i]).c_str());
  std::printf("  step %.3f s, %.0f tokens/s per rank (predicted %.3f s)\n", r.step_seconds, r.tokens_per_second, e.time.step_seconds);
  Measurement meas;
  meas.memory = m;
  meas.step_seconds = r.step_seconds;
  meas.tokens_per_second = r.tokens_per_second;
  meas.oom = r.oom;
  if (r.oom || !r.error.empty()) meas.failed_phase = to_string(r.failed_phase);
  nlohmann::json record = make_run_record(s, e, meas, r.device_name, run_versions(r), cmd.command_line);
  if (!r.per_rank_peak_bytes.empty()) {
    record["measurement"]["memory"]["gpu"]["per_rank_peak_bytes"] = r.per_rank_peak_bytes;
    record["measurement"]["memory"]["gpu"]["per_rank_reserved_bytes"] = r.per_rank_reserved_bytes;
  }
  record["measurement"]["backend"] = r.backend;
  record["host"] = host_description();
  if (!r.experts_implementation.empty()) record["scenario"]["experts_implementation"] = r.experts_implementation;
  if (!r.norm_implementation.empty()) record["scenario"]["norm_implementation"] = r.norm_implementation;
  if (!r.adamw_implementation.empty()) record["scenario"]["adamw_implementation"] = r.adamw_implementation;
  if (!r.elementwise_implementation.empty()) record["scenario"]["elementwise_implementation"] = r.elementwise_implementation;
  if (!r.cross_entropy_implementation.empty()) record["scenario"]["cross_entropy_implementation"] = r.cross_entropy_implementation;
  const std::string path = cmd.run_out.empty() ? "zplan_run.json" : cmd.run_out;
  std::ofstream(path) << record.dump(2) << "\n";
  std::fprintf(stderr, "zplan: wrote run record %s\n", path.c_str());
  if (r.trainer.interrupted) {
    std::fprintf(stderr, "zplan: interrupted (Ctrl-C) after step %d of %d; checkpoint saved to %s (continue with --resume %s)\n",
                 r.trainer.steps_done, cmd.steps, r.trainer.checkpoint_written.c_str(), r.trainer.checkpoint_written.c_str());
    return 130;  // 128 + SIGINT, as shells report a Ctrl-C
  }
  if (r.oom || !r.error.empty()) {
    std::fprintf(stderr, "zplan: run failed in phase %s: %s\n", to_string(r.failed_phase), r.error.c_str());
    return 4;
  }
  return 0;
}
int hand_over_to_runtime(PlanCommand&) { return -1; }  // this binary runs it itself
void plan_for_this_runtime(Scenario& s) { s.training = with_runnable_kernels(s.training); }
#else
namespace {
std::string runner_path() {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
  return dir.substr(0, dir.find_last_of('/') + 1) + "zplan-run";
}
}  // namespace

int start_local_ranks_if_needed(PlanCommand&, const Scenario&) { return -1; }
void plan_for_this_runtime(Scenario&) {}

int run_training_command(PlanCommand&, const Scenario&, const Estimate&) {
  throw InputError("--run", "", "this zplan was built without libtorch (no " + runner_path() +
                                    "; runtime/ is built when find_package(Torch) succeeds)");
}

// This binary has no runtime: hand the whole command line to zplan-run beside it, before
// anything is printed, so the plan appears once. Without one, planning goes on and
// run_training_command() reports the missing runtime (after the plan's own verdict).
int hand_over_to_runtime(PlanCommand& cmd) {
  const std::string runner = runner_path();
  if (access(runner.c_str(), X_OK) != 0) return -1;
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(runner.c_str()));
  for (std::string& a : cmd.argv_tail) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  execv(runner.c_str(), argv.data());
  throw InputError("--run", "", "could not start " + runner);
}
#endif

}  // namespace zplan
