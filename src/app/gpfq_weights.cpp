#include "quantsim/gpfq_weights.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

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
// FP32 layer inputs are captured for as many upcoming layers at once as fit in this many bytes (one forward pass
// serves them all); the partly quantized network needs one (partial) pass per layer anyway.
constexpr double kReferenceInputBytes = 1024.0 * 1024.0 * 1024.0;

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

// The FP32 network's sampled layer inputs, captured ahead in chunks of consecutive layers within a memory budget.
class ReferenceInputs {
 public:
  ReferenceInputs(const PreparedModel& model, const CalibrationBatches& batches, const RowSampling& sampling,
                  std::vector<int64_t> layers, std::vector<double> bytes)
      : model_(model), batches_(batches), sampling_(sampling), layers_(std::move(layers)), bytes_(std::move(bytes)) {}

  at::Tensor take(int64_t layer) {
    if (cached_.count(layer) == 0) capture_from(layer);
    return cached_.extract(layer).mapped();
  }

 private:
  void capture_from(int64_t layer) {
    const auto first = static_cast<size_t>(std::find(layers_.begin(), layers_.end(), layer) - layers_.begin());
    std::vector<int64_t> chunk;
    double total = 0.0;
    for (size_t i = first; i < layers_.size(); ++i) {
      if (!chunk.empty() && total + bytes_[i] > kReferenceInputBytes) break;
      chunk.push_back(layers_[i]);
      total += bytes_[i];
    }
    std::vector<at::Tensor> rows = capture_layer_inputs(model_, chunk, batches_, sampling_);
    for (size_t i = 0; i < chunk.size(); ++i) cached_[chunk[i]] = std::move(rows[i]);
  }

  const PreparedModel& model_;
  const CalibrationBatches& batches_;
  const RowSampling sampling_;
  const std::vector<int64_t> layers_;  // the layers GPFQ quantizes, in order
  const std::vector<double> bytes_;    // their expected input sizes
  std::map<int64_t, at::Tensor> cached_;
};

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
                                                    const c10::Device& device) {
  check_gpfq_config(config);
  const auto start = Clock::now();
  const CalibrationBatches batches = load_calibration_batches(config, model);
  const PreparedModel reference = load_capturing_model(model, device);
  PreparedModel partial = load_capturing_model(model, device);
  const RowSampling sampling{config.gpfq_patch_prob, config.seed};

  const std::vector<Layer>& layers = reference.layers();
  const auto shapes = layer_input_shapes(reference, batches.images.front().narrow(0, 0, 1));
  std::vector<int64_t> quantized_layers;
  std::vector<double> bytes;
  for (const Layer& layer : layers) {
    if (layer_bits(config, layer) == 0) continue;
    check_layer_samplable(layer);
    quantized_layers.push_back(layer.index);
    bytes.push_back(expected_sample_bytes(layer, shapes[static_cast<size_t>(layer.index)], batches.image_count(),
                                          config.gpfq_patch_prob));
  }
  ReferenceInputs reference_inputs(reference, batches, sampling, quantized_layers, bytes);

  std::vector<QuantizedWeight> weights(layers.size());
  ProgressBar progress("gpfq layers", static_cast<int64_t>(quantized_layers.size()), config.progress);
  bool network_changed = false;  // until a layer changes, the partly quantized network's inputs are the FP32 ones
  for (const Layer& layer : layers) {
    const int bits = layer_bits(config, layer);
    if (bits == 0) {
      weights[static_cast<size_t>(layer.index)].weight = layer.original_weight;
      continue;
    }
    const at::Tensor x = reference_inputs.take(layer.index);
    const at::Tensor x_tilde =
        network_changed ? capture_layer_inputs(partial, {layer.index}, batches, sampling).front() : x;
    QuantizedWeight& weight = weights[static_cast<size_t>(layer.index)];
    weight = gpfq_layer_weight(layer, x, x_tilde, layer_options(config, bits));
    partial.set_layer_weight(layer.index, weight.weight);
    network_changed = true;
    progress.advance(1);
  }
  progress.finish();
  std::fprintf(stderr, "quant-sim: GPFQ weights of %zu layers from %lld calibration images (conv patches kept with "
               "probability %g) in %.1f s\n", quantized_layers.size(),
               static_cast<long long>(batches.image_count()), config.gpfq_patch_prob, seconds_since(start));
  return weights;
}

}  // namespace quantsim
