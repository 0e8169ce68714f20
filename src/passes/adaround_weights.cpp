#include "quantsim/passes/adaround_weights.h"

#include <cstdio>

#include "layerwise_weights.h"

namespace quantsim {

std::vector<QuantizedWeight> adaround_quantized_weights(const AdaRoundRunOptions& options, const ImageSet& calibration,
                                                        const ModelFile& model, const c10::Device& device,
                                                        GpfqSchedule schedule) {
  gpfq::LayerwiseJob job;
  job.method = "AdaRound";
  job.label = "adaround";
  job.sampling = {options.patch_prob, options.adaround.seed};
  job.workers = options.workers;
  job.progress = options.progress;
  job.max_bad_image_share = options.max_bad_image_share;
  job.output = options.output;
  job.cross_layer_equalization = options.cross_layer_equalization;
  job.quantizes = [&options](const Layer& layer) {
    return effective_bits(options.rtn.bits, options.rtn.first_last_bits, layer.first || layer.last) != 0;
  };
  double compared = 0.0, ratio_sum = 0.0, undecided = 0.0;
  int64_t layers = 0;
  job.make_quantizer = [&](const CalibrationBatches& batches, const std::vector<std::vector<int64_t>>& shapes) {
    return [&, shapes](const Layer& layer, const at::Tensor& x, const at::Tensor& x_tilde) {
      const std::vector<int64_t> rows = sampled_rows_per_image(layer, shapes.at(static_cast<size_t>(layer.index)),
                                                               batches, {options.patch_prob, options.adaround.seed});
      AdaRoundOutcome outcome;
      QuantizedWeight weight = adaround_layer_weight(layer, x, x_tilde, rows, options.rtn, options.adaround, &outcome);
      // Reconstruction error relative to round to nearest's on the calibration rows, averaged over the layers.
      if (outcome.initial_loss > 0.0) {
        compared += 1.0;
        ratio_sum += outcome.final_loss / outcome.initial_loss;
      }
      undecided += outcome.undecided;
      ++layers;
      return weight;
    };
  };
  gpfq::LayerwiseResult result = gpfq::layerwise_quantized_weights(job, calibration, model, device, schedule);
  std::fprintf(stderr,
               "quant-sim: AdaRound weights of %zu layers from %lld calibration images (%lld iterations, conv patches "
               "kept with probability %g, %s) in %.1f s; output error / round to nearest's %.3f (mean over layers), "
               "%.2f%% of roundings soft at the end\n",
               result.quantized_layers, static_cast<long long>(result.images),
               static_cast<long long>(options.adaround.iterations), options.patch_prob,
               result.one_pass ? "one pass" : "a pass per layer", result.seconds,
               compared > 0 ? ratio_sum / compared : 1.0,
               layers > 0 ? 100.0 * undecided / static_cast<double>(layers) : 0.0);
  return std::move(result.weights);
}

}  // namespace quantsim
