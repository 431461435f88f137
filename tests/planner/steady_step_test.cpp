// A record's step time counts only when it is a steady state (planner/io/run_record.h,
// kMaxStepExcessOverFastest): calibrate does not fit it, validate marks it and leaves it out of
// the summaries and the ratchet.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "planner/io/run_record.h"
#include "planner/validation/calibration_run.h"
#include "planner/validation/validation.h"

using namespace zplan;

namespace {

const std::string kMeasured = std::string(ZPLAN_SOURCE_DIR) + "/tests/regression/measured/";

// A copy of a measured record whose steps 2.. take `timed` seconds and whose own step time is
// their median (the Hugging Face harness's).
nlohmann::json with_timed_steps(const std::string& file, const std::vector<double>& timed) {
  nlohmann::json r = read_run_record(kMeasured + file);
  nlohmann::json& steps = r.at("measurement").at("memory").at("gpu").at("steps");
  const nlohmann::json first = steps.at(0);
  steps = nlohmann::json::array({first});
  for (size_t i = 0; i < timed.size(); ++i) {
    nlohmann::json st = first;
    st["step"] = static_cast<int>(i) + 2;
    st["step_seconds"] = timed[i];
    steps.push_back(st);
  }
  std::vector<double> sorted = timed;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  r.at("measurement").at("time")["step_seconds"] = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  return r;
}

}  // namespace

TEST_CASE("a step time more than half above the fastest timed step is not steady") {
  const std::string file = "hf_dist/ddp_qwen3-0.6b_amp-bf16_4096_mb1_ckpt-off.json";
  // Two timed steps: the record's step time is their mean, so the slower one may be up to twice
  // the faster before the mean sits half above it.
  const Measurement close = measurement_from_record(with_timed_steps(file, {0.20, 0.19}), file);
  CHECK(close.step_excess_over_fastest == doctest::Approx(0.195 / 0.19 - 1));
  CHECK(close.step_time_is_steady());
  const Measurement edge = measurement_from_record(with_timed_steps(file, {0.39, 0.20}), file);
  CHECK(edge.step_time_is_steady());
  const Measurement warming = measurement_from_record(with_timed_steps(file, {0.41, 0.20}), file);
  CHECK_FALSE(warming.step_time_is_steady());
  // Three timed steps: the median passes over one slow step.
  const Measurement median = measurement_from_record(with_timed_steps(file, {0.80, 0.20, 0.21}), file);
  CHECK(median.step_seconds == doctest::Approx(0.21));
  CHECK(median.step_time_is_steady());
  // No per-step times (zplan's runtime records): nothing to judge by, the step time counts.
  nlohmann::json bare = with_timed_steps(file, {0.2});
  bare.at("measurement").at("memory").at("gpu").erase("steps");
  CHECK(measurement_from_record(bare, file).step_excess_over_fastest == 0);
}

TEST_CASE("calibrate leaves unsteady records out and names them; validate marks them") {
  std::vector<CalibrationSample> unsteady;
  const std::vector<CalibrationSample> samples = calibration_samples(kMeasured + "hf_dist", &unsteady);
  // fsdp2-reshard Qwen3-0.6B mb1 without recompute: steps 2 and 3 took 0.829 s and 0.294 s.
  REQUIRE(unsteady.size() == 1);
  CHECK(unsteady[0].file.find("fsdp2-reshard_qwen3-0.6b_amp-bf16_4096_mb1_ckpt-off.json") != std::string::npos);
  CHECK(samples.size() == 25);
  for (const CalibrationSample& s : samples) CHECK(s.file != unsteady[0].file);
  const ValidationRow row = validate_record_file(unsteady[0].file, StepTimeSource{});
  CHECK(row.unsteady_step_time);
  CHECK_FALSE(row.has_step_time());
  CHECK(row.measured_step_seconds > 0);
  CHECK(validation_table({row}, false).find("not steady") != std::string::npos);
  const ValidationRow steady = validate_record_file(kMeasured + "hf_dist/ddp_qwen3-0.6b_amp-bf16_4096_mb1_ckpt-off.json", StepTimeSource{});
  CHECK_FALSE(steady.unsteady_step_time);
  CHECK(steady.has_step_time());
}
