#pragma once
// Reading a results file back (one JSON object per line, as results_log.h appends them), for `quant-sim merge` and
// `quant-sim report`.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace quantsim {

struct ResultLine {
  int line_number = 0;  // 1-based, for error messages
  nlohmann::json record;
};

// Every non-blank line of `path`. Throws UserError naming the file and line for a line that is not a JSON object,
// and naming the file when it cannot be read.
std::vector<ResultLine> read_results_file(const std::string& path);

// record[key], or a UserError "FILE:LINE: no "key"" when it is missing or null, so that a hand-edited or older line
// is named instead of failing deep inside nlohmann.
const nlohmann::json& required_field(const ResultLine& line, const std::string& path, const std::string& key);

// The line's config.shard ("K/N") or an empty string for an unsharded (or merged) run.
std::string shard_of(const ResultLine& line, const std::string& path);

}  // namespace quantsim
