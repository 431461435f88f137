// Edit-distance suggestions for unknown names (see suggest.h).
#include "planner/io/suggest.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace zplan {

namespace {
std::string lower(const std::string& s) {
  std::string out = s;
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

size_t edit_distance_icase(const std::string& a_in, const std::string& b_in) {
  const std::string a = lower(a_in), b = lower(b_in);
  // One row of the dynamic-programming table at a time.
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> closest_names(const std::string& query,
                                       const std::vector<std::string>& candidates, size_t n) {
  // A candidate that contains the query ("3080" in "3080-20g") ranks before the rest: users type
  // a fragment of the name more often than a misspelling of all of it.
  const std::string q = lower(query);
  std::vector<std::pair<size_t, size_t>> scored;  // (score, index in candidates)
  for (size_t i = 0; i < candidates.size(); ++i) {
    const bool contains = q.size() >= 3 && lower(candidates[i]).find(q) != std::string::npos;
    scored.emplace_back(edit_distance_icase(query, candidates[i]) + (contains ? 0 : 1'000'000), i);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (const auto& s : scored) {
    if (out.size() >= n) break;
    const std::string& name = candidates[s.second];
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

std::string did_you_mean(const std::vector<std::string>& names) {
  if (names.empty()) return "";
  std::string s = "did you mean ";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) s += (i + 1 == names.size()) ? " or " : ", ";
    s += names[i];
  }
  return s + "?";
}

std::string unknown_key_problem(const std::string& key, const std::vector<std::string>& known) {
  std::string problem = "unknown key";
  const std::string hint = did_you_mean(closest_names(key, known, 3));
  if (!hint.empty()) problem += "; " + hint;
  return problem;
}

}  // namespace zplan
