// quant-sim entry point: everything lives in the app library; this only maps errors to exit codes.
#include <cstdio>
#include <exception>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "quantsim/app/commands/app.h"
#include "quantsim/core/errors.h"

namespace {

// Every batch frees and then allocates again the same activation tensors, a few MB each. With glibc's defaults those
// blocks go back to the kernel (munmap, or trimming the top of the heap), so every batch faults each page in afresh:
// a third of the CPU time of a small model's run (README, "CPU use pass, end to end"). Fixed thresholds keep freed
// blocks below 32 MiB in the process for reuse (at most the run's own peak); larger ones are still mapped per use.
void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest accepted value on 64-bit systems
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory_for_reuse();
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
