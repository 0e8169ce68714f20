#pragma once
// `quant-sim report RESULTS.jsonl [--format table|csv|markdown] [--out FILE]`: the paper's table of top-1
// accuracies (results_table.h), on stdout or written atomically to FILE.
#include <string>
#include <vector>

namespace quantsim {

// The subcommand; `args` follow "report".
int run_report_command(const std::vector<std::string>& args);

}  // namespace quantsim
