// The regression guard's ratchet (issue 16): every measured run's accepted error — peak allocated,
// peak reserved, and memory outside the allocator — is kept in calibration/accepted_errors.json
// (written on purpose with `zplan validate DIR --ratchet FILE --accept`, in the commit that earns
// it). A later prediction may not move any of them more than one percentage point further from the
// measurement, and every path's reserved band (calibration/reserved_bands.json, what verdicts
// print) must still hold for its runs.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "planner/validation/bands.h"
#include "planner/validation/validation.h"

namespace zplan {

constexpr double kRatchetSlack = 0.01;  // one percentage point

// "hf_holdout/gpt2-large_fp32_1024_mb2_ckpt-off": the record's folder and file stem.
std::string record_name(const ValidationRow& r);

nlohmann::json accepted_errors_json(const std::vector<ValidationRow>& rows, const std::string& command);

// One line per violation: an error that grew by more than kRatchetSlack over its accepted value, a
// lost OOM verdict, a record the file does not hold. Throws InputError for a malformed file.
std::vector<std::string> ratchet_violations(const std::vector<ValidationRow>& rows, const nlohmann::json& accepted,
                                            const std::string& where);

// One line per path whose band, measured again from the records, is wider than the committed one by
// more than kRatchetSlack, whose run count changed, or that the committed file lacks.
std::vector<std::string> band_violations(const std::vector<PathBand>& measured, const std::vector<PathBand>& committed);

// Terms no record measures yet (DeepSpeed's gradient buckets: tests/regression/measured holds no
// DeepSpeed run) are held to the sizes DeepSpeed's source allocates instead: one line per term whose
// predicted bytes differ from that derivation.
std::vector<std::string> derivation_violations();

}  // namespace zplan
