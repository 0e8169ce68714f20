#include "quantsim/core/json_nesting.h"

#include <fmt/format.h>

#include "quantsim/core/errors.h"

namespace quantsim {

std::string json_nesting_problem(const std::string& text) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonNesting) return fmt::format("nested deeper than {} levels at byte {}", kMaxJsonNesting, i);
    } else if (c == ']' || c == '}') {
      --depth;  // unbalanced brackets are the parser's to report
    }
  }
  return "";
}

void check_json_nesting(const std::string& text, const std::string& what) {
  const std::string problem = json_nesting_problem(text);
  if (!problem.empty()) throw UserError(fmt::format("{}: not valid JSON: {}", what, problem));
}

}  // namespace quantsim
