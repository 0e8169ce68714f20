#pragma once
// Reads what chosen conv/linear layers receive while a model runs on calibration images, as the sample rows of
// layer_samples.h. The model must be prepared with deploy-mode sites (ActSites::kInputs), where every tensor a
// layer reads is a site; the capturing handler returns each tensor unchanged, so the network computes exactly what
// its current weights give, and each forward stops as soon as the last wanted input has been seen.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "quantsim/graph/prepared_model.h"

namespace quantsim {

// Calibration images in batches, each image with its position in the calibration list (which keys its sampling).
struct CalibrationBatches {
  std::vector<at::Tensor> images;                   // [N, 3, H, W] per batch, CPU
  std::vector<std::vector<int64_t>> image_indices;  // per batch, one entry per image
  int64_t image_count() const;
};

struct RowSampling {
  double patch_probability = 1.0;  // share of conv patches kept; linear layers keep every row
  uint64_t seed = 0;
};

// For each of `layer_indices`, its sampled input rows over all calibration images, [G, m, n] on the model's device.
// Throws std::logic_error when the model's sites are not layer inputs.
std::vector<at::Tensor> capture_layer_inputs(const PreparedModel& model, const std::vector<int64_t>& layer_indices,
                                             const CalibrationBatches& batches, const RowSampling& sampling);

// The sampled rows of `x`, what `layer` reads in a batch of the images `image_indices` (positions in the calibration
// list): [G, m, n], the same rows capture_layer_inputs gives for these images.
at::Tensor sampled_batch_rows(const Layer& layer, const at::Tensor& x, const std::vector<int64_t>& image_indices,
                              const RowSampling& sampling);

// How many sampled rows each calibration image gives `layer` (whose input, for one image, has shape `input_shape`),
// image by image in the order of `batches`: the order of the rows capture_layer_inputs returns.
std::vector<int64_t> sampled_rows_per_image(const Layer& layer, at::IntArrayRef input_shape,
                                            const CalibrationBatches& batches, const RowSampling& sampling);

// The shape of every layer's input for a batch of one image ([1, C, H, W] or [1, F]), in layer order.
std::vector<std::vector<int64_t>> layer_input_shapes(const PreparedModel& model, const at::Tensor& image);

}  // namespace quantsim
