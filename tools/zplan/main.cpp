// zplan: predicts per-GPU memory of LLM training configurations, picks the cheapest one that fits,
// explains why, and (with --run) trains with it and measures. main() only wires the subcommands.
#include <iostream>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "commands.h"
#include "planner/input_error.h"

int main(int argc, char** argv) {
#ifdef __GLIBC__
  // The plan search builds and frees many large per-candidate buffers; glibc would return each to
  // the kernel (mmap/munmap and page faults: more system time than the search itself). Keep them.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  CLI::App app{"zplan: will this LLM training configuration fit, and what is the cheapest one that does?"};
  app.set_version_flag("--version", "zplan " ZPLAN_VERSION);
  zplan::PlanCommand plan;
  zplan::setup_plan(app, plan);
  zplan::PlanCommand check;
  CLI::App* check_cmd = app.add_subcommand("check", "Predict one configuration (unset dimensions take their defaults)");
  zplan::setup_plan(*check_cmd, check);
  CLI::App* models = app.add_subcommand("models", "List built-in models");
  CLI::App* hardware = app.add_subcommand("hardware", "List built-in GPUs and clusters");
  zplan::ValidateCommand validate;
  CLI::App* validate_cmd = app.add_subcommand("validate", "Re-predict measured run records and report the error");
  zplan::setup_validate(*validate_cmd, validate);
  zplan::CalibrateCommand calibrate;
  CLI::App* calibrate_cmd = app.add_subcommand("calibrate", "Fit the step-time constants to measured run records");
  zplan::setup_calibrate(*calibrate_cmd, calibrate);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "zplan: " << e.what() << "\n";
    return 2;
  }
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);
  plan.command_line = check.command_line = command_line;
  for (int i = 1; i < argc; ++i) plan.argv_tail.push_back(argv[i]);
  check.argv_tail = plan.argv_tail;
  try {
    if (*models) return zplan::run_models();
    if (*hardware) return zplan::run_hardware();
    if (*validate_cmd) return zplan::run_validate(validate);
    if (*calibrate_cmd) return zplan::run_calibrate(calibrate);
    if (*check_cmd) return zplan::run_plan(check, true);
    return zplan::run_plan(plan, false);
  } catch (const zplan::InputError& e) {
    std::cerr << "zplan: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "zplan: internal error: " << e.what() << "\n";
    return 2;
  }
}
