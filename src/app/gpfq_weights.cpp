#include "quantsim/gpfq_weights.h"

#include <ATen/ATen.h>
#include <c10/util/accumulate.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "gpfq_passes.h"
#include "quantsim/batch_loader.h"
#include "quantsim/errors.h"
#include "quantsim/gpfq_layer.h"
#include "quantsim/layer_input_capture.h"
#include "quantsim/layer_samples.h"
#include "quantsim/prepared_model.h"
#include "quantsim/progress_bar.h"
#include "quantsim/quant_options.h"
#include "quantsim/run_support.h"

namespace quantsim {
namespace {

using Clock = std::chrono::steady_clock;

// Images per forward while capturing layer inputs: bounds the activation memory whatever -b says.
constexpr int kCaptureBatchSize = 32;
// The one-pass schedule runs when a forward of all calibration images at once is expected to keep at most this many
// bytes of activations alive, estimated as kLiveTensors times the largest layer input (measured: mobilenet_v2_q
// with 128 images at 224 x 224, estimate 2.5 GB, whole run 2.8 GB resident).
constexpr double kOnePassBytes = 3.0 * 1024.0 * 1024.0 * 1024.0;
constexpr double kLiveTensors = 4.0;

int layer_bits(const Config& config, const Layer& layer) {
  return effective_bits(config.weight_bits, config.first_last_bits, layer.first || layer.last);
}

// The first --gpfq-samples images of --calib-data (else --data), in the SPEC's order (seeded permutation with -sh).
CalibrationBatches load_calibration_batches(const Config& config, const ModelFile& model) {
  const std::string root = config.calib_data.empty() ? config.data : config.calib_data;
  const Dataset dataset = load_labelled_dataset(root, config, model);
  const PreprocessSpec spec = resolve_preprocess(model.sidecar, config.preprocess);
  std::vector<LabeledImage> images =
      select_images(dataset.images, config.gpfq_samples, config.shuffle, config.seed, "--gpfq-samples");
  BatchLoader loader(std::move(images), spec, {kCaptureBatchSize, config.workers, 2, config.progress, "gpfq images"});
  CalibrationBatches batches;
  while (auto batch = loader.next()) {
    batches.images.push_back(batch->images);
    batches.image_indices.push_back(batch->indices);
  }
  check_bad_images(loader, config.max_bad_image_share);
  if (batches.images.empty()) throw UserError(fmt::format("{}: no GPFQ calibration image could be decoded", root));
  // Every image must give each layer the same number of rows (and the one-pass schedule stacks them all).
  const at::IntArrayRef size = batches.images.front().sizes().slice(1);
  for (const at::Tensor& images : batches.images) {
    if (!images.sizes().slice(1).equals(size)) {
      throw UserError(fmt::format("{}: GPFQ calibration images differ in size ([{}] and [{}]); use --crop", root,
                                  fmt::join(size, ", "), fmt::join(images.sizes().slice(1), ", ")));
    }
  }
  return batches;
}

PreparedModel load_capturing_model(const ModelFile& model, const c10::Device& device) {
  PreparedModel prepared = PreparedModel::load(model.path, {ActSites::kInputs});
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

GpfqLayerOptions layer_options(const Config& config, int bits) {
  GpfqLayerOptions options;
  options.bits = bits;
  options.scale = config.gpfq_scale;
  options.per_channel = config.per_channel_weights;
  options.corrections = weight_quant_options(config).corrections;
  return options;
}

void refuse_given_flags(const GpfqFlagsGiven& given) {
  const std::vector<std::pair<bool, const char*>> flags = {
      {given.scale, "--gpfq-scale"}, {given.patch_prob, "--gpfq-patch-prob"}, {given.samples, "--gpfq-samples"}};
  for (const auto& [set, flag] : flags) {
    if (set) throw UserError(fmt::format("flag {}: only applies with --weight-method gpfq", flag));
  }
}

}  // namespace

void check_gpfq_config(const Config& config, const GpfqFlagsGiven& given) {
  if (!(config.gpfq_scale > 0.0) || !std::isfinite(config.gpfq_scale)) {
    throw UserError(fmt::format("flag --gpfq-scale: must be a positive number, got {}", config.gpfq_scale));
  }
  if (!(config.gpfq_patch_prob > 0.0 && config.gpfq_patch_prob <= 1.0)) {
    throw UserError(fmt::format("flag --gpfq-patch-prob: must be in (0, 1], got {}", config.gpfq_patch_prob));
  }
  if (config.gpfq_samples < 1) {
    throw UserError(fmt::format("flag --gpfq-samples: must be at least 1, got {}", config.gpfq_samples));
  }
  if (config.weight_method != WeightMethod::kGpfq) {
    refuse_given_flags(given);
    return;
  }
  if (config.weight_bits == 0) {
    throw UserError("flag --weight-method gpfq: the weights are not quantized (-qw f32 or no -qw/--qtype); "
                    "give -qw intN");
  }
  if (config.bit_alloc_weights) {
    throw UserError("flags -baw and --weight-method gpfq do not combine: GPFQ uses one bit width per layer");
  }
  if (config.clip_weights) {
    throw UserError("flags --clip-weights and --weight-method gpfq do not combine: --gpfq-scale sets the range "
                    "of the GPFQ alphabet");
  }
}

std::vector<QuantizedWeight> gpfq_quantized_weights(const Config& config, const ModelFile& model,
                                                    const c10::Device& device, GpfqSchedule schedule) {
  check_gpfq_config(config);
  const auto start = Clock::now();
  const CalibrationBatches batches = load_calibration_batches(config, model);
  const PreparedModel reference = load_capturing_model(model, device);
  PreparedModel partial = load_capturing_model(model, device);
  const RowSampling sampling{config.gpfq_patch_prob, config.seed};

  const std::vector<Layer>& layers = reference.layers();
  const auto shapes = layer_input_shapes(reference, batches.images.front().narrow(0, 0, 1));
  std::vector<QuantizedWeight> weights(layers.size());
  std::vector<GpfqLayerOptions> options(layers.size());
  std::vector<int64_t> quantized_layers;
  std::vector<double> bytes;
  double activation_bytes = 0.0;
  for (const Layer& layer : layers) {
    const auto i = static_cast<size_t>(layer.index);
    activation_bytes = std::max(activation_bytes, kLiveTensors * sizeof(float) *
                                                      static_cast<double>(c10::multiply_integers(shapes[i]) *
                                                                          batches.image_count()));
    options[i] = layer_options(config, layer_bits(config, layer));
    if (options[i].bits == 0) {
      weights[i].weight = layer.original_weight;
      continue;
    }
    check_layer_samplable(layer);
    quantized_layers.push_back(layer.index);
    bytes.push_back(expected_sample_bytes(layer, shapes[i], batches.image_count(), config.gpfq_patch_prob));
  }
  gpfq::ReferenceInputs reference_inputs(reference, batches, sampling, quantized_layers, bytes);
  ProgressBar progress("gpfq layers", static_cast<int64_t>(quantized_layers.size()), config.progress);
  gpfq::GpfqRun run{batches, sampling, reference_inputs, partial, quantized_layers, options, weights, progress};
  const bool one_pass = schedule == GpfqSchedule::kOnePass ||
                        (schedule == GpfqSchedule::kAuto && activation_bytes <= kOnePassBytes);
  if (one_pass) {
    gpfq::quantize_in_one_pass(run);
  } else {
    gpfq::quantize_with_a_pass_per_layer(run);
  }
  progress.finish();
  std::fprintf(stderr, "quant-sim: GPFQ weights of %zu layers from %lld calibration images (conv patches kept with "
               "probability %g, %s) in %.1f s\n", quantized_layers.size(),
               static_cast<long long>(batches.image_count()), config.gpfq_patch_prob,
               one_pass ? "one pass" : "a pass per layer", seconds_since(start));
  return weights;
}

}  // namespace quantsim
