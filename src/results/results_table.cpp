#include "quantsim/results/results_table.h"

#include <algorithm>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "quantsim/core/percent.h"
#include "quantsim/results/comparison_stats.h"

namespace quantsim {
namespace {

// Config keys of the method flags, in the order the paper's command lines give them.
const std::vector<std::pair<std::string, std::string>> kMethodFlags = {
    {"pcq_w", "-pcq_w"}, {"pcq_a", "-pcq_a"}, {"baa", "-baa"}, {"baw", "-baw"}, {"bcw", "-bcw"}, {"vcw", "-vcw"}};

template <typename T>
size_t index_of(std::vector<T>& list, const T& item) {
  const auto it = std::find(list.begin(), list.end(), item);
  if (it != list.end()) return static_cast<size_t>(it - list.begin());
  list.push_back(item);
  return list.size() - 1;
}

// Cells gathered line by line before the columns are final (FP32 fills columns that may appear later).
struct TableCells {
  std::vector<std::string> rows;
  std::vector<std::string> models;
  std::vector<std::string> columns;
  std::map<std::string, std::string> column_model;
  std::map<std::pair<std::string, std::string>, std::string> quantized;  // (row, column) -> cell text
  std::map<std::string, std::string> fp32;                               // model -> cell text
};

// Top-1 with two decimals, and what `options` add of `record`.
std::string value_text(const ResultRecord& record, const TableOptions& options) {
  std::string text = fmt::format("{:.2f}", record.top1);
  if (options.ci && record.top1_correct && record.images) {
    const auto [lo, hi] = wilson_interval_percent(*record.top1_correct, *record.images);
    text += fmt::format(" [{:.2f}, {:.2f}]", lo, hi);
  }
  if (options.stability && record.stability_top1_correct && record.top1_correct && record.images) {
    int64_t lo = *record.top1_correct;
    int64_t hi = lo;
    for (const int64_t hits : *record.stability_top1_correct) {
      lo = std::min(lo, hits);
      hi = std::max(hi, hits);
    }
    text += fmt::format(" (stability {:.2f}-{:.2f})", percent(lo, *record.images), percent(hi, *record.images));
  }
  if (options.arith && record.float_top1) text += fmt::format(" (float {:.2f})", *record.float_top1);
  return text;
}

void add_line(TableCells& cells, const ResultRecord& record, const TableOptions& options) {
  const std::string row = method_label(record);
  index_of(cells.rows, row);
  index_of(cells.models, record.model_name);
  if (record.precision == "FP32") {
    cells.fp32[record.model_name] = value_text(record, options);
    return;
  }
  const std::string sites = record.config.value("act_sites", "outputs");
  const std::string column = fmt::format("{} ({})", record.model_name, sites);
  index_of(cells.columns, column);
  cells.column_model[column] = record.model_name;
  cells.quantized[{row, column}] = value_text(record, options);
}

// Quantized columns, plus a bare model column for each model that only has FP32 runs, in first-appearance order.
std::vector<std::string> final_columns(const TableCells& cells) {
  std::vector<std::string> columns;
  for (const std::string& model : cells.models) {
    bool quantized = false;
    for (const std::string& column : cells.columns) {
      if (cells.column_model.at(column) != model) continue;
      columns.push_back(column);
      quantized = true;
    }
    if (!quantized) columns.push_back(model);
  }
  return columns;
}

std::string cell_text(const TableCells& cells, const std::string& row, const std::string& column) {
  if (row == "FP32") {
    const auto model = cells.column_model.count(column) ? cells.column_model.at(column) : column;
    const auto it = cells.fp32.find(model);
    return it == cells.fp32.end() ? "" : it->second;
  }
  const auto it = cells.quantized.find({row, column});
  return it == cells.quantized.end() ? "" : it->second;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string render_csv(const ResultsTable& table) {
  std::string out = "method";
  for (const auto& column : table.columns) out += "," + csv_field(column);
  out += "\n";
  for (size_t r = 0; r < table.rows.size(); ++r) {
    out += csv_field(table.rows[r]);
    for (const auto& cell : table.cells[r]) out += "," + cell;
    out += "\n";
  }
  return out;
}

std::string render_markdown(const ResultsTable& table) {
  std::string out = "| method |";
  for (const auto& column : table.columns) out += " " + column + " |";
  out += "\n|---|";
  for (size_t c = 0; c < table.columns.size(); ++c) out += "---:|";
  out += "\n";
  for (size_t r = 0; r < table.rows.size(); ++r) {
    out += "| " + table.rows[r] + " |";
    for (const auto& cell : table.cells[r]) out += " " + cell + " |";
    out += "\n";
  }
  return out;
}

// Method column left-aligned, numbers right-aligned, two spaces between columns.
std::string render_aligned(const ResultsTable& table) {
  size_t label_width = std::string("method").size();
  for (const auto& row : table.rows) label_width = std::max(label_width, row.size());
  // A column is as wide as its name (at least 6), or its widest cell (--ci, --stability).
  std::vector<size_t> widths;
  for (size_t c = 0; c < table.columns.size(); ++c) {
    widths.push_back(std::max<size_t>(table.columns[c].size(), 6));
    for (const auto& row : table.cells) widths.back() = std::max(widths.back(), row[c].size());
  }
  std::string out = fmt::format("{:<{}}", "method", label_width);
  for (size_t c = 0; c < table.columns.size(); ++c) out += fmt::format("  {:>{}}", table.columns[c], widths[c]);
  out += "\n";
  for (size_t r = 0; r < table.rows.size(); ++r) {
    out += fmt::format("{:<{}}", table.rows[r], label_width);
    for (size_t c = 0; c < table.columns.size(); ++c) out += fmt::format("  {:>{}}", table.cells[r][c], widths[c]);
    out += "\n";
  }
  return out;
}

// The row of a line of `precision`, `mode` and options `config`.
std::string label_of(const std::string& precision, const std::string& mode, const nlohmann::json& config) {
  if (precision == "FP32") return "FP32";
  const bool dynamic = config.value("qtype", "f32") != "f32" && mode == "dynamic";
  const auto label_field = config.find("label");  // absent in older lines
  const std::string named = label_field != config.end() && label_field->is_string() ? label_field->get<std::string>()
                                                                                    : "";
  // --arith int: the integer path's top-1, never in the cell of the same method's float run.
  const auto arith_field = config.find("arith");  // absent in older lines
  const std::string arith =
      arith_field != config.end() && arith_field->is_string() && *arith_field == "int" ? " --arith int" : "";
  if (!named.empty()) return precision + " " + named + arith + (dynamic ? " [dynamic]" : "");
  std::vector<std::string> flags;
  for (const auto& [key, flag] : kMethodFlags) {
    if (config.value(key, false)) flags.push_back(flag);
  }
  const std::string weight_method = config.value("weight_method", "rtn");
  if (weight_method != "rtn") flags.insert(flags.begin(), "--weight-method " + weight_method);
  // docs/QUANTIZATION.md, section 14: equalization first, the bias correction after the weight method.
  if (config.value("bias_correction", "none") == "empirical")
    flags.insert(flags.begin(), "--bias-correction empirical");
  if (config.value("cle", false)) flags.insert(flags.begin(), "--cle");
  const bool activations_quantized = config.value("qtype", "f32") != "f32";
  if (activations_quantized) {  // the clipping reads best right after -pcq_a, else last
    const auto after = std::find(flags.begin(), flags.end(), "-pcq_a");
    flags.insert(after == flags.end() ? after : after + 1, "-c " + config.value("clipping", "no"));
  }
  std::string label = precision;
  for (const auto& flag : flags) label += " " + flag;
  label += arith;
  if (activations_quantized && mode == "dynamic") label += " [dynamic]";
  return label;
}

}  // namespace

std::string method_label(const ResultRecord& record) { return label_of(record.precision, record.mode, record.config); }

std::string method_label(const nlohmann::json& record) {
  return label_of(record.value("precision", "FP32"), record.value("mode", ""),
                  record.value("config", nlohmann::json::object()));
}

ResultsTable build_results_table(const std::vector<ResultLine>& lines, const TableOptions& options) {
  TableCells cells;
  for (const ResultLine& line : lines) {
    if (line.fields.shard.empty()) add_line(cells, line.fields, options);
  }
  ResultsTable table{cells.rows, final_columns(cells), {}};
  for (const std::string& row : table.rows) {
    std::vector<std::string> values;
    for (const std::string& column : table.columns) values.push_back(cell_text(cells, row, column));
    table.cells.push_back(std::move(values));
  }
  return table;
}

std::string render_results_table(const ResultsTable& table, TableFormat format) {
  switch (format) {
    case TableFormat::kCsv: return render_csv(table);
    case TableFormat::kMarkdown: return render_markdown(table);
    case TableFormat::kTable: return render_aligned(table);
  }
  return "";
}

}  // namespace quantsim
