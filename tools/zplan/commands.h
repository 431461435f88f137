// Subcommands of the zplan CLI: each has a setup_* that binds its flags to an options struct and a
// run_* that does the work and returns the exit status (0 fits, 3 OOM, 2 bad input, 4 run failed).
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "runtime/train/trainer_options.h"
#include "scenario_options.h"

namespace zplan {

struct PlanCommand {
  ScenarioOptions scenario;
  bool run = false;            // --run: train with the chosen plan and measure
  int steps = 3;               // --steps
  std::string data;            // --data token file
  std::string run_out;         // --run-out: run record JSON
  double learning_rate = 1e-4; // --lr
  uint64_t seed = 0;           // --seed
  TrainerOptions trainer;      // trainer_flags.cpp
  std::string command_line;    // argv joined, recorded in run records
  std::vector<std::string> argv_tail;  // argv[1..], handed to zplan-run
};

void setup_plan(CLI::App& app, PlanCommand& cmd);
void add_trainer_flags(CLI::App& app, PlanCommand& cmd);  // trainer_flags.cpp     // the top-level `zplan ...` (plan / predict / run)
int run_plan(PlanCommand& cmd, bool check_only);      // check_only: predict with defaults, never search

struct ValidateCommand {
  std::string dir;             // folder of run records
  std::string out;             // Markdown report path
};
void setup_validate(CLI::App& app, ValidateCommand& cmd);
int run_validate(const ValidateCommand& cmd);

int run_models();
int run_hardware();

// `zplan --run` (run_command.cpp): zplan-run trains and compares; zplan, built without libtorch,
// hands the command line over to zplan-run (hand_over_to_runtime returns -1 where nothing is
// handed over) or exits 2 when there is none.
int run_training_command(PlanCommand& cmd, const struct Scenario& s, const struct Estimate& e);
int hand_over_to_runtime(PlanCommand& cmd);

}  // namespace zplan
