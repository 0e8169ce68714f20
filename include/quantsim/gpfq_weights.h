#pragma once
// --weight-method gpfq for a whole network: GPFQ (gpfq.h) layer by layer in execution order, each layer learning
// from its inputs in the FP32 network (X) and in the network whose earlier layers already hold their GPFQ weights
// (X~), on --gpfq-samples calibration images. Definition and choices: docs/QUANTIZATION.md, section GPFQ.
#include <c10/core/Device.h>

#include <vector>

#include "quantsim/config.h"
#include "quantsim/run_inputs.h"
#include "quantsim/weight_quantization.h"

namespace quantsim {

// Which GPFQ flags the command line set explicitly (they are refused without --weight-method gpfq).
struct GpfqFlagsGiven {
  bool scale = false;
  bool patch_prob = false;
  bool samples = false;
};

// Throws UserError (one line, naming the flag) for an out-of-range GPFQ setting, a GPFQ flag without
// --weight-method gpfq, or a combination GPFQ does not define: float weights (-qw f32), -baw, --clip-weights.
void check_gpfq_config(const Config& config, const GpfqFlagsGiven& given = {});

// How the partly quantized network is run for X~ (see src/app/gpfq_passes.h): kAuto takes one pass over all
// calibration images at once when its activations are expected to fit in about 3 GiB, else a pass per layer in
// batches.
enum class GpfqSchedule { kAuto, kOnePass, kPassPerLayer };

// The quantized weight of every layer of `model` (index = Layer::index; layers left float at 0 bits keep their
// original weight), computed on `device`.
std::vector<QuantizedWeight> gpfq_quantized_weights(const Config& config, const ModelFile& model,
                                                    const c10::Device& device,
                                                    GpfqSchedule schedule = GpfqSchedule::kAuto);

}  // namespace quantsim
