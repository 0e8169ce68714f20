#pragma once
// --bias-correction empirical (docs/QUANTIZATION.md, section 14.2): after the weights are quantized by any method,
// each layer's per-output-channel mean output shift E[W~ x~] - E[W x], measured on calibration images, is subtracted
// from its bias. Layer by layer in execution order, each measurement taken with every earlier correction in place and
// with the run's activation quantizer active, so that a layer corrects what it really receives.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "quantsim/data/image_set.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/graph/site_handler.h"

namespace quantsim {

struct EmpiricalBiasCorrectionOptions {
  int workers = 4;                    // -j: decode threads
  bool progress = true;               // progress bars on stderr
  double max_bad_image_share = 0.01;  // --max-bad-images
};

struct EmpiricalBiasCorrectionSummary {
  int64_t corrected_layers = 0;
  int64_t skipped_layers = 0;  // a weight matmul (no bias input) or a conv whose geometry the graph does not hold
  int64_t images = 0;
  double seconds = 0.0;
  // Mean over corrected layers and channels of |E[W~ x~] - E[W x]| / mean |E[W x]|, as measured (before correcting).
  double mean_relative_shift = 0.0;
};

// Per layer (index = Layer::index) of `layers`, the per-output-channel mean over `images` (batches on any device) of
// what the layer computes without its bias, W x, with `handler` (may be null: a float run) installed for the whole
// forward. [out_channels] double tensors on the CPU; undefined for a layer not in `layers`.
std::vector<at::Tensor> layer_output_means(const PreparedModel& model, SiteHandler* handler,
                                           const std::vector<at::Tensor>& images, const std::vector<int64_t>& layers);

// Corrects the biases of `model` (quantized weights set; `quantizer` its activation handler, as the evaluation will
// use it) against `reference` (the same file and PrepareOptions, weights untouched), on `calibration`.
EmpiricalBiasCorrectionSummary correct_biases_empirically(PreparedModel& model, SiteHandler& quantizer,
                                                          const PreparedModel& reference, const ImageSet& calibration,
                                                          const EmpiricalBiasCorrectionOptions& options);

}  // namespace quantsim
