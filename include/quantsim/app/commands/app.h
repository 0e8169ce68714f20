#pragma once
// quant-sim's entry point: the command line in, the main job or a subcommand run, the exit code out.

namespace quantsim {

// Parses argv, dispatches the subcommand (evaluate/collect/use by default), returns the exit code.
// Throws UserError for bad input, and when what the command printed could not be written to standard output.
int run_app(int argc, char** argv);

}  // namespace quantsim
