#include "quantsim/passes/gpfq_weights.h"

#include <cstdio>

#include "layerwise_weights.h"
#include "quantsim/quant/gpfq_layer.h"

namespace quantsim {
namespace {

int layer_bits(const GpfqOptions& options, const Layer& layer) {
  return effective_bits(options.bits, options.first_last_bits, layer.first || layer.last);
}

GpfqLayerOptions layer_options(const GpfqOptions& options, int bits) {
  GpfqLayerOptions layer;
  layer.bits = bits;
  layer.scale = options.scale;
  layer.per_channel = options.per_channel;
  layer.corrections = options.corrections;
  return layer;
}

}  // namespace

std::vector<QuantizedWeight> gpfq_quantized_weights(const GpfqOptions& gpfq, const ImageSet& calibration,
                                                    const ModelFile& model, const c10::Device& device,
                                                    GpfqSchedule schedule) {
  gpfq::LayerwiseJob job;
  job.method = "GPFQ";
  job.label = "gpfq";
  job.sampling = {gpfq.patch_prob, gpfq.seed};
  job.workers = gpfq.workers;
  job.progress = gpfq.progress;
  job.max_bad_image_share = gpfq.max_bad_image_share;
  job.output = gpfq.output;
  job.cross_layer_equalization = gpfq.cross_layer_equalization;
  job.quantizes = [&gpfq](const Layer& layer) { return layer_bits(gpfq, layer) != 0; };
  job.make_quantizer = [&gpfq](const CalibrationBatches&, const std::vector<std::vector<int64_t>>&) {
    return [&gpfq](const Layer& layer, const at::Tensor& x, const at::Tensor& x_tilde) {
      return gpfq_layer_weight(layer, x, x_tilde, layer_options(gpfq, layer_bits(gpfq, layer)));
    };
  };
  gpfq::LayerwiseResult result = gpfq::layerwise_quantized_weights(job, calibration, model, device, schedule);
  std::fprintf(stderr,
               "quant-sim: GPFQ weights of %zu layers from %lld calibration images (conv patches kept with "
               "probability %g, %s) in %.1f s\n",
               result.quantized_layers, static_cast<long long>(result.images), gpfq.patch_prob,
               result.one_pass ? "one pass" : "a pass per layer", result.seconds);
  return std::move(result.weights);
}

}  // namespace quantsim
