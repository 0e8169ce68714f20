#include "quantsim/export_check.h"

#include "quantsim/errors.h"

namespace quantsim {

void check_export_config(const Config& config) {
  if (config.stats_mode == StatsMode::kCollect) {
    throw UserError("--export needs an evaluation run (-sm use, or -sm no for weights only), not -sm collect");
  }
  if (config.act_bits == 0 && config.weight_bits == 0) {
    throw UserError("--export needs a quantized run (--qtype and/or -qw); an FP32 model is its own export");
  }
  if (config.stats_mode == StatsMode::kNo && config.act_bits != 0) {
    throw UserError("--export cannot fold dynamic activation ranges (-sm no) into a model: collect statistics "
                    "(-sm collect) and export with -sm use, or quantize only the weights (--qtype f32)");
  }
}

}  // namespace quantsim
