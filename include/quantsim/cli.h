#pragma once
// Command-line parsing: the flags of SPEC section 8, including the single-dash long flags of the public
// inference_sim.py (`-pcq_w`, `-baa`, ...), into a Config.
#include <string>
#include <vector>

#include "quantsim/config.h"

namespace quantsim {

struct ParsedCommandLine {
  Config config;
  bool help = false;
  bool version = false;
  std::string help_text;
};

// Throws UserError with a one-line message for unknown flags, missing or malformed values.
ParsedCommandLine parse_command_line(const std::vector<std::string>& args);

// "int4" -> 4, "f32" -> 0 (not quantized); throws UserError naming `flag` otherwise. Bits must be 1..16.
int parse_bit_width(const std::string& flag, const std::string& value);

// "no" | "laplace" | "gaus" | "gauss" | "<N>std".
Clipping parse_clipping(const std::string& value);

}  // namespace quantsim
