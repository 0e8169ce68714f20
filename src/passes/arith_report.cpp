#include "quantsim/passes/arith_report.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include <fmt/format.h>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"

namespace quantsim {
namespace {

constexpr const char* kColumns[] = {"tensor",
                                    "kind",
                                    "elements",
                                    "differing_share",
                                    "max_step_difference",
                                    "mean_abs_step_difference",
                                    "images_differing_share",
                                    "logit_mean_abs_rel",
                                    "logit_max_abs_rel",
                                    "top1_differs_share"};

nlohmann::ordered_json empty_row() {
  nlohmann::ordered_json row;
  for (const char* column : kColumns) row[column] = nullptr;
  return row;
}

std::string csv_quoted(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string csv_cell(const nlohmann::ordered_json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return csv_quoted(value.get<std::string>());
  return value.dump();
}

}  // namespace

ArithReportFormat arith_report_format(const std::string& path) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == ".csv") return ArithReportFormat::kCsv;
  if (extension == ".json") return ArithReportFormat::kJson;
  throw UserError(
      fmt::format("flag --arith-report: '{}' does not end in .csv or .json (the extension picks the format)", path));
}

std::vector<nlohmann::ordered_json> arith_report_rows(const std::vector<Site>& sites, const ArithGap& gap) {
  std::vector<nlohmann::ordered_json> rows;
  for (const int64_t id : gap.order) {
    const SiteCodeGap& site = gap.sites.at(static_cast<size_t>(id));
    nlohmann::ordered_json row = empty_row();
    row["tensor"] = id >= 0 && id < static_cast<int64_t>(sites.size()) ? sites[static_cast<size_t>(id)].name
                                                                       : fmt::format("site {}", id);
    row["kind"] = "site";
    row["elements"] = site.elements;
    row["differing_share"] = site.differing_share();
    row["max_step_difference"] = site.max_step;
    row["mean_abs_step_difference"] = site.mean_abs_step();
    row["images_differing_share"] = site.images_differing_share();
    rows.push_back(std::move(row));
  }
  const LogitGap& logits = gap.logits;
  nlohmann::ordered_json row = empty_row();
  row["tensor"] = "logits";
  row["kind"] = "logits";
  row["elements"] = logits.elements;
  row["differing_share"] = logits.differing_share();
  row["images_differing_share"] = logits.images_differing_share();
  row["logit_mean_abs_rel"] = logits.mean_abs_relative();
  row["logit_max_abs_rel"] = logits.max_abs_relative();
  row["top1_differs_share"] = logits.top1_differs_share();
  rows.push_back(std::move(row));
  return rows;
}

std::string arith_report_csv(const std::vector<Site>& sites, const ArithGap& gap) {
  std::string text;
  for (const char* column : kColumns) text += (text.empty() ? "" : ",") + std::string(column);
  text += "\n";
  for (const nlohmann::ordered_json& row : arith_report_rows(sites, gap)) {
    std::string line;
    for (const char* column : kColumns) line += (line.empty() ? "" : ",") + csv_cell(row.at(column));
    text += line + "\n";
  }
  return text;
}

nlohmann::ordered_json arith_report_json(const ArithReportHeader& header, const std::vector<Site>& sites,
                                         const ArithGap& gap) {
  nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
  for (nlohmann::ordered_json& row : arith_report_rows(sites, gap)) tensors.push_back(std::move(row));
  return {{"model", header.model},       {"model_sha256", header.model_sha256},        {"precision", header.precision},
          {"images", gap.logits.images}, {"float_logits_std", gap.logits.float_std()}, {"tensors", std::move(tensors)}};
}

void write_arith_report(const std::string& path, const ArithReportHeader& header, const std::vector<Site>& sites,
                        const ArithGap& gap) {
  const std::string text = arith_report_format(path) == ArithReportFormat::kJson
                               ? arith_report_json(header, sites, gap).dump(1) + "\n"
                               : arith_report_csv(sites, gap);
  write_file_atomically(path, text);
}

}  // namespace quantsim
