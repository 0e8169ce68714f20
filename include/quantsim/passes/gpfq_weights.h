#pragma once
// --weight-method gpfq for a whole network: GPFQ (gpfq.h) layer by layer in execution order, each layer learning
// from its inputs in the FP32 network (X) and in the network whose earlier layers already hold their GPFQ weights
// (X~), on --gpfq-samples calibration images. Definition and choices: docs/QUANTIZATION.md, section 12.
#include <c10/core/Device.h>

#include <vector>

#include "quantsim/data/image_set.h"
#include "quantsim/data/model_file.h"
#include "quantsim/graph/model_output.h"
#include "quantsim/quant/weight_correction.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim {

// GPFQ's settings (--weight-method gpfq, docs/QUANTIZATION.md) and how it reads its calibration images.
struct GpfqOptions {
  int bits = 8;                       // -qw; the alphabet of every quantized layer
  int first_last_bits = 8;            // --first-last-bits; 0: those layers stay float
  bool per_channel = false;           // -pcq_w: one step size per output channel
  WeightCorrections corrections;      // -vcw, -bcw, applied to each layer's GPFQ weights
  double scale = 1.16;                // --gpfq-scale
  double patch_prob = 0.25;           // --gpfq-patch-prob
  uint64_t seed = 0;                  // --seed: which conv patches are kept
  int workers = 4;                    // -j: decode threads
  bool progress = true;               // progress bars on stderr
  double max_bad_image_share = 0.01;  // --max-bad-images
  OutputChoice output = {};           // --output: the logits element of the model's output
  // --cle: the model GPFQ runs is prepared with it, as the run's.
  bool cross_layer_equalization = false;
};

// How the partly quantized network is run for X~ (see src/passes/gpfq_passes.h): kAuto takes one pass over all
// calibration images at once when its activations are expected to fit in about 3 GiB, else a pass per layer in
// batches.
enum class GpfqSchedule { kAuto, kOnePass, kPassPerLayer };

// The quantized weight of every layer of `model` (index = Layer::index; layers left float at 0 bits keep their
// original weight), computed on `device`.
std::vector<QuantizedWeight> gpfq_quantized_weights(const GpfqOptions& options, const ImageSet& calibration,
                                                    const ModelFile& model, const c10::Device& device,
                                                    GpfqSchedule schedule = GpfqSchedule::kAuto);

}  // namespace quantsim
