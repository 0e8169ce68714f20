#pragma once
// Command-line parsing: the flags of docs/CLI.md, including the single-dash long flags of the public
// inference_sim.py (`-pcq_w`, `-baa`, ...), into a Config.
#include <string>
#include <vector>

#include "quantsim/app/config.h"

namespace quantsim {

struct ParsedCommandLine {
  Config config;
  bool help = false;
  bool version = false;
  std::string help_text;
  // One line each (without the "quant-sim: warning: " prefix) for flags that are given but change nothing in this
  // run; run_app prints them.
  std::vector<std::string> warnings;
};

// Throws UserError with a one-line message naming the flag for unknown flags, missing, empty, malformed or
// out-of-range values, and flags that make no sense together (flag_combinations.h).
ParsedCommandLine parse_command_line(const std::vector<std::string>& args);

// "int4" -> 4, "f32" -> 0 (not quantized); throws UserError naming `flag` otherwise. Bits must be 1..16.
int parse_bit_width(const std::string& flag, const std::string& value);

// How a flag, by its cxxopts key ("batch-size", "pcq_w", "data"), is written in messages: "-b/--batch-size",
// "-pcq_w", "--data".
std::string flag_label(const std::string& key);

}  // namespace quantsim
