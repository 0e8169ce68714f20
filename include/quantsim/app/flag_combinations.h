#pragma once
// Flags that make no sense together: refused when the run would silently do something other than what was asked
// (an FP32 run given quantization flags, outputs of an evaluation asked of -sm collect), warned about when the flag
// is merely inert in an otherwise sound run (-baa without -pcq_a, as in the paper's own command line).
#include <map>
#include <string>
#include <vector>

#include "quantsim/app/config.h"

namespace quantsim {

// Flags given explicitly: cxxopts key ("pcq_w", "clipping", "save-logits", ...) -> value as written ("true" for a
// switch).
using GivenFlags = std::map<std::string, std::string>;

// Throws UserError naming the flag for a refused combination; returns one warning line for each given flag that has
// no effect.
std::vector<std::string> check_flag_combinations(const Config& config, const GivenFlags& given);

}  // namespace quantsim
