#pragma once
// `quant-sim inspect MODEL [--act-sites outputs|inputs|both] [--json]`: what quant-sim makes of a model, for a reader
// new to it: the quantized layers (conv/linear), the activation sites of each mode, and the ops left in float with
// their module paths (docs/QUANTIZATION.md, section 4). --json writes the same as one JSON document for scripts.
#include <string>
#include <vector>

namespace quantsim {

// The subcommand; `args` follow "inspect".
int run_inspect_command(const std::vector<std::string>& args);

}  // namespace quantsim
