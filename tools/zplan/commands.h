// Subcommands of the zplan CLI: each has a setup_* that binds its flags to an options struct and a
// run_* that does the work and returns the exit status (0 fits, 3 OOM, 2 bad input, 4 run failed).
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "planner/search/search.h"
#include "runtime/train/trainer_options.h"
#include "scenario_options.h"

namespace zplan {

struct PlanCommand {
  ScenarioOptions scenario;
  bool run = false;            // --run: train with the chosen plan and measure
  int steps = 3;               // --steps
  std::string data;            // --data token file
  std::string run_out;         // --run-out: run record JSON
  int comm_timeout = 300;      // --comm-timeout: seconds a collective may take before the run fails
  double learning_rate = 1e-4; // --lr
  uint64_t seed = 0;           // --seed
  TrainerOptions trainer;      // trainer_flags.cpp
  std::string command_line;    // argv joined, recorded in run records
  std::vector<std::string> argv_tail;  // argv[1..], handed to zplan-run
};

void setup_plan(CLI::App& app, PlanCommand& cmd);
void emit_report(const std::string& text, const std::string& out_path);  // stdout, or --out
// `--gpus auto` or a list: search GPU type and count (hardware_command.cpp).
int run_hardware_search(const PlanCommand& cmd, const Scenario& s);
// "training 2e9 tokens: 3.2 h on 8 GPUs, $77 at $3.00 per GPU-hour" (price 0: time only).
std::string training_time_and_cost_text(double tokens, double tokens_per_second, int gpus, double price_per_gpu_hour);
nlohmann::json training_run_json(double tokens, double tokens_per_second, int gpus, double price_per_gpu_hour);
void add_trainer_flags(CLI::App& app, PlanCommand& cmd);  // trainer_flags.cpp
int run_plan(PlanCommand& cmd, bool check_only);      // check_only: predict with defaults, never search
// The best plan the Hugging Face Trainer can run: no recompute or all layers (plan_command.cpp).
Plan search_for_trainer(Scenario s, const SearchOptions& so);
// `--run --framework deepspeed`: plan, write the DeepSpeed config, train with the HF Trainer under
// DeepSpeed's launcher (tools/hf_reference/deepspeed_run.py), compare (deepspeed_run_command.cpp).
int run_with_deepspeed(PlanCommand& cmd);

struct ValidateCommand {
  std::string dir;             // folder of run records
  std::string out;             // Markdown report path
  std::string bands;           // calibration/reserved_bands.json: check (or --accept: write) the bands
  std::string ratchet;         // calibration/accepted_errors.json: check (or --accept: write) accepted errors
  bool accept = false;
  std::string first_comparison;  // tests/regression/first_comparison.json: printed beside today's error
  std::string calibration;     // step-time calibration file; "none" = uncalibrated defaults
};
void setup_validate(CLI::App& app, ValidateCommand& cmd);
int run_validate(const ValidateCommand& cmd);

struct CalibrateCommand {
  std::string dir;             // folder of run records with measured step times
  std::string gpu;             // hardware profile whose records are fitted
  std::string out;             // calibration YAML to write
  std::string holdout = "holdout";  // records whose path contains this are scored, not fitted
  std::string report;          // Markdown table of the errors
  size_t worst = 0;            // list this many largest held-out errors per profile and split
};
void setup_calibrate(CLI::App& app, CalibrateCommand& cmd);
int run_calibrate(const CalibrateCommand& cmd);

int run_models();
int run_hardware();

// `zplan --run` (run_command.cpp): zplan-run trains and compares; zplan, built without libtorch,
// hands the command line over to zplan-run (hand_over_to_runtime returns -1 where nothing is
// handed over) or exits 2 when there is none.
int run_training_command(PlanCommand& cmd, const struct Scenario& s, const struct Estimate& e);
int hand_over_to_runtime(PlanCommand& cmd);
// zplan-run: the scenario's kernel choices as this runtime can run them here (with_runnable_kernels,
// run_api.h); zplan without a runtime leaves them as asked.
void plan_for_this_runtime(struct Scenario& s);
// A plan on several GPUs of one node, not under a launcher: start its ranks (this binary, once per
// rank, torchrun's environment) and return their status; -1 when this process is to train itself.
int start_local_ranks_if_needed(PlanCommand& cmd, const struct Scenario& s);

}  // namespace zplan
