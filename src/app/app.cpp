#include "quantsim/app.h"

#include <cstdio>

namespace quantsim {

int run_app(int argc, char** argv) {
  (void)argc;
  (void)argv;
  std::puts("quant-sim: not yet wired");
  return 0;
}

}  // namespace quantsim
