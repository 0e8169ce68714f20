#include "quantsim/results/results_table.h"

#include <algorithm>
#include <map>
#include <utility>

#include <fmt/format.h>

namespace quantsim {
namespace {

// Config keys of the method flags, in the order the paper's command lines give them.
const std::vector<std::pair<std::string, std::string>> kMethodFlags = {
    {"pcq_w", "-pcq_w"}, {"pcq_a", "-pcq_a"}, {"baa", "-baa"}, {"baw", "-baw"}, {"bcw", "-bcw"}, {"vcw", "-vcw"}};

bool is_fp32(const nlohmann::json& record) { return record.value("precision", "FP32") == "FP32"; }

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
  std::map<std::pair<std::string, std::string>, double> quantized;  // (row, column) -> top-1
  std::map<std::string, double> fp32;                               // model -> top-1
};

void add_line(TableCells& cells, const ResultLine& line, const std::string& path) {
  const nlohmann::json& record = line.record;
  const std::string model = required_field(line, path, "model_name").get<std::string>();
  const double top1 = required_field(line, path, "top1").get<double>();
  const std::string row = method_label(record);
  index_of(cells.rows, row);
  index_of(cells.models, model);
  if (is_fp32(record)) {
    cells.fp32[model] = top1;
    return;
  }
  const std::string sites = required_field(line, path, "config").value("act_sites", "outputs");
  const std::string column = fmt::format("{} ({})", model, sites);
  index_of(cells.columns, column);
  cells.column_model[column] = model;
  cells.quantized[{row, column}] = top1;
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
    return it == cells.fp32.end() ? "" : fmt::format("{:.2f}", it->second);
  }
  const auto it = cells.quantized.find({row, column});
  return it == cells.quantized.end() ? "" : fmt::format("{:.2f}", it->second);
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
  std::string out = fmt::format("{:<{}}", "method", label_width);
  for (const auto& column : table.columns) out += fmt::format("  {:>{}}", column, std::max<size_t>(column.size(), 6));
  out += "\n";
  for (size_t r = 0; r < table.rows.size(); ++r) {
    out += fmt::format("{:<{}}", table.rows[r], label_width);
    for (size_t c = 0; c < table.columns.size(); ++c) {
      out += fmt::format("  {:>{}}", table.cells[r][c], std::max<size_t>(table.columns[c].size(), 6));
    }
    out += "\n";
  }
  return out;
}

}  // namespace

std::string method_label(const nlohmann::json& record) {
  if (is_fp32(record)) return "FP32";
  const nlohmann::json config = record.value("config", nlohmann::json::object());
  const bool dynamic = config.value("qtype", "f32") != "f32" && record.value("mode", "") == "dynamic";
  const auto label_field = config.find("label");  // absent in older lines
  const std::string named =
      label_field != config.end() && label_field->is_string() ? label_field->get<std::string>() : "";
  if (!named.empty()) return record.value("precision", "?") + " " + named + (dynamic ? " [dynamic]" : "");
  std::vector<std::string> flags;
  for (const auto& [key, flag] : kMethodFlags) {
    if (config.value(key, false)) flags.push_back(flag);
  }
  if (config.value("weight_method", "rtn") == "gpfq") flags.insert(flags.begin(), "--weight-method gpfq");
  const bool activations_quantized = config.value("qtype", "f32") != "f32";
  if (activations_quantized) {  // the clipping reads best right after -pcq_a, else last
    const auto after = std::find(flags.begin(), flags.end(), "-pcq_a");
    flags.insert(after == flags.end() ? after : after + 1, "-c " + config.value("clipping", "no"));
  }
  std::string label = record.value("precision", "?");
  for (const auto& flag : flags) label += " " + flag;
  if (activations_quantized && record.value("mode", "") == "dynamic") label += " [dynamic]";
  return label;
}

ResultsTable build_results_table(const std::vector<ResultLine>& lines, const std::string& path) {
  TableCells cells;
  for (const ResultLine& line : lines) {
    if (shard_of(line, path).empty()) add_line(cells, line, path);
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
