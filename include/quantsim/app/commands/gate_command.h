#pragma once
// `quant-sim gate RESULTS.jsonl --baseline FILE [--write-baseline [--tolerance T]]`: the accuracy regression gate
// (accuracy_gate.h). Prints one line per baseline entry; exits 0 when every entry is within its tolerance, 1 when
// any dropped, is missing or was evaluated on other images. --write-baseline (re)writes FILE from the results instead.
#include <string>
#include <vector>

namespace quantsim {

// The subcommand; `args` follow "gate".
int run_gate_command(const std::vector<std::string>& args);

}  // namespace quantsim
