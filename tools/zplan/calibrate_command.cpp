// `zplan calibrate DIR --gpu NAME --out FILE [--holdout TEXT] [--report FILE.md] [--worst N]`: fit the
// step-time constants of the cost model to the measured step times of the run records under DIR
// that ran on GPU NAME, per profile; records whose path contains the --holdout text are only
// scored. Prints the errors before and after, held out and leave-one-model-out (--worst: the records
// behind them); writes the YAML the planner reads (--calibration, or hardware/calibration/<gpu>.yaml
// built in).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "commands.h"
#include "planner/input_error.h"
#include "planner/io/calibration_loader.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/run_record.h"
#include "planner/validation/calibration_run.h"

namespace zplan {

void setup_calibrate(CLI::App& app, CalibrateCommand& cmd) {
  app.add_option("dir", cmd.dir, "Folder of run records with measured step times (searched recursively)")->required();
  app.add_option("--gpu", cmd.gpu, "GPU whose records are fitted (needed when the records span several GPUs)");
  app.add_option("--out", cmd.out, "Calibration YAML to write (e.g. hardware/calibration/h100-80gb.yaml)");
  app.add_option("--holdout", cmd.holdout, "Records whose path contains this text (or one of several, comma-separated) are scored, not fitted ('' = fit all)");
  app.add_option("--report", cmd.report, "Also write the error table as Markdown");
  app.add_option("--worst", cmd.worst, "Also list the N largest errors of held-out and leave-one-model-out records, per profile")
      ->check(CLI::Validator(
          [](const std::string& text) {
            return text.find_first_not_of("0123456789") == std::string::npos && text.find_first_not_of('0') != std::string::npos
                       ? std::string()
                       : "expected a whole number of records, at least 1, got '" + text + "'";
          },
          "N"));
}

int run_calibrate(const CalibrateCommand& cmd) {
  std::vector<CalibrationSample> unsteady;
  const std::vector<CalibrationSample> samples = calibration_samples(cmd.dir, &unsteady);
  std::set<std::string> gpus;
  for (const CalibrationSample& s : samples) gpus.insert(s.gpu);
  if (gpus.empty()) throw InputError(cmd.dir, "", "holds no run record with a measured step time");
  std::string gpu;
  if (!cmd.gpu.empty()) gpu = load_gpu(cmd.gpu, "--gpu", "").name;
  else if (gpus.size() == 1) gpu = *gpus.begin();
  else {
    std::string list;
    for (const std::string& g : gpus) list += (list.empty() ? "" : ", ") + g;
    throw InputError("--gpu", "", "the records ran on several GPUs (" + list + "): name the one to fit");
  }
  if (!gpus.count(gpu)) throw InputError("--gpu", "", "no record under " + cmd.dir + " ran on " + gpu);
  CalibrationReport report = calibrate_records(samples, gpu, cmd.holdout);
  if (report.profiles.empty()) throw InputError(cmd.dir, "", "fewer than 8 fit records with a step time on " + gpu + " for every profile");
  // The command that regenerates the file (not the binary's path on this machine).
  report.calibration.note = "zplan calibrate " + cmd.dir + " --gpu " + gpu + " --holdout '" + cmd.holdout + "'" +
                            (cmd.out.empty() ? "" : " --out " + cmd.out);
  std::cout << calibration_report_text(report, false);
  if (cmd.worst) std::cout << worst_residuals_text(report, cmd.worst);
  for (const CalibrationSample& u : unsteady)
    if (u.gpu == gpu)
      std::cout << "not fitted or scored, step time not steady (more than " << static_cast<int>(100 * kMaxStepExcessOverFastest)
                << "% above its fastest timed step): " << u.file << "\n";
  if (!cmd.out.empty()) {
    std::ofstream o(cmd.out);
    if (!o) throw InputError("--out", "", "cannot write " + cmd.out);
    o << calibration_yaml(report.calibration);
    std::cerr << "zplan: wrote " << cmd.out << "\n";
  }
  if (!cmd.report.empty()) {
    std::ofstream o(cmd.report);
    if (!o) throw InputError("--report", "", "cannot write " + cmd.report);
    o << calibration_report_text(report, true);
  }
  return 0;
}

}  // namespace zplan
