// `zplan validate DIR [--out docs/validation.md] [--bands FILE] [--ratchet FILE] [--accept]`:
// re-predict every measured run record under DIR and print predicted against measured (with
// DeepSpeed's formula and a naive calculation beside), mean and max error per profile. With --bands
// and --ratchet it also holds the records to the committed reserved bands and accepted errors
// (planner/validation/ratchet.h), or with --accept rewrites those files from the records. Exit 0
// when every run is within its profile's tolerance and the ratchet holds, 3 when not, 2 for
// unreadable or malformed records.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "commands.h"
#include <optional>

#include "planner/input_error.h"
#include "planner/validation/ratchet.h"
#include "planner/io/calibration_loader.h"
#include "planner/validation/tolerances.h"
#include "planner/validation/validation.h"

namespace zplan {

void setup_validate(CLI::App& app, ValidateCommand& cmd) {
  app.add_option("dir", cmd.dir, "Folder of run records (searched recursively)")->required();
  app.add_option("--out", cmd.out, "Write a Markdown report with a scatter plot (SVG beside it)");
  app.add_option("--bands", cmd.bands, "Reserved-memory bands per path (calibration/reserved_bands.json): check them");
  app.add_option("--ratchet", cmd.ratchet, "Accepted per-record errors (calibration/accepted_errors.json): check them");
  app.add_flag("--accept", cmd.accept, "Write --bands and --ratchet from these records instead of checking them");
  app.add_option("--first-comparison", cmd.first_comparison,
                 "Each held-out set's error at its first comparison (JSON), printed in --out beside today's");
  app.add_option("--calibration", cmd.calibration,
                 "Step-time calibration file (zplan calibrate); 'none' = uncalibrated defaults; default: the built-in one per GPU");
}

namespace {

nlohmann::json read_json_file(const std::string& path, const std::string& flag) {
  std::ifstream f(path);
  if (!f) throw InputError(flag, "", "cannot read " + path);
  try {
    return nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, "", std::string("malformed JSON: ") + e.what());
  }
}

void write_json_file(const std::string& path, const std::string& flag, const nlohmann::json& j) {
  std::ofstream f(path);
  if (!f) throw InputError(flag, "", "cannot write " + path);
  f << j.dump(2) << "\n";
  if (!f) throw InputError(flag, "", "failed writing " + path);
  std::cerr << "zplan: wrote " << path << "\n";
}

// Checks (or writes) the committed bands and accepted errors; returns the number of violations.
size_t hold_to_ratchet(const ValidateCommand& cmd, const std::vector<ValidationRow>& rows) {
  const std::vector<PathBand> measured = measure_bands(reserved_errors(rows));
  const std::string command = "zplan validate " + cmd.dir + " --bands " + cmd.bands + " --ratchet " + cmd.ratchet + " --accept";
  if (cmd.accept) {
    if (!cmd.bands.empty()) write_json_file(cmd.bands, "--bands", bands_to_json(measured, command));
    if (!cmd.ratchet.empty()) write_json_file(cmd.ratchet, "--ratchet", accepted_errors_json(rows, command));
    return 0;
  }
  std::vector<std::string> problems;
  if (!cmd.bands.empty()) problems = band_violations(measured, bands_from_json(read_json_file(cmd.bands, "--bands"), cmd.bands));
  if (!cmd.ratchet.empty()) {
    for (const std::string& p : ratchet_violations(rows, read_json_file(cmd.ratchet, "--ratchet"), cmd.ratchet))
      problems.push_back(p);
    for (const std::string& p : derivation_violations()) problems.push_back(p);
  }
  for (const std::string& p : problems) std::cout << "ratchet: " << p << "\n";
  if (!cmd.bands.empty() || !cmd.ratchet.empty())
    std::cout << "ratchet: " << problems.size() << " violation(s) of the accepted errors and bands\n";
  return problems.size();
}

// The reserved band of each measured path (what verdicts print for it).
std::string bands_table(const std::vector<ValidationRow>& rows) {
  std::string o = "| path (profile/framework/offload/SP/world) | runs | reserved p95 abs error | max |\n|---|---:|---:|---:|\n";
  for (const PathBand& b : measure_bands(reserved_errors(rows))) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "| %s | %zu | %.1f%% | %.1f%% |\n", b.key.str().c_str(), b.runs,
                  100 * b.p95_abs_error, 100 * b.max_abs_error);
    o += buf;
  }
  return o + "\n";
}

// Each folder (set) with its error at first comparison beside today's, and the reserved band of
// its paths; held-out sets are the folders the first-comparison file names.
std::string held_out_table(const std::vector<ValidationRow>& rows, const std::string& path) {
  if (path.empty()) return "";
  const nlohmann::json sets = read_json_file(path, "--first-comparison").value("sets", nlohmann::json::object());
  auto pct = [](const nlohmann::json& v) {
    if (!v.is_number()) return std::string("not recorded");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * v.get<double>());
    return std::string(buf);
  };
  std::string o = "## Each set at its first comparison and now\n\nPeak allocated, mean / max |error|; first "
                  "comparison = before any change the set prompted (" + path + " cites where each was recorded).\n\n"
                  "| set | runs | first comparison | now | reserved mean abs error |\n|---|---:|---:|---:|---:|\n";
  std::set<std::string> shown;
  for (const ProfileSummary& s : summarize(rows)) {
    if (s.group.empty()) continue;
    shown.insert(s.group);
    const nlohmann::json f = sets.value(s.group, nlohmann::json::object());
    char buf[300];
    std::snprintf(buf, sizeof buf, "| %s%s | %zu | %s / %s | %.1f%% / %.1f%% | %.1f%% |\n", s.group.c_str(),
                  !sets.contains(s.group) ? "" : f.value("held_out", true) ? " (held out)" : " (first measured)", s.runs,
                  f.empty() ? "=" : pct(f.value("mean", nlohmann::json())).c_str(),
                  f.empty() ? "=" : pct(f.value("max", nlohmann::json())).c_str(), 100 * s.mean_abs_error,
                  100 * s.max_abs_error, 100 * s.mean_abs_reserved_error);
    o += buf;
  }
  // A first comparison whose runs are not (yet) records here: its error then, nothing now.
  for (const auto& [name, f] : sets.items()) {
    if (shown.count(name)) continue;
    o += "| " + name + " (no run record here) | 0 | " + pct(f.value("mean", nlohmann::json())) + " / " +
         pct(f.value("max", nlohmann::json())) + " | – | – |\n";
  }
  return o + "\n(`=`: a calibration set — the model was built against it, so its first comparison is not a test.)\n\n";
}

}  // namespace

int run_validate(const ValidateCommand& cmd) {
  StepTimeSource source;
  std::optional<Calibration> calibration;
  if (cmd.calibration == "none") source.uncalibrated = true;
  else if (!cmd.calibration.empty()) {
    calibration = load_calibration(cmd.calibration);
    source.calibration = &*calibration;
  }
  const std::vector<ValidationRow> rows = validate_directory(cmd.dir, source);
  std::cout << validation_table(rows, false);
  if (!cmd.out.empty()) {
    namespace fs = std::filesystem;
    const fs::path md(cmd.out);
    fs::path svg = md;
    svg.replace_extension(".svg");
    std::ofstream s(svg);
    s << validation_svg(rows);
    std::ofstream o(md);
    if (!o || !s) throw InputError("--out", "", "cannot write " + cmd.out);
    o << "# Predicted against measured memory\n\n"
      << "Generated by `zplan validate " << cmd.dir << " --out " << cmd.out
      << (cmd.first_comparison.empty() ? "" : " --first-comparison " + cmd.first_comparison) << "` from the run records in `" << cmd.dir
      << "` (each names the command that measured it). Error = (predicted - measured) / measured of peak allocated "
         "bytes; tolerances: " << 100 * peak_tolerance(Profile::zplan) << "% for the zplan profile, "
      << 100 * peak_tolerance(Profile::hf) << "% for the hf profile (planner/validation/tolerances.h).\n\n"
      << "![predicted against measured](" << svg.filename().string() << ")\n\n"
      << "Baselines, labelled by what they count: DeepSpeed's estimator "
         "(estimate_zero2/zero3_model_states_mem_needs) counts model states only; 16 B/param + Korthikanti et al.'s "
         "activations has no logits, buffers, CUDA context or allocator.\n\n"
      << "The regression guard (`ctest -R regression_measured`, planner/validation/ratchet.h): no record's error of peak "
         "allocated, peak reserved, memory outside the allocator, host RAM or step time may grow by more than one "
         "percentage point over "
         "calibration/accepted_errors.json, and no path's reserved band by more than one point over "
         "calibration/reserved_bands.json, the bands verdicts print:\n\n"
      << bands_table(rows) << held_out_table(rows, cmd.first_comparison) << validation_table(rows, true);
    std::cerr << "zplan: wrote " << md.string() << " and " << svg.string() << "\n";
  }
  if (cmd.accept && cmd.bands.empty() && cmd.ratchet.empty())
    throw InputError("--accept", "", "writes --bands and --ratchet: name at least one of them");
  const size_t violations = hold_to_ratchet(cmd, rows);
  for (const ValidationRow& r : rows)
    if (!r.within_tolerance) return 3;
  return violations ? 3 : 0;
}

}  // namespace zplan
