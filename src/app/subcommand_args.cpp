#include "quantsim/subcommand_args.h"

#include <cstdio>

#include <fmt/format.h>

#include "quantsim/errors.h"

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
    throw UserError(fmt::format("{}: bad command line: {} (see {} --help)", options.program(), e.what(),
                                options.program()));
  }
}

bool printed_help(const cxxopts::Options& options, const cxxopts::ParseResult& parsed) {
  if (parsed.count("help") == 0) return false;
  std::fputs(options.help().c_str(), stdout);
  return true;
}

}  // namespace quantsim
