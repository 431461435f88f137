// libFuzzer target: a run record (tests/regression/measured/*.json) -> scenario and measurement
// readers, as `zplan validate` reads them.
#include "fuzz_common.h"
#include "planner/io/run_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j = nlohmann::json::parse(zplan_fuzz::text(data, size), nullptr, false);
  if (j.is_discarded()) return 0;  // not JSON: validate reports the parse error before these readers
  zplan_fuzz::expect_input_errors_only([&] {
    zplan::Strategy st;
    (void)zplan::scenario_from_record(j, "record.json", &st);
  });
  zplan_fuzz::expect_input_errors_only([&] { (void)zplan::measurement_from_record(j, "record.json"); });
  return 0;
}
