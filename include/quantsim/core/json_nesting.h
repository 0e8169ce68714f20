#pragma once
// A bound on the nesting depth of the JSON files quant-sim reads. nlohmann parses any depth, but copying, comparing
// and destroying a document recurse once per level: a corrupt file nested 100,000 deep would overflow the stack.
#include <string>

namespace quantsim {

constexpr int kMaxJsonNesting = 64;  // the deepest file quant-sim writes nests 5 levels

// "" when `text` nests arrays and objects at most kMaxJsonNesting deep, else why not ("nested deeper than 64
// levels at byte N"). Brackets inside strings do not count. Runs in one pass, before the document is parsed.
std::string json_nesting_problem(const std::string& text);

// Throws UserError "<what>: not valid JSON: <json_nesting_problem>" when the nesting is too deep.
void check_json_nesting(const std::string& text, const std::string& what);

}  // namespace quantsim
