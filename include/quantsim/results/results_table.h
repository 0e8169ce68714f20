#pragma once
// The paper's table from a results file: rows are methods (precision and method flags), columns are models (with
// the --act-sites mode for quantized runs), cells are top-1 in percent.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantsim/results/result_record.h"
#include "quantsim/results/results_file.h"

namespace quantsim {

enum class TableFormat { kTable, kCsv, kMarkdown };

struct ResultsTable {
  std::vector<std::string> rows;                // method labels, in order of first appearance
  std::vector<std::string> columns;             // "resnet50 (outputs)", or "resnet50" for a model with only FP32 runs
  std::vector<std::vector<std::string>> cells;  // [row][column]: top-1 with two decimals, or empty
};

// "FP32", or precision then flags as the paper writes them: "W4A4 -pcq_w -pcq_a -c laplace -baa -baw -bcw".
// Dynamic activation ranges (-sm no) get a " [dynamic]" suffix so that they never share a cell with static ones.
// A run with a --label (a sweep's method name) is named by it instead of its flags: "W4A4 aciq".
std::string method_label(const ResultRecord& record);
// The same of a line as JSON that has not been through ResultRecord (defaults as ResultRecord reads them).
std::string method_label(const nlohmann::json& record);

// What a cell shows beside top-1 (`quant-sim report --ci --stability --arith`; docs/QUANTIZATION.md, section 15).
struct TableOptions {
  bool ci = false;         // " [lo, hi]": the 95% Wilson interval, from the line's counts (none without them)
  bool stability = false;  // " (stability min-max)": top-1 over the --stability reruns, where measured
  bool arith = false;      // " (float X)": an --arith int run's float-path top-1 on the same images
};

// The table of `lines`; when a method ran more than once on a column the last line wins. An FP32
// run fills its model's every column. Shard lines (--shard, not merged) are left out: they cover part of the data.
ResultsTable build_results_table(const std::vector<ResultLine>& lines, const TableOptions& options = {});

// The table as aligned text, CSV (RFC 4180 quoting) or Markdown; each ends with a newline.
std::string render_results_table(const ResultsTable& table, TableFormat format);

}  // namespace quantsim
