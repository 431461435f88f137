// Typed, range-checked YAML field reads that throw InputError naming the file and the field.
#include "planner/io/yaml_fields.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "planner/input_error.h"
#include "planner/io/suggest.h"

namespace zplan {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Strict integer parse: the whole text must be an integer, or a float with no fractional part
// ("5e8", "1.0e9") that fits in int64.
bool parse_int_text(const std::string& text, int64_t* out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno == 0 && end && *end == '\0') {
    *out = v;
    return true;
  }
  errno = 0;
  const double d = std::strtod(text.c_str(), &end);
  if (errno != 0 || !end || *end != '\0' || !std::isfinite(d) || d != std::floor(d)) return false;
  if (d < -9.2e18 || d > 9.2e18) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

bool parse_double_text(const std::string& text, double* out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const double d = std::strtod(text.c_str(), &end);
  if (errno != 0 || !end || *end != '\0' || !std::isfinite(d)) return false;
  *out = d;
  return true;
}

std::string range_text(int64_t min, int64_t max) {
  const bool has_min = min != std::numeric_limits<int64_t>::min();
  const bool has_max = max != std::numeric_limits<int64_t>::max();
  if (has_min && has_max) return " in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (has_min) return min == 1 ? " >= 1" : " >= " + std::to_string(min);
  if (has_max) return " <= " + std::to_string(max);
  return "";
}

std::string number_text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

YAML::Node parse_yaml_text(const std::string& text, const std::string& where) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    // e.mark.line is 0-based; -1 when unknown.
    const std::string at = e.mark.line >= 0 ? " at line " + std::to_string(e.mark.line + 1) : "";
    throw InputError(where, "", "invalid YAML" + at + ": " + e.msg);
  }
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot read the file (does it exist?)");
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

YAML::Node load_yaml_file(const std::string& path) { return parse_yaml_text(read_text_file(path), path); }

std::string describe_yaml_value(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsScalar()) return "\"" + node.Scalar() + "\"";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  return "an unreadable value";
}

FieldReader::FieldReader(YAML::Node map, std::string where, std::string prefix)
    : map_(std::move(map)), where_(std::move(where)), prefix_(std::move(prefix)) {
  if (map_.IsDefined() && !map_.IsNull() && !map_.IsMap())
    throw InputError(where_, prefix_, "expected a map of key: value lines, got " + describe_yaml_value(map_));
}

std::string FieldReader::field_name(const std::string& key) const {
  return prefix_.empty() ? key : prefix_ + "." + key;
}

void FieldReader::fail(const std::string& key, const std::string& problem) const {
  throw InputError(where_, field_name(key), problem);
}

YAML::Node FieldReader::get(const std::string& key) const {
  if (!map_.IsDefined() || !map_.IsMap()) return YAML::Node();
  const YAML::Node& m = map_;
  return m[key];
}

bool FieldReader::has(const std::string& key) const {
  const YAML::Node n = get(key);
  return n.IsDefined() && !n.IsNull();
}

YAML::Node FieldReader::scalar(const std::string& key, const char* expected) const {
  const YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) fail(key, std::string("missing; expected ") + expected);
  if (!n.IsScalar()) fail(key, std::string("expected ") + expected + ", got " + describe_yaml_value(n));
  return n;
}

int64_t FieldReader::required_int(const std::string& key, int64_t min, int64_t max) const {
  const std::string expected = "an integer" + range_text(min, max);
  const YAML::Node n = scalar(key, expected.c_str());
  int64_t v = 0;
  if (!parse_int_text(n.Scalar(), &v)) fail(key, "expected " + expected + ", got " + describe_yaml_value(n));
  if (v < min || v > max) fail(key, "expected " + expected + ", got " + std::to_string(v));
  return v;
}

std::optional<int64_t> FieldReader::optional_int(const std::string& key, int64_t min, int64_t max) const {
  if (!has(key)) return std::nullopt;
  return required_int(key, min, max);
}

double FieldReader::required_double(const std::string& key, double min, double max) const {
  std::string expected = "a number";
  if (min > -std::numeric_limits<double>::max()) expected += " >= " + number_text(min);
  if (max < std::numeric_limits<double>::max()) expected += " and <= " + number_text(max);
  const YAML::Node n = scalar(key, expected.c_str());
  double v = 0;
  if (!parse_double_text(n.Scalar(), &v)) fail(key, "expected " + expected + ", got " + describe_yaml_value(n));
  if (v < min || v > max) fail(key, "expected " + expected + ", got " + number_text(v));
  return v;
}

std::optional<double> FieldReader::optional_double(const std::string& key, double min, double max) const {
  if (!has(key)) return std::nullopt;
  return required_double(key, min, max);
}

bool FieldReader::required_bool(const std::string& key) const {
  const YAML::Node n = scalar(key, "true or false");
  const std::string s = lower(n.Scalar());
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  fail(key, "expected true or false, got " + describe_yaml_value(n));
}

std::optional<bool> FieldReader::optional_bool(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return required_bool(key);
}

std::string FieldReader::required_string(const std::string& key) const {
  const YAML::Node n = scalar(key, "a text value");
  if (n.Scalar().empty()) fail(key, "expected a non-empty text value");
  return n.Scalar();
}

std::optional<std::string> FieldReader::optional_string(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return required_string(key);
}

std::string FieldReader::required_choice(const std::string& key,
                                         const std::vector<std::string>& choices) const {
  std::string expected = "one of";
  for (size_t i = 0; i < choices.size(); ++i) expected += (i ? "|" : " ") + choices[i];
  const YAML::Node n = scalar(key, expected.c_str());
  for (const std::string& c : choices)
    if (lower(c) == lower(n.Scalar())) return c;
  fail(key, "expected " + expected + ", got " + describe_yaml_value(n));
}

std::optional<std::string> FieldReader::optional_choice(const std::string& key,
                                                        const std::vector<std::string>& choices) const {
  if (!has(key)) return std::nullopt;
  return required_choice(key, choices);
}

std::vector<std::string> FieldReader::optional_string_list(const std::string& key) const {
  std::vector<std::string> out;
  const YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return out;
  if (n.IsScalar()) return {n.Scalar()};  // a single name is a one-element list
  if (!n.IsSequence()) fail(key, "expected a list such as [a, b], got " + describe_yaml_value(n));
  for (const YAML::Node& item : n) {
    if (!item.IsScalar()) fail(key, "expected a list of names, got an item that is " + describe_yaml_value(item));
    out.push_back(item.Scalar());
  }
  return out;
}

std::vector<int64_t> FieldReader::optional_int_list(const std::string& key, int64_t min, int64_t max) const {
  std::vector<int64_t> out;
  const YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return out;
  const std::string expected = "a list of integers" + range_text(min, max);
  if (!n.IsSequence()) fail(key, "expected " + expected + ", got " + describe_yaml_value(n));
  for (const YAML::Node& item : n) {
    int64_t v = 0;
    if (!item.IsScalar() || !parse_int_text(item.Scalar(), &v) || v < min || v > max)
      fail(key, "expected " + expected + ", got an item " + describe_yaml_value(item));
    out.push_back(v);
  }
  return out;
}

FieldReader FieldReader::sub(const std::string& key) const {
  const YAML::Node n = get(key);
  if (n.IsDefined() && !n.IsNull() && !n.IsMap())
    fail(key, "expected a map of key: value lines, got " + describe_yaml_value(n));
  return FieldReader(n, where_, field_name(key));
}

void FieldReader::reject_unknown(const std::vector<std::string>& known) const {
  if (!map_.IsDefined() || !map_.IsMap()) return;
  for (const auto& kv : map_) {
    const std::string key = kv.first.as<std::string>("");
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    fail(key, unknown_key_problem(key, known));
  }
}

}  // namespace zplan
