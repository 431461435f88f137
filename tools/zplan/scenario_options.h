// Flags shared by `zplan` (plan), `zplan check` and `zplan --run`: what is trained, on what, and the
// strategy dimensions the user pins (DESIGN.md CLI contract). build_scenario() turns them into a
// Scenario; every bad value becomes an InputError naming the flag (exit 2).
#pragma once
#include <string>

#include <CLI/CLI.hpp>

#include "planner/config/scenario.h"
#include "planner/estimate.h"

namespace zplan {

struct ScenarioOptions {
  // ---- what and where ----
  std::string model;           // built-in name/alias, models/*.yaml, or a Hugging Face config.json
  std::string gpus;            // "8xH100"
  std::string cluster;         // a hardware/clusters name or file (alternative to --gpus)
  std::string host_ram;        // "12GiB"
  int nodes = 0;               // 0: from --gpus / cluster
  std::string config;          // configs/*.yaml scenario
  std::string deepspeed;       // a user's DeepSpeed JSON config (check)
  // ---- training ----
  int64_t seq = 0;
  std::string global_batch;    // sequences per optimizer step; a string so that "0" is an error, not "unset"
  std::string profile, attn, framework, experts;
  bool gradient_checkpointing = false;  // HF's gradient_checkpointing_enable(): --ckpt full
  bool drop_logits = false;             // the loop does not keep `outputs` (HF Trainer)
  std::string loop;                     // --loop trainer|accelerate|plain|plain-drop
  bool use_cache = false;               // config.use_cache left on while training
  // ---- strategy pins ----
  std::string zero, offload_optimizer, offload_params, ckpt, precision;
  bool cpu_ckpt = false;
  std::string sp, micro_batch, grad_accum;
  // ---- output and search ----
  std::string format = "text";   // text | json | markdown | html
  std::string out;               // write the report here instead of stdout
  bool explain = false;
  double margin = 0;             // fraction of the GPU kept free at least (the band decides otherwise)
  double memory_fraction = 1;    // torch.cuda.set_per_process_memory_fraction; 1 = no cap
  std::string objective = "throughput";
  std::string emit_deepspeed;    // write a DeepSpeed config of the chosen plan
  bool expandable_segments = false;
  bool print_config = false;
};

void add_scenario_options(CLI::App& app, ScenarioOptions& o);
// `run`: the scenario is for --run, so zplan's runtime is the stack predicted unless --profile says so.
Scenario build_scenario(const ScenarioOptions& o, bool run = false);
// True when zero stage, checkpointing, micro-batch and precision are pinned: predict, don't search.
bool all_pinned(const StrategyPins& p);
EstimateOptions estimate_options(const ScenarioOptions& o, bool searching);

}  // namespace zplan
