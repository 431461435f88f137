// Typed, range-checked reads of YAML fields for every loader in planner/io/ (models, hardware,
// scenarios, DeepSpeed-style YAML). Each failure throws InputError(where, field, "expected ...")
// so the CLI can print which file and which key is wrong and exit 2.
//
//   YAML::Node root = parse_yaml_text(text, path);     // or load_yaml_file(path)
//   FieldReader r(root, path);
//   int64_t seq = r.required_int("seq", 1, 10'000'000);
//   auto zero = r.sub("strategy").optional_int("zero", 0, 3);   // errors name "strategy.zero"
//   r.reject_unknown({"model", "gpus", "seq", "strategy"});    // typos get "did you mean"
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace zplan {

// Parses YAML text; a syntax error becomes InputError(where, "", "invalid YAML at line N: ...").
YAML::Node parse_yaml_text(const std::string& text, const std::string& where);
// Reads a whole file; a missing or unreadable file becomes InputError(path, "", "cannot read ...").
std::string read_text_file(const std::string& path);
YAML::Node load_yaml_file(const std::string& path);

class FieldReader {
 public:
  // `map` must be a YAML map (an empty document counts as an empty map); `prefix` qualifies the
  // field names in errors ("strategy" -> "strategy.zero").
  FieldReader(YAML::Node map, std::string where, std::string prefix = "");

  bool has(const std::string& key) const;  // present and not null
  const std::string& where() const { return where_; }
  std::string field_name(const std::string& key) const;  // "prefix.key"
  YAML::Node node(const std::string& key) const { return map_[key]; }

  // Integers accept 5e8-style notation when the value is integral (DeepSpeed users write that).
  int64_t required_int(const std::string& key, int64_t min = std::numeric_limits<int64_t>::min(),
                       int64_t max = std::numeric_limits<int64_t>::max()) const;
  std::optional<int64_t> optional_int(const std::string& key,
                                      int64_t min = std::numeric_limits<int64_t>::min(),
                                      int64_t max = std::numeric_limits<int64_t>::max()) const;
  double required_double(const std::string& key, double min = -std::numeric_limits<double>::max(),
                         double max = std::numeric_limits<double>::max()) const;
  std::optional<double> optional_double(const std::string& key,
                                        double min = -std::numeric_limits<double>::max(),
                                        double max = std::numeric_limits<double>::max()) const;
  bool required_bool(const std::string& key) const;
  std::optional<bool> optional_bool(const std::string& key) const;
  std::string required_string(const std::string& key) const;
  std::optional<std::string> optional_string(const std::string& key) const;
  // One of `choices` (compared case-insensitively; the choice is returned as spelled in `choices`).
  std::string required_choice(const std::string& key, const std::vector<std::string>& choices) const;
  std::optional<std::string> optional_choice(const std::string& key,
                                             const std::vector<std::string>& choices) const;
  // A YAML sequence of scalars ("[a, b]"); a missing key gives an empty list.
  std::vector<std::string> optional_string_list(const std::string& key) const;
  std::vector<int64_t> optional_int_list(const std::string& key, int64_t min, int64_t max) const;
  // A nested map; a missing key gives an empty reader (every optional_* returns nullopt).
  FieldReader sub(const std::string& key) const;
  // Throws for the first key not in `known`, naming the closest known keys.
  void reject_unknown(const std::vector<std::string>& known) const;

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;

 private:
  YAML::Node get(const std::string& key) const;  // const lookup: never inserts into map_
  YAML::Node scalar(const std::string& key, const char* expected) const;
  YAML::Node map_;
  std::string where_;
  std::string prefix_;
};

// Renders a YAML scalar for an error message ("got \"abc\"").
std::string describe_yaml_value(const YAML::Node& node);

}  // namespace zplan
