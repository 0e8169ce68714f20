#pragma once
// `quant-sim gate RESULTS.jsonl --baseline FILE [--write-baseline [--tolerance T] [--rule R]]`: the accuracy
// regression gate (accuracy_gate.h). Prints one line per baseline entry; exits 0 when every entry passes its rule
// (tolerance, significant drop or both), 3 when any dropped, is missing, was evaluated on other images or lacks the
// per-image data its rule needs. --write-baseline (re)writes FILE from the results instead.
#include <string>
#include <vector>

namespace quantsim {

// The subcommand; `args` follow "gate".
int run_gate_command(const std::vector<std::string>& args);

}  // namespace quantsim
