#include "quantsim/app/commands/subcommand_args.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "quantsim/app/cli.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/message_text.h"

namespace quantsim {

cxxopts::ParseResult parse_subcommand_args(cxxopts::Options& options, const std::string& positional,
                                           const std::vector<std::string>& args) {
  std::vector<std::string> words{options.program()};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  options.parse_positional({positional});
  options.positional_help("");  // the custom help already names the positional argument
  try {
    cxxopts::ParseResult result = options.parse(static_cast<int>(argv.size()), argv.data());
    if (!result.unmatched().empty()) {
      throw UserError(fmt::format("{}: unexpected argument '{}'", options.program(), result.unmatched().front()));
    }
    if (result.count("help") == 0 && result.count(positional) == 0) {
      throw UserError(fmt::format("{}: missing {} (see {} --help)", options.program(), positional, options.program()));
    }
    return result;
  } catch (const cxxopts::exceptions::exception& e) {
    throw UserError(
        fmt::format("{}: bad command line: {} (see {} --help)", options.program(), e.what(), options.program()));
  }
}

namespace {

[[noreturn]] void bad_value(const cxxopts::Options& options, const std::string& key, const std::string& value,
                            const std::string& expected) {
  throw UserError(fmt::format("{}: flag --{}: '{}' is not {}", options.program(), key, abbreviated(value), expected));
}

}  // namespace

double subcommand_non_negative_real(const cxxopts::Options& options, const cxxopts::ParseResult& parsed,
                                    const std::string& key) {
  const std::string value = parsed[key].as<std::string>();
  char* end = nullptr;
  errno = 0;
  const double result = value.empty() ? -1.0 : std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(result) || result < 0) {
    bad_value(options, key, value, "a finite number >= 0");
  }
  return result;
}

int64_t subcommand_integer(const cxxopts::Options& options, const cxxopts::ParseResult& parsed, const std::string& key,
                           int64_t lo, int64_t hi) {
  const std::string value = parsed[key].as<std::string>();
  int64_t result = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), result);
  if (error != std::errc() || end != value.data() + value.size() || result < lo || result > hi) {
    bad_value(options, key, value, fmt::format("an integer in {}..{}", lo, hi));
  }
  return result;
}

bool printed_help(const cxxopts::Options& options, const cxxopts::ParseResult& parsed) {
  if (parsed.count("help") == 0) return false;
  std::fputs(options.help().c_str(), stdout);
  return true;
}

}  // namespace quantsim
