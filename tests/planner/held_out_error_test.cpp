// A calibration keeps its leave-one-model-out error (HeldOutError, planner/cost/step_time.h), and
// every report of a step time it calibrated prints it (text, Markdown, JSON).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "planner/estimate.h"
#include "planner/input_error.h"
#include "planner/io/calibration_loader.h"
#include "planner/report/estimate_report.h"
#include "planner/validation/calibration_run.h"
#include "planner/validation/repeat_floor.h"
#include "test_scenarios.h"

using namespace zplan;

TEST_CASE("calibration files keep the held-out error; older files leave it unknown; bad values name the field") {
  Calibration c;
  c.gpu = "h100-80gb";
  c.note = "test";
  c.profiles[Profile::hf].constants.held_out = {0.083, 0.327, 14, {0.05, 0.2, 50}, {0.15, 0.327, 9}};
  const std::string text = calibration_yaml(c);
  const HeldOutError back = parse_calibration_yaml(text, "c.yaml").profiles.at(Profile::hf).constants.held_out;
  CHECK(back.mean == doctest::Approx(0.083));
  CHECK(back.max == doctest::Approx(0.327));
  CHECK(back.models == 14);
  CHECK(back.device_bound.mean == doctest::Approx(0.05));
  CHECK(back.device_bound.runs == 50);
  CHECK(back.host_bound.max == doctest::Approx(0.327));
  CHECK(back.host_bound.runs == 9);
  CHECK(back.host_bound.repeat_groups == 0);  // not given: not written, read back as unknown
  CHECK(text.find("repeat") == std::string::npos);
  // The floor of repeated configurations is kept per regime.
  Calibration floors = c;
  floors.profiles[Profile::hf].constants.held_out.host_bound.repeat_floor = 0.238;
  floors.profiles[Profile::hf].constants.held_out.host_bound.repeat_groups = 7;
  const HeldOutError floors_back = parse_calibration_yaml(calibration_yaml(floors), "f.yaml").profiles.at(Profile::hf).constants.held_out;
  CHECK(floors_back.host_bound.repeat_floor == doctest::Approx(0.238));
  CHECK(floors_back.host_bound.repeat_groups == 7);
  CHECK(floors_back.device_bound.repeat_groups == 0);
  std::string above_one = calibration_yaml(floors);
  const std::string floor_line = "held_out_host_bound_repeat_floor: 0.238";
  REQUIRE(above_one.find(floor_line) != std::string::npos);
  above_one.replace(above_one.find(floor_line), floor_line.size(), "held_out_host_bound_repeat_floor: 1.5");
  CHECK_THROWS_WITH_AS(parse_calibration_yaml(above_one, "f.yaml"), doctest::Contains("held_out_host_bound_repeat_floor"), InputError);
  // A file written before the split keeps its overall error and leaves the regimes unknown.
  Calibration unsplit = c;
  unsplit.profiles[Profile::hf].constants.held_out = {0.083, 0.327, 14, {}, {}};
  const std::string unsplit_text = calibration_yaml(unsplit);
  CHECK(unsplit_text.find("device_bound") == std::string::npos);
  CHECK(parse_calibration_yaml(unsplit_text, "u.yaml").profiles.at(Profile::hf).constants.held_out.host_bound.runs == 0);
  // Not known: the keys are not written, and a file without them reads as not known.
  Calibration unknown = c;
  unknown.profiles[Profile::hf].constants.held_out = {};
  const std::string older = calibration_yaml(unknown);
  CHECK(older.find("leave_one_model_out") == std::string::npos);
  CHECK(parse_calibration_yaml(older, "old.yaml").profiles.at(Profile::hf).constants.held_out.models == 0);
  std::string inverted = text;
  const std::string max_line = "leave_one_model_out_max_error: 0.327";
  REQUIRE(inverted.find(max_line) != std::string::npos);
  inverted.replace(inverted.find(max_line), max_line.size(), "leave_one_model_out_max_error: 0.05");
  CHECK_THROWS_WITH_AS(parse_calibration_yaml(inverted, "c.yaml"), doctest::Contains("leave_one_model_out_max_error"), InputError);
}

TEST_CASE("calibrate stores the leave-one-model-out error it reports, and every unseen run's error by regime") {
  const std::vector<CalibrationSample> samples = calibration_samples(std::string(ZPLAN_SOURCE_DIR) + "/tests/regression/measured/zplan");
  const CalibrationReport report = calibrate_records(samples, "h100-80gb", "_cpu");
  REQUIRE(report.profiles.size() == 1);
  const ProfileFitReport& r = report.profiles[0];
  REQUIRE(r.leave_one_model_out.runs > 0);
  const HeldOutError kept = report.calibration.profiles.at(r.profile).constants.held_out;
  CHECK(kept.mean == doctest::Approx(r.leave_one_model_out.mean_abs));
  CHECK(kept.max == doctest::Approx(r.leave_one_model_out.max_abs));
  CHECK(kept.models == static_cast<int>(r.models));
  CHECK(kept.max >= kept.mean);
  // The regimes partition every residual of a run its fit did not see (leave-one-model-out and the
  // held-out runs): their runs add up, and each keeps its own statistics.
  REQUIRE(r.held_out_runs > 0);
  CHECK(kept.device_bound.runs + kept.host_bound.runs == static_cast<int>(r.leave_one_model_out.runs + r.held_out_runs));
  std::vector<HeldOutResidual> unseen = r.leave_one_model_out_residuals;
  unseen.insert(unseen.end(), r.held_out_residuals.begin(), r.held_out_residuals.end());
  for (bool host : {false, true}) {
    CAPTURE(host);
    double sum = 0, largest = 0;
    int runs = 0;
    for (const HeldOutResidual& h : unseen) {
      if (h.host_bound != host) continue;
      sum += std::abs(h.error());
      largest = std::max(largest, std::abs(h.error()));
      ++runs;
    }
    const RegimeError& regime = host ? kept.host_bound : kept.device_bound;
    REQUIRE(regime.runs == runs);
    if (runs == 0) continue;
    CHECK(regime.mean == doctest::Approx(sum / runs));
    CHECK(regime.max == doctest::Approx(largest));
  }
}

TEST_CASE("the residuals behind the held-out errors: one per scored record, the largest listed first") {
  const std::vector<CalibrationSample> samples = calibration_samples(std::string(ZPLAN_SOURCE_DIR) + "/tests/regression/measured/zplan");
  const CalibrationReport report = calibrate_records(samples, "h100-80gb", "_cpu");
  REQUIRE(report.profiles.size() == 1);
  const ProfileFitReport& r = report.profiles[0];
  REQUIRE(r.held_out_runs > 1);
  CHECK(r.held_out_residuals.size() == r.held_out_runs);
  CHECK(r.leave_one_model_out_residuals.size() == r.leave_one_model_out.runs);
  double largest = 0, sum = 0;
  for (const HeldOutResidual& h : r.leave_one_model_out_residuals) {
    largest = std::max(largest, std::abs(h.error()));
    sum += std::abs(h.error());
  }
  CHECK(largest == doctest::Approx(r.leave_one_model_out.max_abs));
  CHECK(sum / static_cast<double>(r.leave_one_model_out_residuals.size()) == doctest::Approx(r.leave_one_model_out.mean_abs));
  for (const HeldOutResidual& h : r.held_out_residuals) CHECK(h.file.find("_cpu") != std::string::npos);
  // One line per listed record under each split's heading; the first is the largest.
  const std::string text = worst_residuals_text(report, 1);
  CHECK(text.find("zplan, held out: the 1 largest errors\n") != std::string::npos);
  CHECK(text.find("zplan, leave-one-model-out: the 1 largest errors\n") != std::string::npos);
  char largest_text[32];
  std::snprintf(largest_text, sizeof largest_text, "%.1f%%", 100 * largest);
  CHECK(text.find(largest_text) != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 4);
  // Each row names what bounds its predicted step, as the regime split counts it.
  const HeldOutResidual& first = *std::max_element(
      r.held_out_residuals.begin(), r.held_out_residuals.end(),
      [](const HeldOutResidual& a, const HeldOutResidual& b) { return std::abs(a.error()) < std::abs(b.error()); });
  const size_t listed = text.find(first.file);
  REQUIRE(listed != std::string::npos);
  const size_t row = text.rfind('\n', listed) + 1;
  CHECK(text.substr(row, listed - row).find(first.host_bound ? "  host  " : "  GPU  ") != std::string::npos);
}

TEST_CASE("a calibrated step time is reported with its held-out error, an uncalibrated one without") {
  const Scenario s = scenario("qwen3-0.6b", "1xH100", 2048);
  Strategy st;
  EstimateOptions calibrated;
  calibrated.cost.calibration = "test.yaml";
  calibrated.cost.held_out = {0.083, 0.327, 14, {}, {}};
  const Estimate e = estimate(s.model, s.cluster, s.training, st, calibrated);
  CHECK(e.time.held_out.models == 14);
  const std::string text = estimate_to_text(e, s, false);
  CHECK(text.find("held out: off by 8.3% on average, at most 32.7%, on 14 models") != std::string::npos);
  CHECK(estimate_to_text(e, s, true).find("at most 32.7%") != std::string::npos);
  const nlohmann::json j = estimate_to_json(e, s);
  CHECK(j.at("time").at("held_out_error").at("max").get<double>() == doctest::Approx(0.327));
  CHECK(j.at("time").at("held_out_error").at("models").get<int>() == 14);
  EstimateOptions none;
  none.cost.calibration = "";
  const Estimate u = estimate(s.model, s.cluster, s.training, st, none);
  CHECK(estimate_to_text(u, s, false).find("held out") == std::string::npos);
  CHECK_FALSE(estimate_to_json(u, s).at("time").contains("held_out_error"));
}

TEST_CASE("a step time is reported with the held-out error of its regime: what bounds it, the GPU or the host") {
  EstimateOptions calibrated;
  calibrated.cost.calibration = "test.yaml";
  calibrated.cost.held_out = {0.083, 0.327, 14, {0.05, 0.21, 50}, {0.15, 0.327, 9}};
  Strategy st;
  // Qwen3-0.6B at 512 tokens under transformers launches far more than its GPU work takes; 16K
  // tokens make the GPU's work the larger.
  const Scenario host_heavy = scenario("qwen3-0.6b", "1xH100", 512);
  const Scenario gpu_heavy = scenario("qwen3-0.6b", "1xH100", 16384);
  const Estimate h = estimate(host_heavy.model, host_heavy.cluster, host_heavy.training, st, calibrated);
  const Estimate g = estimate(gpu_heavy.model, gpu_heavy.cluster, gpu_heavy.training, st, calibrated);
  REQUIRE(h.time.host_bound);
  REQUIRE_FALSE(g.time.host_bound);
  CHECK(estimate_to_text(h, host_heavy, false).find("off by 15.0% on average, at most 32.7%, on the 9 runs whose step the host's dispatch bounds") !=
        std::string::npos);
  CHECK(estimate_to_text(g, gpu_heavy, false).find("off by 5.0% on average, at most 21.0%, on the 50 runs whose step the GPU bounds") !=
        std::string::npos);
  const nlohmann::json jh = estimate_to_json(h, host_heavy).at("time").at("held_out_error");
  CHECK(jh.at("regime").at("bound_by") == "host");
  CHECK(jh.at("regime").at("runs").get<int>() == 9);
  CHECK(jh.at("max").get<double>() == doctest::Approx(0.327));  // the overall error stays
  CHECK(estimate_to_json(g, gpu_heavy).at("time").at("held_out_error").at("regime").at("mean").get<double>() == doctest::Approx(0.05));
}

TEST_CASE("runs the model cannot tell apart: their spread is a floor under any prediction's maximum error") {
  // Two runs of one configuration (identical terms) at 1.0 s and 1.5 s: the best single prediction,
  // 1.2 s, is 20% from both; a third configuration measured once has no floor.
  auto sample = [](StepTerm term, double value, double seconds, const char* file) {
    CalibrationSample s;
    s.terms[term] = value;
    s.measured_seconds = seconds;
    s.file = file;
    return s;
  };
  const CalibrationSample a = sample(kMatmulTerm, 0.5, 1.0, "a.json"), b = sample(kMatmulTerm, 0.5, 1.5, "b.json");
  const CalibrationSample other = sample(kMatmulTerm, 0.7, 9.0, "other.json");
  // A host-bound pair: launches only, repeated within 10%.
  const CalibrationSample h1 = sample(kKernelTerm, 5000, 0.10, "h1.json"), h2 = sample(kKernelTerm, 5000, 0.11, "h2.json");
  const StepTermVector w = term_weights(CostOptions{});
  REQUIRE_FALSE(predicted_step(a.terms, w).host_bound());
  REQUIRE(predicted_step(h1.terms, w).host_bound());
  const RepeatFloors f = repeat_floors({a, other, b, h1, h2}, w);
  CHECK(f.device_bound.groups == 1);
  CHECK(f.device_bound.floor == doctest::Approx(0.2));
  CHECK(f.device_bound.widest == "b.json");
  CHECK(f.host_bound.groups == 1);
  CHECK(f.host_bound.floor == doctest::Approx(0.01 / 0.21));
  CHECK(repeat_floors({a, other}, w).device_bound.groups == 0);
}

TEST_CASE("calibrate keeps the repeat floor of each regime, and a report of that regime prints it") {
  // Call27 and call30 measured the same transformers configurations on two lent H100s.
  const std::vector<CalibrationSample> samples = calibration_samples(std::string(ZPLAN_SOURCE_DIR) + "/tests/regression/measured");
  const CalibrationReport report = calibrate_records(samples, "h100-80gb", "deepspeed,hf_recheck");
  const ProfileFitReport* hf = nullptr;
  for (const ProfileFitReport& r : report.profiles)
    if (r.profile == Profile::hf) hf = &r;
  REQUIRE(hf != nullptr);
  CHECK(hf->repeats.host_bound.groups > 0);
  CHECK(hf->repeats.host_bound.floor > hf->repeats.device_bound.floor);
  const HeldOutError kept = report.calibration.profiles.at(Profile::hf).constants.held_out;
  CHECK(kept.host_bound.repeat_floor == doctest::Approx(hf->repeats.host_bound.floor));
  CHECK(kept.host_bound.repeat_groups == hf->repeats.host_bound.groups);
  CHECK(calibration_report_text(report, false).find("configurations measured more than once where the host bounds") != std::string::npos);

  EstimateOptions calibrated;
  calibrated.cost.calibration = "test.yaml";
  calibrated.cost.held_out = {0.083, 0.327, 14, {0.05, 0.21, 50, 0.011, 10}, {0.15, 0.327, 9, 0.258, 7}};
  Strategy st;
  const Scenario host_heavy = scenario("qwen3-0.6b", "1xH100", 512);
  const Estimate h = estimate(host_heavy.model, host_heavy.cluster, host_heavy.training, st, calibrated);
  REQUIRE(h.time.host_bound);
  CHECK(estimate_to_text(h, host_heavy, false).find("no one prediction comes within 25.8% of all of them (7 configurations measured more than once)") !=
        std::string::npos);
  const nlohmann::json repeats = estimate_to_json(h, host_heavy).at("time").at("held_out_error").at("regime").at("repeats");
  CHECK(repeats.at("floor").get<double>() == doctest::Approx(0.258));
  CHECK(repeats.at("configurations").get<int>() == 7);
}
