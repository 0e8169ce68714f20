#include "layerwise_weights.h"

#include <ATen/ATen.h>
#include <c10/util/accumulate.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "quantsim/core/errors.h"
#include "quantsim/core/stopwatch.h"
#include "quantsim/data/batch_loader.h"
#include "quantsim/data/progress_bar.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/quant/layer_samples.h"

namespace quantsim::gpfq {
namespace {

using Clock = std::chrono::steady_clock;

// Images per forward while capturing layer inputs: bounds the activation memory whatever -b says.
constexpr int kCaptureBatchSize = 32;
// The one-pass schedule runs when a forward of all calibration images at once is expected to keep at most this many
// bytes of activations alive, estimated as kLiveTensors times the largest layer input (measured: mobilenet_v2_q
// with 128 images at 224 x 224, estimate 2.5 GB, whole run 2.8 GB resident).
constexpr double kOnePassBytes = 3.0 * 1024.0 * 1024.0 * 1024.0;
constexpr double kLiveTensors = 4.0;

// Decodes the calibration images, all at one size.
CalibrationBatches load_calibration_batches(const LayerwiseJob& job, const ImageSet& calibration) {
  const std::string& root = calibration.root;
  const std::unique_ptr<BatchSource> loader = read_batches(  // decoded, or read from an image cache
      calibration, {kCaptureBatchSize, job.workers, 2, job.progress, job.label + " images"});
  CalibrationBatches batches;
  while (auto batch = loader->next()) {
    batches.images.push_back(batch->images);
    batches.image_indices.push_back(batch->indices);
  }
  check_bad_images(*loader, job.max_bad_image_share);
  if (batches.images.empty()) {
    throw UserError(fmt::format("{}: no {} calibration image could be decoded", root, job.method));
  }
  // Every image must give each layer the same number of rows (and the one-pass schedule stacks them all).
  const at::IntArrayRef size = batches.images.front().sizes().slice(1);
  for (const at::Tensor& images : batches.images) {
    if (!images.sizes().slice(1).equals(size)) {
      throw UserError(fmt::format("{}: {} calibration images differ in size ([{}] and [{}]); use --crop", root,
                                  job.method, fmt::join(size, ", "), fmt::join(images.sizes().slice(1), ", ")));
    }
  }
  return batches;
}

PreparedModel load_capturing_model(const ModelFile& model, const c10::Device& device, const LayerwiseJob& job) {
  PrepareOptions options;
  options.act_sites = ActSites::kInputs;
  options.output = job.output;
  options.cross_layer_equalization = job.cross_layer_equalization;
  PreparedModel prepared = PreparedModel::load(model.path, options);
  prepared.to(device);
  return prepared;
}

// Expected size of a layer's sampled input rows over the calibration set.
double expected_sample_bytes(const Layer& layer, const std::vector<int64_t>& input_shape, int64_t images,
                             double patch_probability) {
  const at::Tensor& weight = layer.original_weight;
  const double inputs_per_row = static_cast<double>(weight.numel() / weight.size(0) * layer.groups);
  const double probability = layer.kind == LayerKind::kLinear ? 1.0 : patch_probability;
  return static_cast<double>(images * rows_per_image(layer, input_shape)) * probability * inputs_per_row *
         sizeof(float);
}

}  // namespace

LayerwiseResult layerwise_quantized_weights(const LayerwiseJob& job, const ImageSet& calibration,
                                            const ModelFile& model, const c10::Device& device, GpfqSchedule schedule) {
  const auto start = Clock::now();
  const CalibrationBatches batches = load_calibration_batches(job, calibration);
  const PreparedModel reference = load_capturing_model(model, device, job);
  PreparedModel partial = load_capturing_model(model, device, job);

  const std::vector<Layer>& layers = reference.layers();
  const auto shapes = layer_input_shapes(reference, batches.images.front().narrow(0, 0, 1));
  LayerwiseResult result;
  result.weights.resize(layers.size());
  std::vector<int64_t> quantized_layers;
  std::vector<double> bytes;
  double activation_bytes = 0.0;
  for (const Layer& layer : layers) {
    const auto i = static_cast<size_t>(layer.index);
    activation_bytes = std::max(
        activation_bytes,
        kLiveTensors * sizeof(float) * static_cast<double>(c10::multiply_integers(shapes[i]) * batches.image_count()));
    if (!job.quantizes(layer)) {
      result.weights[i].weight = layer.original_weight;
      continue;
    }
    check_layer_samplable(layer);
    quantized_layers.push_back(layer.index);
    bytes.push_back(expected_sample_bytes(layer, shapes[i], batches.image_count(), job.sampling.patch_probability));
  }
  ReferenceInputs reference_inputs(reference, batches, job.sampling, quantized_layers, bytes);
  ProgressBar progress(job.label + " layers", static_cast<int64_t>(quantized_layers.size()), job.progress);
  GpfqRun run{batches,        job.sampling,     reference_inputs,
              partial,        quantized_layers, job.make_quantizer(batches, shapes),
              result.weights, progress};
  result.one_pass = schedule == GpfqSchedule::kOnePass ||
                    (schedule == GpfqSchedule::kAuto && activation_bytes <= kOnePassBytes);
  if (result.one_pass) {
    quantize_in_one_pass(run);
  } else {
    quantize_with_a_pass_per_layer(run);
  }
  progress.finish();
  result.quantized_layers = quantized_layers.size();
  result.images = batches.image_count();
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace quantsim::gpfq
