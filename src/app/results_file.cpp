#include "quantsim/results_file.h"

#include <sstream>

#include <fmt/format.h>

#include "quantsim/atomic_file.h"
#include "quantsim/errors.h"

namespace quantsim {

std::vector<ResultLine> read_results_file(const std::string& path) {
  std::istringstream in(read_file(path));
  std::vector<ResultLine> lines;
  int number = 0;
  for (std::string text; std::getline(in, text);) {
    ++number;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json record = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object()) throw UserError(fmt::format("{}:{}: not a JSON object", path, number));
    lines.push_back({number, std::move(record)});
  }
  return lines;
}

const nlohmann::json& required_field(const ResultLine& line, const std::string& path, const std::string& key) {
  const auto it = line.record.find(key);
  if (it == line.record.end() || it->is_null()) {
    throw UserError(fmt::format("{}:{}: no \"{}\" in this results line", path, line.line_number, key));
  }
  return *it;
}

std::string shard_of(const ResultLine& line, const std::string& path) {
  const nlohmann::json& config = required_field(line, path, "config");
  const auto it = config.find("shard");
  if (it == config.end() || it->is_null()) return "";
  if (!it->is_string()) throw UserError(fmt::format("{}:{}: config.shard is not \"K/N\"", path, line.line_number));
  return it->get<std::string>();
}

}  // namespace quantsim
