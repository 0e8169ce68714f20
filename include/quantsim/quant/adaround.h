#pragma once
// AdaRound, the adaptive rounding of Nagel, Amjad, van Baalen, Louizos and Blankevoort, "Up or Down? Adaptive
// Rounding for Post-Training Quantization" (ICML 2020), for one layer: on the grid round to nearest chose (scale,
// zero point, bits, range per tensor or per output channel), it learns for every weight whether to round down or up
// so that the layer's output on calibration inputs stays close to the FP32 one:
//
//   W~ = s * (clamp(floor(W / s) + z + h(V), 0, q_max) - z),   h(V) = clamp(sigmoid(V) (zeta - gamma) + gamma, 0, 1)
//   loss = mean over sample rows of ||W x - W~ x~||^2  +  lambda * sum over weights of (1 - |2 h(V) - 1|^beta)
//
// zeta = 1.1, gamma = -0.1; V starts where h(V) is the fractional part of W / s; beta anneals from beta_start to
// beta_end (cosine) after a warm-up without the regulariser; Adam. At the end the rounding is hard: h >= 0.5 rounds
// up. Definition and every choice the paper leaves open: docs/QUANTIZATION.md, section 13.
//
// Shapes carry a leading group axis as in gpfq.h: x, x_tilde [G, m, n], weight [G, o, n].
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "quantsim/quant/model_layer.h"
#include "quantsim/quant/quant_options.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim {

struct AdaRoundOptions {
  int64_t iterations = 10000;  // --adaround-iters
  double lambda = 0.01;        // --adaround-lambda: weight of the rounding regulariser
  double beta_start = 20.0;    // --adaround-beta START:END
  double beta_end = 2.0;
  double warmup = 0.2;          // --adaround-warmup: share of the iterations without the regulariser
  double learning_rate = 1e-3;  // --adaround-lr (Adam)
  int64_t batch_images = 32;    // --adaround-batch: calibration images whose sample rows make one batch
  uint64_t seed = 0;            // --seed: which images each batch takes
};

// The round-to-nearest grid of each neuron, [G, o] each: x_hat = s * (clamp(rint(x / s) + z, 0, q_max) - z); s == 0
// marks the identity quantizer (the neuron keeps its weight).
struct AdaRoundGrid {
  at::Tensor scale, zero_point, q_max;
};

struct AdaRoundOutcome {
  at::Tensor weight;       // [G, o, n], hard-rounded, every entry on the grid
  at::Tensor rounding;     // [G, o, n], h(V) at the end of the optimization (before the hard decision)
  double undecided = 0.0;  // share of the (quantized) weights with 0 < h(V) < 1 at the end
  double initial_loss = 0.0, final_loss = 0.0;  // reconstruction term on the whole sample set: RTN-like start, end
};

// `rows_per_image`: how many of the m sample rows each calibration image gave, in row order (they sum to m);
// batches take the rows of `options.batch_images` images drawn from splitmix64 keyed by (seed, `stream`). Runs with
// autograd whatever InferenceMode or NoGradGuard the caller holds.
AdaRoundOutcome adaround_quantize(const at::Tensor& x, const at::Tensor& x_tilde, const at::Tensor& weight,
                                  const AdaRoundGrid& grid, const std::vector<int64_t>& rows_per_image,
                                  const AdaRoundOptions& options, uint64_t stream = 0);

// AdaRound for one conv or linear layer on round to nearest's grid for `rtn` (-qw, -pcq_w, --first-last-bits,
// --clip-weights, -baw): `x`, `x_tilde` are its sample rows (layer_samples.h). Returns the weight (after rtn's
// -vcw/-bcw corrections) in the shape of layer.original_weight, grid_weight (before them), and round to nearest's
// grid and params. A layer left float is returned as quantize_layer_weight returns it.
QuantizedWeight adaround_layer_weight(const Layer& layer, const at::Tensor& x, const at::Tensor& x_tilde,
                                      const std::vector<int64_t>& rows_per_image, const WeightQuantOptions& rtn,
                                      const AdaRoundOptions& options, AdaRoundOutcome* outcome = nullptr);

}  // namespace quantsim
