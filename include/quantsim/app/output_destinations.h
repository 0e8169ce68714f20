#pragma once
// The files a run writes, checked before anything runs.
#include "quantsim/app/config.h"

namespace quantsim {

// Refuses, before anything runs, output files of `config` that could not be written: --results, --save-logits,
// --layer-report and --export that name a directory, FIFO, device, dangling link or link loop. The error names the
// flag.
void check_output_destinations(const Config& config);

}  // namespace quantsim
