#pragma once

namespace quantsim {

// Parses argv, dispatches the subcommand (evaluate/collect/use by default), returns the exit code.
// Throws UserError for bad input.
int run_app(int argc, char** argv);

}  // namespace quantsim
