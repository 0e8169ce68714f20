#pragma once
// The two ways --weight-method gpfq (and adaround, which shares them: layerwise_weights.h) runs the partly quantized
// network to get each layer's X~ (gpfq_weights.h):
//
// - one pass: all calibration images in a single forward; the handler at each layer's input quantizes that layer
//   before it runs (PreparedModel::set_layer_weight takes effect at once), so every later layer reads what the
//   already quantized layers give. One forward in all, but the activations of every image are alive at once.
// - a pass per layer: batches of images, a forward per layer that stops at the layer's input. Bounded memory,
//   about (layers / 2) forwards.
//
// Both read the FP32 inputs X from ReferenceInputs and give the same weights (up to the floating-point noise of
// running convolutions at other batch sizes).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "quantsim/data/progress_bar.h"
#include "quantsim/passes/layer_input_capture.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim::gpfq {

// The FP32 network's sampled layer inputs, captured ahead for as many of the layers still to come as fit a memory
// budget (one forward serves them all), and handed out once each.
class ReferenceInputs {
 public:
  // `layers`: the layers GPFQ quantizes, in order; `bytes`: the expected size of each one's input rows.
  ReferenceInputs(const PreparedModel& model, const CalibrationBatches& batches, const RowSampling& sampling,
                  std::vector<int64_t> layers, std::vector<double> bytes);
  at::Tensor take(int64_t layer);

 private:
  void capture_from(int64_t layer);

  const PreparedModel& model_;
  const CalibrationBatches& batches_;
  const RowSampling sampling_;
  const std::vector<int64_t> layers_;
  const std::vector<double> bytes_;
  std::vector<bool> taken_;
  std::map<int64_t, at::Tensor> cached_;
};

// One layer's quantizer: its weight from what it reads in the FP32 network (x) and in the partly quantized one
// (x_tilde), both [G, m, n] sample rows.
using LayerQuantizer =
    std::function<QuantizedWeight(const Layer& layer, const at::Tensor& x, const at::Tensor& x_tilde)>;

// What both schedules share: the settings, the FP32 inputs, the network being quantized and the results.
struct GpfqRun {
  const CalibrationBatches& batches;
  RowSampling sampling;
  ReferenceInputs& reference;
  PreparedModel& partial;                 // deploy-mode sites; holds the GPFQ weights of the layers done
  std::vector<int64_t> layers;            // the layers to quantize, in order
  LayerQuantizer quantize_layer;          // GPFQ's or AdaRound's
  std::vector<QuantizedWeight>& weights;  // by layer index
  ProgressBar& progress;

  // Quantizes `layer` from what it reads in the partly quantized network (undefined: the network is still FP32 up
  // to this layer, X~ = X); `partial` computes with the result from then on.
  void quantize(int64_t layer, const at::Tensor& x_tilde);
};

void quantize_in_one_pass(GpfqRun& run);
void quantize_with_a_pass_per_layer(GpfqRun& run);

}  // namespace quantsim::gpfq
