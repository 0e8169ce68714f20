#pragma once
// Which runs --export can serve (model_export.h), checked when the command line is parsed, before any work.
#include "quantsim/config.h"

namespace quantsim {

// Refuses (UserError, one line) -sm collect, an FP32 run, and dynamic activation ranges (-sm no with --qtype intN),
// which cannot be folded into a model.
void check_export_config(const Config& config);

}  // namespace quantsim
