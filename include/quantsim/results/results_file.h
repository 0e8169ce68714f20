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

// Every non-blank line of `path`, each checked by ResultRecord::from_json (result_record.h). Throws UserError naming
// the file and line (and the field) for a line that is not a JSON object or is impossible, and naming the file when it
// cannot be read. A last line without its '\n' that is not valid JSON is what an interrupted write leaves: it is
// skipped with a warning on stderr, so that one crash does not make every earlier line unreadable.
std::vector<ResultLine> read_results_file(const std::string& path);

// record[key], or a UserError "FILE:LINE: no "key"" when it is missing or null, so that a hand-edited or older line
// is named instead of failing deep inside nlohmann.
const nlohmann::json& required_field(const ResultLine& line, const std::string& path, const std::string& key);

// The line's config.shard ("K/N") or an empty string for an unsharded (or merged) run.
std::string shard_of(const ResultLine& line, const std::string& path);

}  // namespace quantsim
