// Flags shared by `zplan` (plan), `zplan check` and `zplan --run`: what is trained, on what, and the
// strategy dimensions the user pins (docs/cli.md "Strategy pins"). build_scenario() turns them into a
// Scenario; every bad value becomes an InputError naming the flag (exit 2).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "planner/config/scenario.h"
#include "planner/cost/calibration.h"
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
  std::string profile, attn, framework, experts, norm_kernel, adamw_kernel, elementwise_kernel, cross_entropy_kernel;
  bool gradient_checkpointing = false;  // HF's gradient_checkpointing_enable(): --ckpt full
  bool drop_logits = false;             // the loop does not keep `outputs` (HF Trainer)
  std::string loop;                     // --loop trainer|accelerate|plain|plain-drop
  bool use_cache = false;               // config.use_cache left on while training
  // ---- strategy pins ----
  std::string zero, offload_optimizer, offload_params, ckpt, precision;
  bool cpu_ckpt = false;
  std::string sp, micro_batch, grad_accum;
  std::string loss_chunks;     // --loss-chunks N: lm_head + cross-entropy in N token chunks (0/1: whole logits)
  // ---- output and search ----
  std::string format = "text";   // text | json | markdown | html
  std::string out;               // write the report here instead of stdout
  bool explain = false;
  double margin = 0;             // fraction of the GPU kept free at least (the band decides otherwise)
  double memory_fraction = 1;    // torch.cuda.set_per_process_memory_fraction; 1 = no cap
  std::string objective;         // "" = throughput on one cluster, cost in a hardware search
  std::string emit_deepspeed;    // write a DeepSpeed config of the chosen plan
  bool expandable_segments = false;
  bool print_config = false;
  // ---- step time, hardware and price (docs/cost-model.md) ----
  std::string calibration;       // step-time calibration file (zplan calibrate)
  int max_gpus = 0;              // 0: 64 when --gpus is auto or a list
  std::vector<std::string> prices;  // "h100=2.49" (dollars per GPU-hour)
  std::string tokens;            // "2e9": print time and cost to train this many tokens
};

void add_scenario_options(CLI::App& app, ScenarioOptions& o);
// `run`: the scenario is for --run, so zplan's runtime is the stack predicted unless --profile says so.
Scenario build_scenario(const ScenarioOptions& o, bool run = false);
// True when zero stage, checkpointing, micro-batch and precision are pinned: predict, don't search.
bool all_pinned(const StrategyPins& p);
// Step-time constants for the scenario's GPU and profile (--calibration, else built-in, else defaults).
EstimateOptions estimate_options(const ScenarioOptions& o, const Scenario& s);

// --gpus auto, or a comma-separated list of GPU names without a count ("h100,h200,a100-80gb";
// "h100," for one type): search GPU type and count.
bool hardware_search_requested(const ScenarioOptions& o);
// The GPUs to search, with --price applied (InputError naming the flag for unknown names, bad prices).
std::vector<GpuSpec> hardware_list(const ScenarioOptions& o);
// --price GPU=DOLLARS on the GPUs given (InputError for a GPU not among them or a price <= 0).
void apply_prices(const ScenarioOptions& o, std::vector<GpuSpec>& gpus);
int max_gpus_or_default(const ScenarioOptions& o);
std::optional<double> tokens_to_train(const ScenarioOptions& o);  // --tokens, validated
std::optional<Calibration> user_calibration(const ScenarioOptions& o);  // --calibration, loaded

}  // namespace zplan
