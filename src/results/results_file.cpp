#include "quantsim/results/results_file.h"

#include <cstdio>

#include <fmt/format.h>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/json_nesting.h"
#include "quantsim/core/message_text.h"
#include "quantsim/results/result_record.h"

namespace quantsim {
namespace {

// nlohmann's reason can quote a whole over-long token; a one-line error keeps its start.
constexpr size_t kMaxReasonLength = 200;

struct ParsedLine {
  nlohmann::json value;
  std::string error;          // empty when the line is valid JSON
  bool syntax_error = false;  // as a line cut short has; a number out of range is not one
};

// The line as JSON, or why it is not: nlohmann's reason without its "[json.exception...]" tag, and the last key read
// before the error, which names the field of a number out of range such as 1e400.
ParsedLine parse_line(const std::string& text) {
  if (std::string problem = json_nesting_problem(text); !problem.empty()) return {nullptr, std::move(problem), false};
  std::string last_key;
  const nlohmann::json::parser_callback_t remember_keys = [&](int, nlohmann::json::parse_event_t event,
                                                              nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key) last_key = parsed.get<std::string>();
    return true;
  };
  try {
    return {nlohmann::json::parse(text, remember_keys), "", false};
  } catch (const nlohmann::json::exception& e) {
    std::string reason = e.what();
    if (const size_t tag_end = reason.find("] "); tag_end != std::string::npos) reason.erase(0, tag_end + 2);
    reason = abbreviated(reason, kMaxReasonLength);
    if (!last_key.empty()) reason += " (after the key " + json_excerpt(last_key) + ")";
    return {nullptr, reason, dynamic_cast<const nlohmann::json::parse_error*>(&e) != nullptr};
  }
}

bool is_blank(const std::string& text) { return text.find_first_not_of(" \t\r") == std::string::npos; }

}  // namespace

ResultLine::ResultLine(int line_number, nlohmann::json record)
    : line_number(line_number),
      record(std::move(record)),
      fields(ResultRecord::from_json(this->record, fmt::format("line {}", line_number))) {}

ResultLine::ResultLine(int line_number, nlohmann::json record, ResultRecord fields)
    : line_number(line_number), record(std::move(record)), fields(std::move(fields)) {}

std::vector<ResultLine> read_results_file(const std::string& path) {
  const std::string text = read_file(path);
  std::vector<ResultLine> lines;
  int number = 0;
  for (size_t start = 0; start < text.size();) {
    const size_t newline = text.find('\n', start);
    const bool unterminated = newline == std::string::npos;  // the last line, without its '\n'
    const size_t end = unterminated ? text.size() : newline;
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (is_blank(line)) continue;
    const std::string where = fmt::format("{}:{}", path, number);
    ParsedLine parsed = parse_line(line);
    if (parsed.syntax_error && unterminated) {
      // What a write cut short by a crash or a full disk leaves behind (appends since are all-or-nothing): the lines
      // before it are whole, so they are read rather than refused with it.
      std::fprintf(stderr,
                   "quant-sim: warning: %s: skipping a torn last line (not valid JSON and no newline at its "
                   "end: a write was interrupted)\n",
                   where.c_str());
      break;
    }
    if (!parsed.error.empty()) {
      throw UserError(fmt::format("{}: not valid JSON: {}{}", where, parsed.error,
                                  parsed.syntax_error ? " (a line cut short by an interrupted write? delete it)" : ""));
    }
    ResultRecord fields = ResultRecord::from_json(parsed.value, where);  // refuses an impossible line
    lines.emplace_back(number, std::move(parsed.value), std::move(fields));
  }
  return lines;
}

}  // namespace quantsim
