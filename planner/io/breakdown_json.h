// MemoryBreakdown <-> JSON, the one encoding shared by predictions (`--format json`), run records
// written by the runtime, and the regression reader. Keys follow the JSON contract in docs/cli.md.
#pragma once
#include <nlohmann/json.hpp>

#include "planner/config/training_spec.h"
#include "planner/memory/memory_breakdown.h"

namespace zplan {

// {"gpu": {"peak_bytes", "reserved_bytes", "capacity_bytes", ..., "breakdown": {...},
//  "phases": {"forward_end": {...}, ...}}, "host": {...}}
nlohmann::json memory_to_json(const MemoryBreakdown& m);
// Inverse of memory_to_json; missing optional keys stay zero. Throws InputError naming `where`
// and the field for wrong types or negative numbers.
MemoryBreakdown memory_from_json(const nlohmann::json& j, const std::string& where);

nlohmann::json strategy_to_json(const Strategy& s);
Strategy strategy_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace zplan
