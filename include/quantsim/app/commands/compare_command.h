#pragma once
// `quant-sim compare A B [--alpha P]`: whether two runs on the same images differ in top-1 by more than chance, by
// McNemar's exact test on their per-image correctness (docs/QUANTIZATION.md, section 15). A and B name results
// lines: FILE (its only run), FILE:LINE, or FILE#NAME (the last unsharded line whose sweep key, --label, report row
// "W4A8 -c mse ..." or "model: row" is NAME). Runs on other images, or lines without per-image correctness, are
// refused with one line.
#include <string>
#include <vector>

#include "quantsim/results/results_file.h"

namespace quantsim {

// The line of `lines` (read from `file`) that FILE:`line_number` (when > 0) or FILE#`name` names, or with neither the
// file's only run. Throws UserError when that is no line, or the lines of several runs (report cells).
const ResultLine& select_result_line(const std::vector<ResultLine>& lines, const std::string& file,
                                     const std::string& name, int line_number);

// The subcommand; `args` follow "compare".
int run_compare_command(const std::vector<std::string>& args);

}  // namespace quantsim
