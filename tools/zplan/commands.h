// Subcommands of the zplan CLI: each has a setup_* that binds its flags to an options struct and a
// run_* that does the work and returns the exit status (0 fits, 3 OOM, 2 bad input, 4 run failed).
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "scenario_options.h"

namespace zplan {

struct PlanCommand {
  ScenarioOptions scenario;
  bool run = false;            // --run: train with the chosen plan and measure
  int steps = 3;               // --steps
  std::string data;            // --data token file
  std::string run_out;         // --run-out: run record JSON
  int comm_timeout = 300;      // --comm-timeout: seconds a collective may take before the run fails
  std::string command_line;    // argv joined, recorded in run records
  std::vector<std::string> argv_tail;  // argv[1..], handed to zplan-run
};

void setup_plan(CLI::App& app, PlanCommand& cmd);     // the top-level `zplan ...` (plan / predict / run)
int run_plan(PlanCommand& cmd, bool check_only);      // check_only: predict with defaults, never search

struct ValidateCommand {
  std::string dir;             // folder of run records
  std::string out;             // Markdown report path
  std::string bands;           // calibration/reserved_bands.json: check (or --accept: write) the bands
  std::string ratchet;         // calibration/accepted_errors.json: check (or --accept: write) accepted errors
  bool accept = false;
  std::string first_comparison;  // tests/regression/first_comparison.json: printed beside today's error
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
// A plan on several GPUs of one node, not under a launcher: start its ranks (this binary, once per
// rank, torchrun's environment) and return their status; -1 when this process is to train itself.
int start_local_ranks_if_needed(PlanCommand& cmd, const struct Scenario& s);

}  // namespace zplan
