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

// A numeric flag of a subcommand, declared as a string option so that a bad value names its flag (cxxopts' own
// message does not): "quant-sim gate: flag --tolerance: 'abc' is not a finite number >= 0".
double subcommand_non_negative_real(const cxxopts::Options& options, const cxxopts::ParseResult& parsed,
                                    const std::string& key);
int64_t subcommand_integer(const cxxopts::Options& options, const cxxopts::ParseResult& parsed, const std::string& key,
                           int64_t lo, int64_t hi);

// Prints the subcommand's help on stdout when -h/--help was given, and says whether it did.
bool printed_help(const cxxopts::Options& options, const cxxopts::ParseResult& parsed);

}  // namespace quantsim
