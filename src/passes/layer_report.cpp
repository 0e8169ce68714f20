#include "quantsim/passes/layer_report.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"

namespace quantsim {
namespace {

// The CSV columns, in order: every key of a JSON entry.
constexpr std::array kColumns = {"kind",        "name",      "index",      "type",          "unsigned",
                                 "per_channel", "channels",  "bits",       "bits_mean",     "bits_histogram",
                                 "range_min",   "range_max", "mean_width", "alpha",         "clip_fraction",
                                 "mse",         "sqnr_db",   "local_mse",  "local_sqnr_db", "values"};

template <typename T>
nlohmann::json optional_json(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

// Channel counts are whole numbers except for dynamic ranges, where they are means over batches.
nlohmann::json count_json(double count) {
  return count == std::floor(count) ? nlohmann::json(static_cast<int64_t>(count)) : nlohmann::json(count);
}

nlohmann::json histogram_json(const std::map<int, double>& histogram) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [bits, channels] : histogram) json[std::to_string(bits)] = count_json(channels);
  return json;
}

void add_params(nlohmann::json& json, const std::optional<QuantParamsSummary>& params) {
  if (!params) {  // left float
    json.update({{"per_channel", false},
                 {"channels", 0},
                 {"bits_mean", 0},
                 {"bits_histogram", nlohmann::json::object()},
                 {"range_min", nullptr},
                 {"range_max", nullptr},
                 {"mean_width", nullptr},
                 {"alpha", nullptr},
                 {"clip_fraction", nullptr}});
    return;
  }
  json.update({{"per_channel", params->per_channel},
               {"channels", params->channels},
               {"bits_mean", params->bits_mean},
               {"bits_histogram", histogram_json(params->bits_histogram)},
               {"range_min", params->range_min},
               {"range_max", params->range_max},
               {"mean_width", params->mean_width},
               {"alpha", optional_json(params->alpha)},
               {"clip_fraction", optional_json(params->clip_fraction)}});
}

nlohmann::json entry_json(const LayerReportEntry& entry) {
  nlohmann::json json = {{"kind", entry.kind},
                         {"name", entry.name},
                         {"index", entry.index},
                         {"type", entry.type},
                         {"unsigned", entry.is_unsigned},
                         {"bits", entry.bits},
                         {"mse", entry.error.mse},
                         {"sqnr_db", optional_json(entry.error.sqnr_db)},
                         {"local_mse", entry.local_error.mse},
                         {"local_sqnr_db", optional_json(entry.local_error.sqnr_db)},
                         {"values", entry.values}};
  add_params(json, entry.params);
  return json;
}

std::string csv_quoted(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string csv_cell(const nlohmann::json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return csv_quoted(value.get<std::string>());
  if (value.is_object()) {  // bits_histogram
    std::string cell;
    for (const auto& [bits, channels] : value.items()) cell += (cell.empty() ? "" : ";") + bits + ":" + channels.dump();
    return cell;
  }
  return value.dump();
}

std::string lowercase_extension(const std::string& path) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension;
}

// The entry's keys in column order, for a file that reads like the CSV.
nlohmann::ordered_json ordered_entry_json(const LayerReportEntry& entry) {
  const nlohmann::json json = entry_json(entry);
  nlohmann::ordered_json ordered;
  for (const char* column : kColumns) ordered[column] = json.at(column);
  return ordered;
}

}  // namespace

LayerReportFormat layer_report_format(const std::string& path) {
  const std::string extension = lowercase_extension(path);
  if (extension == ".json") return LayerReportFormat::kJson;
  if (extension == ".csv") return LayerReportFormat::kCsv;
  throw UserError(
      fmt::format("flag --layer-report: '{}' does not end in .json or .csv (the extension picks the format)", path));
}

nlohmann::ordered_json layer_report_json(const LayerReport& report) {
  nlohmann::ordered_json entries = nlohmann::ordered_json::array();
  for (const LayerReportEntry& entry : report.entries) entries.push_back(ordered_entry_json(entry));
  return {{"model", report.model},         {"model_sha256", report.model_sha256},
          {"precision", report.precision}, {"act_sites", report.act_sites},
          {"ranges", report.ranges},       {"images", report.images},
          {"entries", std::move(entries)}};
}

std::string layer_report_csv(const LayerReport& report) {
  std::string csv;
  for (const char* column : kColumns) csv += std::string(csv.empty() ? "" : ",") + column;
  csv += "\n";
  for (const LayerReportEntry& entry : report.entries) {
    const nlohmann::json json = entry_json(entry);
    std::string row;
    for (size_t i = 0; i < kColumns.size(); ++i) row += (i == 0 ? "" : ",") + csv_cell(json.at(kColumns[i]));
    csv += row + "\n";
  }
  return csv;
}

void write_layer_report(const std::string& path, const LayerReport& report) {
  const std::string text = layer_report_format(path) == LayerReportFormat::kJson
                               ? layer_report_json(report).dump(1) + "\n"
                               : layer_report_csv(report);
  write_file_atomically(path, text);
}

}  // namespace quantsim
