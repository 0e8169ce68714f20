#pragma once
// --weight-method adaround for a whole network: AdaRound (adaround.h) layer by layer in execution order, each layer
// learning its rounding from its inputs in the FP32 network (X, whose outputs W X are the targets) and in the network
// whose earlier layers already hold their AdaRound weights (X~), on --adaround-samples images of --calib-data. The
// images, sample rows and both schedules are GPFQ's (gpfq_weights.h). Definition and choices: docs/QUANTIZATION.md,
// section 13.
#include <c10/core/Device.h>

#include <vector>

#include "quantsim/data/image_set.h"
#include "quantsim/data/model_file.h"
#include "quantsim/graph/model_output.h"
#include "quantsim/passes/gpfq_weights.h"
#include "quantsim/quant/adaround.h"
#include "quantsim/quant/quant_options.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim {

struct AdaRoundRunOptions {
  WeightQuantOptions rtn;                 // the grid (and -vcw/-bcw) of round to nearest
  AdaRoundOptions adaround;               // --adaround-* and --seed
  double patch_prob = 0.25;               // --adaround-patch-prob: share of conv patches kept as sample rows
  int workers = 4;                        // -j: decode threads
  bool progress = true;                   // progress bars on stderr
  double max_bad_image_share = 0.01;      // --max-bad-images
  OutputChoice output = {};               // --output: the logits element of the model's output
  bool cross_layer_equalization = false;  // --cle: learn on the equalised model, as the run evaluates it
};

// The quantized weight of every layer of `model` (index = Layer::index; layers left float keep their original
// weight), computed on `device`. `schedule` as for GPFQ.
std::vector<QuantizedWeight> adaround_quantized_weights(const AdaRoundRunOptions& options, const ImageSet& calibration,
                                                        const ModelFile& model, const c10::Device& device,
                                                        GpfqSchedule schedule = GpfqSchedule::kAuto);

}  // namespace quantsim
