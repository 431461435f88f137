// The top-level command: predict one pinned configuration, or search the cheapest feasible plan;
// print it as text / Markdown / JSON (/ HTML), optionally write a DeepSpeed config, optionally run.
#include <cstdio>
#include <fstream>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "planner/config/runtime_support.h"
#include "planner/input_error.h"
#include "planner/report/estimate_report.h"
#include "planner/io/deepspeed_config.h"
#include "planner/io/scenario_loader.h"
#include "planner/report/explain_report.h"
#include "planner/report/html_report.h"
#include "planner/report/plan_report.h"
#include "planner/search/search.h"

namespace zplan {

void emit_report(const std::string& text, const std::string& out_path) {
  if (out_path.empty()) {
    std::cout << text;
    if (!text.empty() && text.back() != '\n') std::cout << "\n";
    return;
  }
  std::ofstream f(out_path);
  if (!f) throw InputError("--out", "", "cannot write " + out_path);
  f << text;
  if (!f) throw InputError("--out", "", "failed writing " + out_path);
  std::cerr << "zplan: wrote " << out_path << "\n";
}

void setup_plan(CLI::App& app, PlanCommand& cmd) {
  add_scenario_options(app, cmd.scenario);
  app.add_flag("--run", cmd.run, "Train with the chosen plan on this machine's GPUs and compare measured with predicted memory");
  app.add_option("--steps", cmd.steps, "Optimizer steps for --run (default 3)");
  app.add_option("--data", cmd.data, "Token file (uint16 or uint32, FILE.json sidecar) for --run; synthetic tokens otherwise");
  app.add_option("--run-out", cmd.run_out, "Where --run writes its run record (JSON)");
  app.add_option("--comm-timeout", cmd.comm_timeout,
                 "Seconds a collective of a several-GPU --run may take before every rank stops with exit 4 (default 300)");
  add_trainer_flags(app, cmd);
}

// The best plan with no recompute and with all layers recomputed (what --gradient_checkpointing
// can run), unless the user pinned the count.
Plan search_for_trainer(Scenario s, const SearchOptions& so) {
  if (s.pins.checkpointed_layers) return search_plan(s, so);
  s.pins.checkpointed_layers = 0;
  Plan none = search_plan(s, so);
  s.pins.checkpointed_layers = s.model.layers;
  Plan all = search_plan(s, so);
  if (none.feasible != all.feasible) return none.feasible ? none : all;
  if (none.feasible) return better(none.chosen, all.chosen, so.objective) ? none : all;
  return all;
}


int run_plan(PlanCommand& cmd, bool check_only) {
  const ScenarioOptions& o = cmd.scenario;
  if (cmd.run && o.framework == "deepspeed") return run_with_deepspeed(cmd);  // the user's stack
  // --init-from DIR alone: the checkpoint's config.json is the model (with --model or a scenario
  // file, the runtime checks that config.json agrees with it).
  if (!cmd.trainer.init_from.empty() && !std::filesystem::is_directory(cmd.trainer.init_from))
    throw InputError("--init-from", "", cmd.trainer.init_from + " is not a directory (expected a Hugging Face checkpoint "
                                        "directory: config.json and model.safetensors)");
  if (!cmd.trainer.init_from.empty() && o.model.empty() && o.config.empty()) cmd.scenario.model = cmd.trainer.init_from;
  Scenario s = build_scenario(o, cmd.run);  // bad input fails here, before any hand-over
  if (cmd.run) {
    int rc = hand_over_to_runtime(cmd);
    if (rc < 0) rc = start_local_ranks_if_needed(cmd, s);
    if (rc >= 0) return rc;
  }
  if (o.print_config) {
    emit_report(scenario_to_yaml(s), o.out);
    return 0;
  }
  if (cmd.run && s.training.profile != Profile::zplan) {
    std::cerr << "zplan: --run trains with zplan's runtime, so the plan is made for --profile zplan\n";
    s.training.profile = Profile::zplan;
  }
  if (cmd.run && s.training.framework != Framework::plain && s.cluster.world_size() == 1) s.training.framework = Framework::plain;
  if (cmd.run) plan_for_this_runtime(s);  // e.g. PyTorch's loss where this build has no CUDA kernels
  const bool emitting = !o.emit_deepspeed.empty();
  // The Hugging Face Trainer recomputes all layers or none (--gradient_checkpointing) and cannot
  // move checkpoints to the host, so a config it launches is planned with those choices only.
  if (emitting && !s.pins.cpu_checkpointing) s.pins.cpu_checkpointing = false;
  // Nor has it a chunked loss (zplan's runtime's, planner/memory/loss_path.h).
  if (emitting && !s.pins.loss_chunks) s.pins.loss_chunks = 0;
  if (hardware_search_requested(o)) return run_hardware_search(cmd, s);  // pins per candidate cluster
  // --profile zplan (and so --run) searches only what the runtime executes (docs/runtime.md).
  pin_search_to_runtime(s);
  const bool predict_one = check_only || all_pinned(s.pins);
  const EstimateOptions eopts = estimate_options(o, s);
  Plan plan;
  if (predict_one) {
    plan.chosen = estimate(s.model, s.cluster, s.training, strategy_with_defaults(s), eopts);
    plan.feasible = plan.chosen.feasible;
    plan.evaluated = 1;
  } else {
    SearchOptions so;
    so.estimate = eopts;
    so.objective = o.objective == "memory" ? Objective::memory : Objective::throughput;
    plan = emitting ? search_for_trainer(s, so) : search_plan(s, so);
  }
  std::string text;
  if (o.format == "json") {
    nlohmann::json j = predict_one ? estimate_to_json(plan.chosen, s) : plan_to_json(plan, s);
    if (o.explain) j["explain"] = explain_to_json(s, plan, eopts);
    if (const auto tokens = tokens_to_train(o); tokens && plan.feasible)
      j["training_run"] = training_run_json(*tokens, plan.chosen.time.tokens_per_second, s.cluster.world_size(), s.cluster.gpu.price_per_gpu_hour);
    text = j.dump(2);
  } else if (o.format == "html") {
    text = plan_to_html(s, plan, eopts);
  } else {
    const bool md = o.format == "markdown";
    text = predict_one ? estimate_to_text(plan.chosen, s, md) : plan_to_text(plan, s, md);
    if (o.explain) text += "\n" + explain_to_text(s, plan, eopts, md);
  }
  if (const auto tokens = tokens_to_train(o); tokens && plan.feasible && o.format != "json")
    text += training_time_and_cost_text(*tokens, plan.chosen.time.tokens_per_second, s.cluster.world_size(), s.cluster.gpu.price_per_gpu_hour);
  emit_report(text, o.out);
  if (!o.emit_deepspeed.empty())
    write_deepspeed_config(s, plan.chosen.strategy, o.emit_deepspeed, {plan.feasible, plan.chosen.verdict, o.memory_fraction});
  if (cmd.run) {
    if (!plan.feasible) {
      std::cerr << "zplan: not running: the plan does not fit (" << plan.chosen.verdict << ")\n";
      return 3;
    }
    return run_training_command(cmd, s, plan.chosen);
  }
  return plan.feasible ? 0 : 3;
}

}  // namespace zplan
