// InputError: bad user input (a file, a field, a flag). The CLI prints what() and exits 2.
// The message always names where the problem is and what was expected.
#pragma once
#include <stdexcept>
#include <string>

namespace zplan {

class InputError : public std::runtime_error {
 public:
  // where: a file path or "--flag"; field: the key inside it ("" if none); expected: what would be valid.
  InputError(const std::string& where, const std::string& field, const std::string& problem)
      : std::runtime_error(format(where, field, problem)) {}

 private:
  static std::string format(const std::string& where, const std::string& field,
                            const std::string& problem) {
    std::string s = where;
    if (!field.empty()) s += (s.empty() ? "" : ": ") + std::string("field '") + field + "'";
    return s + (s.empty() ? "" : ": ") + problem;
  }
};

}  // namespace zplan
