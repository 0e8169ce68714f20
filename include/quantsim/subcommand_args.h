#pragma once
// Command-line parsing shared by the small subcommands (`quant-sim merge`, `report`, `sweep`, `gate`).
#include <string>
#include <vector>

#include <cxxopts.hpp>

namespace quantsim {

// Parses `args` (after the subcommand's name) with `options`, whose one positional option is `positional`.
// Throws UserError, naming the subcommand, for unknown flags, bad values, extra arguments or a missing positional.
cxxopts::ParseResult parse_subcommand_args(cxxopts::Options& options, const std::string& positional,
                                           const std::vector<std::string>& args);

// Prints the subcommand's help on stdout when -h/--help was given, and says whether it did.
bool printed_help(const cxxopts::Options& options, const cxxopts::ParseResult& parsed);

}  // namespace quantsim
