// quant-sim entry point: everything lives in the app library; this only maps errors to exit codes.
#include <cstdio>
#include <exception>

#include "quantsim/app/commands/app.h"
#include "quantsim/core/errors.h"

int main(int argc, char** argv) {
  try {
    return quantsim::run_app(argc, argv);
  } catch (const quantsim::UserError& e) {
    std::fprintf(stderr, "quant-sim: error: %s\n", e.what());
    return quantsim::kExitUserError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quant-sim: internal error: %s\n", e.what());
    return quantsim::kExitInternalError;
  }
}
