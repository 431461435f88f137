// Calibration from run records (see calibration_run.h).
#include "planner/validation/calibration_run.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "planner/cost/deepspeed_step.h"
#include "planner/input_error.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/run_record.h"
#include "planner/validation/validation.h"

namespace zplan {

std::vector<CalibrationSample> calibration_samples(const std::string& dir, std::vector<CalibrationSample>* unsteady) {
  std::vector<CalibrationSample> out;
  const CostOptions defaults;
  for (const std::string& path : record_files(dir)) {
    const nlohmann::json j = read_run_record(path);
    Strategy st;
    const Scenario s = scenario_from_record(j, path, &st);
    const Measurement m = measurement_from_record(j, path, deepspeed_first_steady_step(s.training, st));
    if (m.oom || m.step_seconds <= 0) continue;
    // The runtime's retired per-expert loop (records before its experts ran on _grouped_mm): its
    // cost beyond launches and syncs is not a term, so a fit that includes it moves that time onto
    // terms that correlate with MoE size (it took the optimizer factor from 1.6 to 3.1). Validation
    // still scores these records, on the loop's own path.
    if (s.training.experts == ExpertsImpl::loop) continue;
    CalibrationSample c;
    c.terms = step_terms(s.model, s.cluster, s.training, st, defaults.mechanisms).total;
    c.measured_seconds = m.step_seconds;
    c.file = path;
    c.group = std::filesystem::path(path).parent_path().filename().string();
    // Leave-one-model-out groups by architecture: "qwen3-30b-a3b-2l" is Qwen3-30B-A3B cut to 2 layers.
    c.model = j.at("scenario").value("model_name", j.at("scenario").value("model", s.model.name));
    const size_t cut = c.model.find_last_of('-');
    if (cut != std::string::npos && c.model.size() > cut + 2 && c.model.back() == 'l' &&
        c.model.find_first_not_of("0123456789", cut + 1) == c.model.size() - 1)
      c.model.erase(cut);
    c.gpu = s.cluster.gpu.name;
    c.profile = s.training.profile;
    if (!m.step_time_is_steady()) {
      if (unsteady) unsteady->push_back(c);
      continue;
    }
    out.push_back(c);
  }
  return out;
}

bool held_out(const std::string& file, const std::string& holdout) {
  std::stringstream texts(holdout);
  for (std::string text; std::getline(texts, text, ',');)
    if (!text.empty() && file.find(text) != std::string::npos) return true;
  return false;
}

static std::vector<HeldOutResidual> residuals(const std::vector<CalibrationSample>& samples, const StepTermVector& w) {
  std::vector<HeldOutResidual> out;
  for (const CalibrationSample& s : samples) {
    const CombinedStep step = predicted_step(s.terms, w);
    out.push_back({s.file, s.model, step.seconds, s.measured_seconds, step.host_bound()});
  }
  return out;
}

enum class Regime { any, device_bound, host_bound };

static ErrorStats error_stats(const std::vector<HeldOutResidual>& rows, Regime regime = Regime::any) {
  ErrorStats e;
  for (const HeldOutResidual& h : rows) {
    if (regime != Regime::any && h.host_bound != (regime == Regime::host_bound)) continue;
    const double err = std::abs(h.error());
    e.mean_abs += err;
    e.max_abs = std::max(e.max_abs, err);
    ++e.runs;
  }
  if (e.runs) e.mean_abs /= static_cast<double>(e.runs);
  return e;
}

ErrorStats step_errors(const std::vector<CalibrationSample>& samples, const StepTermVector& w) {
  return error_stats(residuals(samples, w));
}

CalibrationReport calibrate_records(const std::vector<CalibrationSample>& samples, const std::string& gpu,
                                    const std::string& holdout, size_t min_runs) {
  CalibrationReport report;
  report.calibration.gpu = gpu;
  const CostOptions defaults;
  const StepTermVector before = term_weights(defaults);
  // The fit's physical bounds come from the GPU's profile (its measured attention kernel rate).
  const StepTermVector bounds = physical_lower_bounds(load_gpu(gpu));
  for (Profile p : {Profile::hf, Profile::zplan}) {
    std::vector<CalibrationSample> fit, held;
    for (const CalibrationSample& s : samples) {
      if (s.gpu != gpu || s.profile != p) continue;
      (held_out(s.file, holdout) ? held : fit).push_back(s);
    }
    if (fit.size() < min_runs) continue;
    const FitResult result = fit_term_weights(fit, defaults, kCalibrationPriorWeight, bounds);
    ProfileCalibration pc;
    pc.constants = with_term_weights(defaults, result.weights);
    pc.runs = static_cast<int>(fit.size());
    pc.fitted = result.fitted;
    report.calibration.profiles[p] = pc;
    ProfileFitReport r;
    r.profile = p;
    r.fit_runs = fit.size();
    r.held_out_runs = held.size();
    r.fit_before = step_errors(fit, before);
    r.fit_after = step_errors(fit, result.weights);
    r.held_out_before = step_errors(held, before);
    r.held_out_residuals = residuals(held, result.weights);
    r.held_out_after = error_stats(r.held_out_residuals);
    // Leave one model out: no record of the scored model is in its fit.
    std::set<std::string> models;
    for (const CalibrationSample& s : fit) models.insert(s.model);
    r.models = models.size();
    for (const std::string& m : models) {
      std::vector<CalibrationSample> train, test;
      for (const CalibrationSample& s : fit) (s.model == m ? test : train).push_back(s);
      if (train.empty()) continue;
      const StepTermVector w = fit_term_weights(train, defaults, kCalibrationPriorWeight, bounds).weights;
      for (const HeldOutResidual& h : residuals(test, w)) r.leave_one_model_out_residuals.push_back(h);
    }
    r.leave_one_model_out = error_stats(r.leave_one_model_out_residuals);
    std::vector<HeldOutResidual> unseen = r.leave_one_model_out_residuals;
    unseen.insert(unseen.end(), r.held_out_residuals.begin(), r.held_out_residuals.end());
    r.held_out_device_bound = error_stats(unseen, Regime::device_bound);
    r.held_out_host_bound = error_stats(unseen, Regime::host_bound);
    std::vector<CalibrationSample> all = fit;
    all.insert(all.end(), held.begin(), held.end());
    r.repeats = repeat_floors(all, result.weights);
    // The calibration file keeps it: the report beside every predicted step says how far off it was
    // on models the fit had not seen, in the regime of that step.
    if (r.leave_one_model_out.runs) {
      auto regime = [](const ErrorStats& e, const RepeatFloor& f) {
        return RegimeError{e.mean_abs, e.max_abs, static_cast<int>(e.runs), f.floor, f.groups};
      };
      report.calibration.profiles[p].constants.held_out = {r.leave_one_model_out.mean_abs, r.leave_one_model_out.max_abs,
                                                           static_cast<int>(r.models), regime(r.held_out_device_bound, r.repeats.device_bound),
                                                           regime(r.held_out_host_bound, r.repeats.host_bound)};
    }
    report.profiles.push_back(r);
  }
  return report;
}

std::string calibration_report_text(const CalibrationReport& report, bool md) {
  std::ostringstream o;
  auto cell = [&](const ErrorStats& e) {
    char buf[64];
    if (!e.runs) return std::string("-");
    std::snprintf(buf, sizeof buf, "%.1f%% / %.1f%%", 100 * e.mean_abs, 100 * e.max_abs);
    return std::string(buf);
  };
  if (md) o << "| GPU | profile | fit runs | fit: before | fit: after | held-out runs | held-out: before | held-out: after | leave-one-model-out (models) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
  else o << "step-time error, mean / max |predicted - measured| / measured (before = uncalibrated defaults)\n";
  for (const ProfileFitReport& r : report.profiles) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  md ? "| %s | %s | %zu | %s | %s | %zu | %s | %s | %s (%zu) |\n"
                     : "%s %-5s fit %3zu runs: before %s, after %s; held out %zu runs: before %s, after %s; leave-one-model-out %s (%zu models)\n",
                  report.calibration.gpu.c_str(), to_string(r.profile), r.fit_runs, cell(r.fit_before).c_str(), cell(r.fit_after).c_str(),
                  r.held_out_runs, cell(r.held_out_before).c_str(), cell(r.held_out_after).c_str(), cell(r.leave_one_model_out).c_str(), r.models);
    o << buf;
    if (!md && r.leave_one_model_out.runs) {
      std::snprintf(buf, sizeof buf,
                    "  every run its fit did not see (leave-one-model-out and held out), where the GPU bounds the predicted step: %s (%zu runs); where the host does: %s (%zu runs)\n",
                    cell(r.held_out_device_bound).c_str(), r.held_out_device_bound.runs,
                    cell(r.held_out_host_bound).c_str(), r.held_out_host_bound.runs);
      o << buf;
    }
    if (!md) {
      // Runs of one configuration (one prediction) lie this far apart: the floor under any maximum.
      for (const auto& [name, f] : {std::pair<const char*, const RepeatFloor&>{"GPU", r.repeats.device_bound},
                                    std::pair<const char*, const RepeatFloor&>{"host", r.repeats.host_bound}}) {
        if (!f.groups) continue;
        std::snprintf(buf, sizeof buf,
                      "  configurations measured more than once where the %s bounds the predicted step: %d, the widest %.1f%% from any one prediction (",
                      name, f.groups, 100 * f.floor);
        o << buf << f.widest << ")\n";
      }
    }
  }
  return o.str();
}

std::string worst_residuals_text(const CalibrationReport& report, size_t worst) {
  std::ostringstream o;
  auto list = [&](const ProfileFitReport& r, const char* split, std::vector<HeldOutResidual> rows) {
    if (rows.empty()) return;
    std::stable_sort(rows.begin(), rows.end(),
                     [](const HeldOutResidual& a, const HeldOutResidual& b) { return std::abs(a.error()) > std::abs(b.error()); });
    rows.resize(std::min(worst, rows.size()));
    o << report.calibration.gpu << " " << to_string(r.profile) << ", " << split << ": the " << rows.size() << " largest errors\n";
    for (const HeldOutResidual& h : rows) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "  %+7.1f%%  predicted %8.4f s  measured %8.4f s  %-4s  %-18s ", 100 * h.error(),
                    h.predicted_seconds, h.measured_seconds, h.host_bound ? "host" : "GPU", h.model.c_str());
      o << buf << h.file << "\n";
    }
  };
  for (const ProfileFitReport& r : report.profiles) {
    list(r, "held out", r.held_out_residuals);
    list(r, "leave-one-model-out", r.leave_one_model_out_residuals);
  }
  return o.str();
}

}  // namespace zplan
