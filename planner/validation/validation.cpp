// Re-prediction of measured runs (see validation.h).
#include "planner/format.h"
#include "planner/validation/validation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "planner/estimate.h"
#include "planner/cost/deepspeed_step.h"
#include "planner/input_error.h"
#include "planner/io/calibration_loader.h"
#include "planner/memory/params.h"
#include "planner/io/run_record.h"
#include "planner/validation/tolerances.h"

namespace zplan {
namespace {

// DeepSpeed's runtime/zero/stage_1_and_2.py estimate_zero2_model_states_mem_needs and
// stage3.py estimate_zero3_model_states_mem_needs (no offload): 4Ψ + 16Ψ/N for ZeRO-2,
// 4·largest_layer + 18Ψ/N for ZeRO-3 — model states only, as its users report.
uint64_t deepspeed_formula(const ModelSpec& m, const Strategy& s, int world) {
  const ParamCounts pc = count_parameters(m);
  const double psi = static_cast<double>(pc.total), n = std::max(1, world);
  if (s.zero_stage >= 3) return static_cast<uint64_t>(4.0 * static_cast<double>(pc.largest_tensor) + 18.0 * psi / n);
  return static_cast<uint64_t>(4.0 * psi + 16.0 * psi / n);
}

// 16 bytes per parameter (ZeRO paper's mixed-precision Adam) plus Korthikanti et al. 2022,
// eq. (2): per layer s·b·h·(34 + 5·a·s/h) bytes, unchanged by flash attention in their table.
uint64_t naive_formula(const ModelSpec& m, const Strategy& s, int64_t seq) {
  const double psi = static_cast<double>(count_parameters(m).total);
  const double sbh = static_cast<double>(seq) * static_cast<double>(s.micro_batch) * static_cast<double>(m.hidden);
  const double per_layer = sbh * (34.0 + 5.0 * static_cast<double>(m.heads) * static_cast<double>(seq) / static_cast<double>(m.hidden));
  const double layers_full = static_cast<double>(m.layers - s.checkpointed_layers);
  const double ckpt = static_cast<double>(s.checkpointed_layers) * sbh * 2.0;
  return static_cast<uint64_t>(16.0 * psi + per_layer * layers_full + ckpt);
}

double rel(uint64_t predicted, uint64_t measured) {
  return measured ? (static_cast<double>(predicted) - static_cast<double>(measured)) / static_cast<double>(measured) : 0.0;
}

}  // namespace

ValidationRow validate_record_file(const std::string& path, const StepTimeSource& source) {
  const nlohmann::json j = read_run_record(path);
  Strategy st;
  Scenario s = scenario_from_record(j, path, &st);
  const Measurement meas = measurement_from_record(j, path, deepspeed_first_steady_step(s.training, st));
  if (meas.memory.peak_allocated_bytes == 0 && !meas.oom)
    throw InputError(path, "measurement.memory.gpu.peak_bytes", "must be positive");
  EstimateOptions eo;
  eo.cost = source.uncalibrated ? CostOptions{} : cost_options_for(s.cluster.gpu, s.training.profile, source.calibration);
  const std::string alloc = j.at("scenario").value("allocator_settings", std::string("default"));
  eo.expandable_segments = alloc.find("expandable_segments:True") != std::string::npos;
  const Estimate e = estimate(s.model, s.cluster, s.training, st, eo);
  ValidationRow r;
  r.file = path;
  r.model = j.at("scenario").value("model_name", s.model.name);
  r.group = std::filesystem::path(path).parent_path().filename().string();
  r.layers = s.model.layers;
  r.profile = s.training.profile;
  r.strategy = st;
  r.seq = s.training.seq_len;
  r.attention = to_string(s.training.attention);
  r.measured_peak_bytes = meas.memory.peak_allocated_bytes;
  r.measured_reserved_bytes = meas.memory.reserved_bytes;
  r.predicted_peak_bytes = e.memory.peak_allocated_bytes;
  r.predicted_reserved_bytes = e.memory.reserved_bytes;
  r.deepspeed_formula_bytes = deepspeed_formula(s.model, st, s.cluster.world_size());
  r.naive_bytes = naive_formula(s.model, st, s.training.seq_len);
  r.path = path_key(s.training, st, s.cluster.world_size());
  r.predicted_outside_bytes = e.memory.cuda_context_bytes;
  const nlohmann::json& gpu = j.at("measurement").at("memory").at("gpu");
  for (const char* key : {"outside_allocator_bytes", "cuda_context_bytes"})
    if (gpu.contains(key) && gpu.at(key).is_number_unsigned()) {
      r.measured_outside_bytes = gpu.at(key).get<uint64_t>();
      break;
    }
  r.outside_error = rel(r.predicted_outside_bytes, r.measured_outside_bytes);
  r.measured_host_bytes = meas.memory.host.peak_bytes;
  r.predicted_host_bytes = e.memory.host.steady_bytes / static_cast<uint64_t>(std::max(1, s.cluster.gpus_per_node));
  r.host_error = rel(r.predicted_host_bytes, r.measured_host_bytes);
  r.measured_oom = meas.oom;
  r.predicted_oom = !e.gpu_fits;
  r.gpu = s.cluster.gpu.name;
  r.predicted_step_seconds = e.time.step_seconds;
  if (!meas.oom && meas.step_seconds > 0) {
    r.measured_step_seconds = meas.step_seconds;
    r.step_error = (r.predicted_step_seconds - r.measured_step_seconds) / r.measured_step_seconds;
    r.unsteady_step_time = !meas.step_time_is_steady();
  }
  if (r.measured_oom) {
    // The peak of a run that died is only where it died: what must hold is the OOM verdict.
    r.within_tolerance = r.predicted_oom;
    return r;
  }
  r.peak_error = rel(r.predicted_peak_bytes, r.measured_peak_bytes);
  r.reserved_error = rel(r.predicted_reserved_bytes, r.measured_reserved_bytes);
  r.within_tolerance = std::abs(r.peak_error) <= peak_tolerance(r.profile) && !r.predicted_oom;
  return r;
}

std::vector<std::string> record_files(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError(dir, "", "not a directory of run records");
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw InputError(dir, "", "holds no *.json run records");
  return files;
}

std::vector<ValidationRow> validate_directory(const std::string& dir, const StepTimeSource& source) {
  std::vector<ValidationRow> rows;
  for (const std::string& f : record_files(dir)) rows.push_back(validate_record_file(f, source));
  return rows;
}

std::vector<PathError> reserved_errors(const std::vector<ValidationRow>& rows) {
  std::vector<PathError> out;
  for (const ValidationRow& r : rows)
    if (!r.measured_oom && r.measured_reserved_bytes > 0) out.push_back({r.path, r.reserved_error});
  return out;
}

std::vector<ProfileSummary> summarize(const std::vector<ValidationRow>& rows) {
  std::vector<std::string> groups = {""};
  for (const ValidationRow& r : rows)
    if (std::find(groups.begin(), groups.end(), r.group) == groups.end()) groups.push_back(r.group);
  std::vector<ProfileSummary> out;
  for (const std::string& g : groups)
    for (Profile p : {Profile::zplan, Profile::hf}) {
      ProfileSummary s;
      s.profile = p;
      s.group = g;
      for (const ValidationRow& r : rows) {
        if (r.profile != p || (!g.empty() && r.group != g)) continue;
        if (r.has_step_time()) {
          ++s.step_runs;
          s.mean_abs_step_error += std::abs(r.step_error);
          s.max_abs_step_error = std::max(s.max_abs_step_error, std::abs(r.step_error));
        }
        if (r.measured_oom) {  // counted as runs and failures, not in the error means
          ++s.oom_runs;
          if (!r.within_tolerance) ++s.failures;
          continue;
        }
        ++s.runs;
        const double a = std::abs(r.peak_error);
        s.mean_abs_error += a;
        s.max_abs_error = std::max(s.max_abs_error, a);
        s.mean_abs_reserved_error += std::abs(r.reserved_error);
        s.deepspeed_mean_abs_error += std::abs(rel(r.deepspeed_formula_bytes, r.measured_peak_bytes));
        s.naive_mean_abs_error += std::abs(rel(r.naive_bytes, r.measured_peak_bytes));
        if (!r.within_tolerance) ++s.failures;
      }
      if (s.runs + s.oom_runs == 0) continue;
      const double n = std::max<double>(1.0, static_cast<double>(s.runs));
      s.mean_abs_error /= n;
      s.mean_abs_reserved_error /= n;
      s.deepspeed_mean_abs_error /= n;
      s.naive_mean_abs_error /= n;
      s.mean_abs_step_error /= std::max<double>(1.0, static_cast<double>(s.step_runs));
      out.push_back(s);
    }
  return out;
}

std::string validation_table(const std::vector<ValidationRow>& rows, bool md) {
  std::ostringstream o;
  auto gib = [](uint64_t b) { char buf[32]; std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(b) / (1ull << 30)); return std::string(buf); };
  auto pct = [](double e) { char buf[32]; std::snprintf(buf, sizeof buf, "%+.1f%%", 100.0 * e); return std::string(buf); };
  auto err = [&](const ValidationRow& r) {
    if (r.measured_oom) return std::string(r.predicted_oom ? "OOM ok" : "OOM missed");
    return pct(r.peak_error) + (r.predicted_oom ? " (predicted OOM)" : "");
  };
  auto step = [&](const ValidationRow& r) {
    char buf[64];
    if (r.unsteady_step_time) {
      std::snprintf(buf, sizeof buf, md ? "%.3f | %.3f | not steady" : "%7.3f  %7.3f  not steady", r.measured_step_seconds, r.predicted_step_seconds);
      return std::string(buf);
    }
    if (!r.has_step_time()) return std::string(md ? "- | - | -" : "      -        -        -");
    std::snprintf(buf, sizeof buf, md ? "%.3f | %.3f | %+.1f%%" : "%7.3f  %7.3f  %+6.1f%%", r.measured_step_seconds, r.predicted_step_seconds, 100.0 * r.step_error);
    return std::string(buf);
  };
  if (md) o << "| run | profile | strategy | seq | measured GiB | zplan GiB | error | reserved meas/pred GiB | DeepSpeed estimator GiB (model states only) | 16 B/param + Korthikanti GiB (no logits, buffers or context) | step s measured | step s predicted | step error |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  else o << "run                                              prof  seq    measured  predicted   error  reserved m/p      DS-formula  naive     step s: meas     pred    error\n";
  for (const ValidationRow& r : rows) {
    const std::string name = r.group + "/" + std::filesystem::path(r.file).stem().string();
    char buf[512];
    if (md)
      std::snprintf(buf, sizeof buf, "| %s | %s | %s | %lld | %s | %s | %s%s | %s / %s | %s | %s | %s |\n", name.c_str(), to_string(r.profile),
                    strategy_summary(r.strategy, r.layers).c_str(), static_cast<long long>(r.seq), gib(r.measured_peak_bytes).c_str(),
                    gib(r.predicted_peak_bytes).c_str(), err(r).c_str(), r.within_tolerance ? "" : " ✗",
                    gib(r.measured_reserved_bytes).c_str(), gib(r.predicted_reserved_bytes).c_str(),
                    gib(r.deepspeed_formula_bytes).c_str(), gib(r.naive_bytes).c_str(), step(r).c_str());
    else
      std::snprintf(buf, sizeof buf, "%-48.48s %-5s %-6lld %8s  %9s  %7s%s %6s/%-6s  %8s  %8s  %s\n", name.c_str(), to_string(r.profile),
                    static_cast<long long>(r.seq), gib(r.measured_peak_bytes).c_str(), gib(r.predicted_peak_bytes).c_str(),
                    err(r).c_str(), r.within_tolerance ? " " : "!", gib(r.measured_reserved_bytes).c_str(),
                    gib(r.predicted_reserved_bytes).c_str(), gib(r.deepspeed_formula_bytes).c_str(), gib(r.naive_bytes).c_str(), step(r).c_str());
    o << buf;
  }
  o << (md ? "\n| profile | records | runs | mean abs error | max abs error | tolerance | outside | reserved mean abs error | DeepSpeed estimator (model states only) mean abs error | 16 B/param + Korthikanti mean abs error |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n" : "\n");
  for (const ProfileSummary& s : summarize(rows)) {
    char buf[400];
    if (md)
      std::snprintf(buf, sizeof buf, "| %s | %s | %zu (+%zu OOM) | %.1f%% | %.1f%% | %.0f%% | %zu | %.1f%% | %.1f%% | %.1f%% |\n", to_string(s.profile), s.group.empty() ? "all" : s.group.c_str(), s.runs, s.oom_runs,
                    100 * s.mean_abs_error, 100 * s.max_abs_error, 100 * peak_tolerance(s.profile), s.failures,
                    100 * s.mean_abs_reserved_error, 100 * s.deepspeed_mean_abs_error, 100 * s.naive_mean_abs_error);
    else
      std::snprintf(buf, sizeof buf, "profile %-5s %-16s runs %3zu (+%zu OOM)  mean |err| %5.1f%%  max |err| %5.1f%%  (tolerance %.0f%%, %zu outside)  reserved mean |err| %.1f%%  DeepSpeed formula %.1f%%  naive %.1f%%\n",
                    to_string(s.profile), s.group.empty() ? "all" : s.group.c_str(), s.runs, s.oom_runs, 100 * s.mean_abs_error, 100 * s.max_abs_error, 100 * peak_tolerance(s.profile),
                    s.failures, 100 * s.mean_abs_reserved_error, 100 * s.deepspeed_mean_abs_error, 100 * s.naive_mean_abs_error);
    o << buf;
  }
  // The measured step is the steady one: DeepSpeed ZeRO-3's from step 3 (deepspeed_first_steady_step).
  o << (md ? "\nStep time: the measured step is the record's own (steps after the first), except DeepSpeed ZeRO-3's: the median of steps 3 and later (step 2 pays a one-time trace scan; docs/cost-model.md, DeepSpeed). A step time more than " +
                 std::to_string(static_cast<int>(100 * kMaxStepExcessOverFastest)) +
                 "% above the record's fastest timed step is not a steady state: marked \"not steady\", not in the summaries (docs/cost-model.md, \"Unsteady records\").\n"
                 "\n| profile | records | runs with a step time | step time mean abs error | step time max abs error |\n|---|---|---:|---:|---:|\n"
           : std::string("\n"));
  for (const ProfileSummary& s : summarize(rows)) {
    if (s.step_runs == 0) continue;
    char buf[300];
    std::snprintf(buf, sizeof buf, md ? "| %s | %s | %zu | %.1f%% | %.1f%% |\n" : "step time %-5s %-16s runs %3zu  mean |err| %5.1f%%  max |err| %5.1f%%\n", to_string(s.profile),
                  s.group.empty() ? "all" : s.group.c_str(), s.step_runs, 100 * s.mean_abs_step_error, 100 * s.max_abs_step_error);
    o << buf;
  }
  o << host_memory_report(rows, md);
  return o.str();
}

std::string validation_svg(const std::vector<ValidationRow>& rows) {
  const double w = 520, h = 520, pad = 60;
  double lo = 1e30, hi = 0;
  for (const ValidationRow& r : rows)
    for (uint64_t b : {r.measured_peak_bytes, r.predicted_peak_bytes}) {
      if (r.measured_oom) continue;  // a run that died has no peak to plot
      const double g = static_cast<double>(b) / (1ull << 30);
      lo = std::min(lo, g);
      hi = std::max(hi, g);
    }
  if (rows.empty()) lo = 1, hi = 2;
  lo = std::pow(2.0, std::floor(std::log2(std::max(lo, 1e-3))));
  hi = std::pow(2.0, std::ceil(std::log2(std::max(hi, lo * 2))));
  auto x = [&](double g) { return pad + (std::log2(g) - std::log2(lo)) / (std::log2(hi) - std::log2(lo)) * (w - 2 * pad); };
  auto y = [&](double g) { return h - pad - (std::log2(g) - std::log2(lo)) / (std::log2(hi) - std::log2(lo)) * (h - 2 * pad); };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<line x1=\"" << x(lo) << "\" y1=\"" << y(lo) << "\" x2=\"" << x(hi) << "\" y2=\"" << y(hi) << "\" stroke=\"#999\" stroke-dasharray=\"4\"/>\n";
  for (double g = lo; g <= hi * 1.001; g *= 2) {
    o << "<text x=\"" << x(g) << "\" y=\"" << h - pad + 16 << "\" text-anchor=\"middle\">" << g << "</text>\n";
    o << "<text x=\"" << pad - 6 << "\" y=\"" << y(g) + 4 << "\" text-anchor=\"end\">" << g << "</text>\n";
  }
  o << "<text x=\"" << w / 2 << "\" y=\"" << h - 18 << "\" text-anchor=\"middle\">measured peak allocated (GiB, log scale)</text>\n";
  o << "<text x=\"16\" y=\"" << h / 2 << "\" transform=\"rotate(-90 16 " << h / 2 << ")\" text-anchor=\"middle\">zplan predicted (GiB)</text>\n";
  for (const ValidationRow& r : rows) {
    if (r.measured_oom) continue;
    const double mx = static_cast<double>(r.measured_peak_bytes) / (1ull << 30), py = static_cast<double>(r.predicted_peak_bytes) / (1ull << 30);
    o << "<circle cx=\"" << x(mx) << "\" cy=\"" << y(py) << "\" r=\"3.5\" fill=\"" << (r.profile == Profile::hf ? "#d62728" : "#1f77b4")
      << "\" fill-opacity=\"0.7\"><title>" << std::filesystem::path(r.file).stem().string() << "</title></circle>\n";
  }
  o << "<text x=\"" << pad << "\" y=\"20\" fill=\"#d62728\">● hf profile</text><text x=\"" << pad + 100 << "\" y=\"20\" fill=\"#1f77b4\">● zplan profile</text>\n";
  o << "</svg>\n";
  return o.str();
}

}  // namespace zplan
