#pragma once
// One JSON line per run in results.jsonl (docs/QUANTIZATION.md, section 7), appended under a lock so that concurrent
// runs never clobber each other and a crash never leaves half a line.
#include <string>

#include <nlohmann/json.hpp>

#include "quantsim/core/utc_timestamp.h"

namespace quantsim {

// Appends `record` as one line (append_line_locked). Throws UserError, appending nothing, for a record that
// ResultRecord::from_json refuses, so that quant-sim never writes a line its own readers would stop at.
void append_result(const std::string& results_path, const nlohmann::json& record);

}  // namespace quantsim
