#pragma once
// What --weight-method gpfq and --weight-method adaround share: decode the calibration images, run the FP32 and the
// partly quantized network in one of the two schedules of gpfq_passes.h, and hand each layer, in execution order,
// its sample rows X and X~ to the method's own quantizer. The methods differ only in that quantizer and in their
// names in messages.
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gpfq_passes.h"
#include "quantsim/data/image_set.h"
#include "quantsim/data/model_file.h"
#include "quantsim/graph/model_output.h"
#include "quantsim/passes/gpfq_weights.h"
#include "quantsim/passes/layer_input_capture.h"

namespace quantsim::gpfq {

struct LayerwiseJob {
  std::string method;  // "GPFQ", "AdaRound": names the method in errors
  std::string label;   // "gpfq", "adaround": names its progress bars
  RowSampling sampling;
  int workers = 4;
  bool progress = true;
  double max_bad_image_share = 0.01;
  OutputChoice output = {};
  bool cross_layer_equalization = false;        // --cle: capture from the equalised model, as the run evaluates it
  std::function<bool(const Layer&)> quantizes;  // false: the layer stays float, untouched
  // Builds the quantizer once the calibration images are decoded; `input_shapes` are every layer's input shape for
  // one image (layer order), which the quantizer needs to know which of the sample rows come from which image.
  std::function<LayerQuantizer(const CalibrationBatches& batches,
                               const std::vector<std::vector<int64_t>>& input_shapes)>
      make_quantizer;
};

struct LayerwiseResult {
  std::vector<QuantizedWeight> weights;  // by layer index; the original weight for layers left float
  size_t quantized_layers = 0;
  int64_t images = 0;
  bool one_pass = false;
  double seconds = 0.0;
};

LayerwiseResult layerwise_quantized_weights(const LayerwiseJob& job, const ImageSet& calibration,
                                            const ModelFile& model, const c10::Device& device, GpfqSchedule schedule);

}  // namespace quantsim::gpfq
