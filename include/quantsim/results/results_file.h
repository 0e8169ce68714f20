#pragma once
// Reading a results file back (one JSON object per line, as results_log.h appends them), for `quant-sim merge`,
// `report`, `gate` and the sweep.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantsim/results/result_record.h"

namespace quantsim {

// One line of a results file. Readers use `fields`; `record` is the line as the file holds it, for callers that
// print or compare it (`fields` is read once, when the line is made: changing `record` later does not change it).
struct ResultLine {
  // A line built in memory, checked as read_results_file checks a line; errors name "line N".
  ResultLine(int line_number, nlohmann::json record);
  // A line read_results_file has checked, with the fields it read.
  ResultLine(int line_number, nlohmann::json record, ResultRecord fields);

  int line_number = 0;  // 1-based, for error messages
  nlohmann::json record;
  ResultRecord fields;
};

// Every non-blank line of `path`, each checked by ResultRecord::from_json (result_record.h). Throws UserError naming
// the file and line (and the field) for a line that is not a JSON object or is impossible, and naming the file when it
// cannot be read. A last line without its '\n' that is not valid JSON is what an interrupted write leaves: it is
// skipped with a warning on stderr, so that one crash does not make every earlier line unreadable.
std::vector<ResultLine> read_results_file(const std::string& path);

}  // namespace quantsim
