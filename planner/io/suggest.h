// "Did you mean ...?" for unknown model, GPU, cluster and field names: the candidates closest to
// what the user typed by case-insensitive edit distance.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace zplan {

// Levenshtein distance between the lower-cased strings.
size_t edit_distance_icase(const std::string& a, const std::string& b);

// Up to `n` candidates, closest first (ties in candidate order), duplicates removed. Candidates that
// contain the query (3+ characters) come before the others.
std::vector<std::string> closest_names(const std::string& query,
                                       const std::vector<std::string>& candidates, size_t n = 3);

// "did you mean a, b or c?" ("" when `names` is empty).
std::string did_you_mean(const std::vector<std::string>& names);

// "unknown key; did you mean a, b or c?" for a key not among `known` (file readers' strictness).
std::string unknown_key_problem(const std::string& key, const std::vector<std::string>& known);

}  // namespace zplan
