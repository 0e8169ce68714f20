#include "quantsim/quant/adaround.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/autograd.h>
#include <torch/optim/adam.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "common/affine_quantizer.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/splitmix64.h"
#include "quantsim/quant/gpfq_layer.h"

namespace quantsim {
namespace {

// The stretch of the rectified sigmoid (the paper's zeta and gamma): h reaches exactly 0 and 1 for finite V.
constexpr double kZeta = 1.1;
constexpr double kGamma = -0.1;
constexpr double kPi = 3.14159265358979323846;

at::Tensor rectified_sigmoid(const at::Tensor& v) {
  return at::clamp(at::sigmoid(v) * (kZeta - kGamma) + kGamma, 0.0, 1.0);
}

// V with h(V) = fraction: the inverse of the stretched sigmoid (fraction in [0, 1) keeps it finite).
at::Tensor initial_v(const at::Tensor& fraction) {
  const at::Tensor p = (fraction - kGamma) / (kZeta - kGamma);
  return at::log(p / (1.0 - p));
}

// Cosine annealing from beta_start (at the end of the warm-up) to beta_end (at the last iteration), as in the
// authors' implementation.
double annealed_beta(const AdaRoundOptions& options, int64_t iteration, double warmup_end) {
  const double span = static_cast<double>(options.iterations) - warmup_end;
  const double progress = span > 0.0 ? (static_cast<double>(iteration) - warmup_end) / span : 1.0;
  return options.beta_end + 0.5 * (options.beta_start - options.beta_end) * (1.0 + std::cos(kPi * progress));
}

// The rows of `batch_images` calibration images per iteration, drawn without replacement (a partial Fisher-Yates
// shuffle on splitmix64); all rows every time when there are no more images than that.
class ImageBatches {
 public:
  ImageBatches(const std::vector<int64_t>& rows_per_image, int64_t batch_images, uint64_t seed, uint64_t stream)
      : rows_(rows_per_image), first_(rows_per_image.size() + 1, 0), order_(rows_per_image.size()), rng_(0) {
    std::partial_sum(rows_.begin(), rows_.end(), first_.begin() + 1);
    std::iota(order_.begin(), order_.end(), int64_t{0});
    SplitMix64 keys(seed);
    rng_ = SplitMix64(keys.next() ^ (0xA0761D6478BD642FULL * (stream + 1)));
    take_ = std::min<int64_t>(batch_images, static_cast<int64_t>(rows_.size()));
    if (take_ == static_cast<int64_t>(rows_.size())) all_ = rows_of(order_.size());
  }

  bool every_time_all() const { return all_.defined(); }

  at::Tensor next() {
    if (all_.defined()) return all_;
    const auto n = order_.size();
    for (size_t k = 0; k < static_cast<size_t>(take_); ++k) {
      const size_t j = k + static_cast<size_t>(rng_.next() % (n - k));
      std::swap(order_[k], order_[j]);
    }
    return rows_of(static_cast<size_t>(take_));
  }

 private:
  // The rows of the first `count` images of order_.
  at::Tensor rows_of(size_t count) const {
    std::vector<int64_t> rows;
    for (size_t k = 0; k < count; ++k) {
      const auto image = static_cast<size_t>(order_[k]);
      for (int64_t r = first_[image]; r < first_[image + 1]; ++r) rows.push_back(r);
    }
    return at::tensor(rows, at::kLong);
  }

  std::vector<int64_t> rows_;
  std::vector<int64_t> first_;  // first row of each image
  std::vector<int64_t> order_;
  SplitMix64 rng_;
  int64_t take_ = 0;
  at::Tensor all_;
};

void check_inputs(const at::Tensor& x, const at::Tensor& x_tilde, const at::Tensor& weight, const AdaRoundGrid& grid,
                  const std::vector<int64_t>& rows_per_image) {
  const bool ok = x.dim() == 3 && x_tilde.sizes().equals(x.sizes()) && weight.dim() == 3 &&
                  weight.size(0) == x.size(0) && weight.size(2) == x.size(2) && grid.scale.dim() == 2 &&
                  grid.scale.size(0) == weight.size(0) && grid.scale.size(1) == weight.size(1) &&
                  grid.zero_point.sizes().equals(grid.scale.sizes()) && grid.q_max.sizes().equals(grid.scale.sizes());
  if (!ok) {
    throw std::invalid_argument(fmt::format(
        "adaround_quantize: expected x, x_tilde [G, m, n], weight [G, o, n], grid [G, o]; got x [{}], x_tilde [{}], "
        "weight [{}], scale [{}]",
        fmt::join(x.sizes(), ", "), fmt::join(x_tilde.sizes(), ", "), fmt::join(weight.sizes(), ", "),
        fmt::join(grid.scale.sizes(), ", ")));
  }
  const int64_t rows = std::accumulate(rows_per_image.begin(), rows_per_image.end(), int64_t{0});
  if (rows != x.size(1)) {
    throw std::invalid_argument(
        fmt::format("adaround_quantize: rows_per_image sum to {}, x has {} rows", rows, x.size(1)));
  }
}

// The weight on the grid for rounding offsets `up` (h(V) while learning, 0/1 at the end); neurons whose scale is 0
// keep `weight` (the identity quantizer).
struct GridWeight {
  at::Tensor floor_codes, zero_point, q_max, scale, usable, weight;
  at::Tensor operator()(const at::Tensor& up) const {
    const at::Tensor codes = at::clamp(floor_codes + zero_point + up, 0.0);
    const at::Tensor on_grid = (at::minimum(codes, q_max) - zero_point) * scale;
    return at::where(usable, on_grid, weight);
  }
};

// Mean over rows of the squared norm of the output error, on all rows in chunks (no autograd).
double reconstruction_error(const at::Tensor& x_tilde, const at::Tensor& target, const at::Tensor& weight) {
  constexpr int64_t kChunk = 65536;
  const int64_t m = x_tilde.size(1);
  if (m == 0) return 0.0;
  double sum = 0.0;
  for (int64_t r = 0; r < m; r += kChunk) {
    const int64_t b = std::min(kChunk, m - r);
    const at::Tensor out = at::bmm(x_tilde.narrow(1, r, b), weight.transpose(1, 2));
    sum += (out - target.narrow(1, r, b)).pow(2).sum().item<double>();
  }
  return sum / static_cast<double>(m);
}

}  // namespace

AdaRoundOutcome adaround_quantize(const at::Tensor& x, const at::Tensor& x_tilde, const at::Tensor& weight,
                                  const AdaRoundGrid& grid, const std::vector<int64_t>& rows_per_image,
                                  const AdaRoundOptions& options, uint64_t stream) {
  check_inputs(x, x_tilde, weight, grid, rows_per_image);
  // The callers run under InferenceMode (and may hold a NoGradGuard): the loop below needs autograd. Tensors made
  // in inference mode may be read by autograd ops outside it but not saved for backward: what the loss multiplies
  // by is cloned (or gathered) into normal tensors first.
  c10::InferenceMode autograd_allowed(false);
  torch::AutoGradMode enable_grad(true);

  const at::Tensor w = weight.to(at::kFloat).clone();
  const at::Tensor xt = x_tilde.to(at::kFloat);
  GridWeight on_grid;
  on_grid.usable = (grid.scale > 0).unsqueeze(2).to(w.device()).clone();
  on_grid.scale = at::where(grid.scale > 0, grid.scale, at::ones_like(grid.scale)).unsqueeze(2).to(w.device()).clone();
  on_grid.zero_point = grid.zero_point.unsqueeze(2).to(w.device()).clone();
  on_grid.q_max = grid.q_max.unsqueeze(2).to(w.device()).clone();
  on_grid.weight = w;
  const at::Tensor scaled = w / on_grid.scale;  // as the fake quantizer divides
  on_grid.floor_codes = at::floor(scaled);
  const at::Tensor fraction = scaled - on_grid.floor_codes;
  const at::Tensor usable = on_grid.usable.expand_as(w);

  // The FP32 output W x of every row, the target of every batch.
  const at::Tensor target = at::bmm(x.to(at::kFloat), w.transpose(1, 2));  // [G, m, o]
  AdaRoundOutcome outcome;
  outcome.initial_loss = reconstruction_error(xt, target, on_grid(at::round(scaled) - on_grid.floor_codes));

  at::Tensor v = initial_v(fraction).detach().clone().set_requires_grad(true);
  torch::optim::Adam adam({v}, torch::optim::AdamOptions(options.learning_rate));
  ImageBatches batches(rows_per_image, options.batch_images, options.seed, stream);
  const double warmup_end = options.warmup * static_cast<double>(options.iterations);
  const double quantized_count = usable.sum().item<double>();
  const at::Tensor every_row = batches.every_time_all() ? batches.next() : at::Tensor();
  const at::Tensor every_x = every_row.defined() ? xt.clone() : at::Tensor();
  for (int64_t t = 0; t < options.iterations && x.size(1) > 0; ++t) {
    const at::Tensor rows = every_row.defined() ? every_row : batches.next();
    if (rows.numel() == 0) continue;  // the images drawn gave no row (a small map, few patches kept)
    const at::Tensor x_batch = every_row.defined() ? every_x : xt.index_select(1, rows);
    const at::Tensor y_batch = every_row.defined() ? target : target.index_select(1, rows);
    adam.zero_grad();
    const at::Tensor h = rectified_sigmoid(v);
    const at::Tensor out = at::bmm(x_batch, on_grid(h).transpose(1, 2));
    at::Tensor loss = (out - y_batch).pow(2).sum() / static_cast<double>(rows.numel());
    if (static_cast<double>(t) >= warmup_end) {
      const double beta = annealed_beta(options, t, warmup_end);
      const at::Tensor regulariser = (1.0 - (2.0 * h - 1.0).abs().pow(beta)) * usable;
      loss = loss + options.lambda * regulariser.sum();
    }
    loss.backward();
    adam.step();
  }

  {
    torch::NoGradGuard no_grad;
    outcome.rounding = rectified_sigmoid(v).detach();
    const at::Tensor undecided = (outcome.rounding > 0) & (outcome.rounding < 1) & usable;
    outcome.undecided = quantized_count > 0 ? undecided.sum().item<double>() / quantized_count : 0.0;
    outcome.weight = on_grid((outcome.rounding >= 0.5).to(at::kFloat)).detach().to(weight.scalar_type());
    outcome.final_loss = reconstruction_error(xt, target, outcome.weight.to(at::kFloat));
  }
  return outcome;
}

namespace {

// Round to nearest's quantizer of every output channel ([O]), as the fake-quant op computes it.
AdaRoundGrid rtn_grid(const QuantParams& params, int64_t channels) {
  const auto floats = at::TensorOptions().dtype(at::kFloat);
  if (params.per_channel) {
    const at::Tensor table = quant_params_table(params, at::kCPU);  // [3, O]: scale, zero point, q_max
    return {table[0].clone(), table[1].clone(), table[2].clone()};
  }
  const kernels::AffineQuantParams p = kernels::make_affine_quant_params(
      static_cast<float>(params.range.lo), static_cast<float>(params.range.hi), params.bits);
  return {at::full({channels}, p.scale, floats), at::full({channels}, p.zero_point, floats),
          at::full({channels}, p.q_max, floats)};
}

}  // namespace

QuantizedWeight adaround_layer_weight(const Layer& layer, const at::Tensor& x, const at::Tensor& x_tilde,
                                      const std::vector<int64_t>& rows_per_image, const WeightQuantOptions& rtn,
                                      const AdaRoundOptions& options, AdaRoundOutcome* outcome) {
  WeightQuantOptions grid_only = rtn;
  grid_only.corrections = {};  // applied below, to the AdaRound weight
  QuantizedWeight result = quantize_layer_weight(layer, grid_only);
  if (result.bits == 0) return result;
  const at::Tensor& original = layer.original_weight;
  const at::Tensor weight = grouped_weight_matrix(layer).to(x.device());  // [G, o, n]
  const int64_t groups = weight.size(0), per_group = weight.size(1);
  AdaRoundGrid grid = rtn_grid(result.params, original.size(0));
  for (at::Tensor* t : {&grid.scale, &grid.zero_point, &grid.q_max})
    *t = t->reshape({groups, per_group}).to(x.device());
  AdaRoundOutcome learned = adaround_quantize(x, x_tilde, weight, grid, rows_per_image, options,
                                              static_cast<uint64_t>(layer.index));
  result.grid_weight = learned.weight.reshape(original.sizes()).to(original.device(), original.scalar_type());
  result.weight = corrected_weight(result.grid_weight, original, rtn.corrections);
  if (outcome != nullptr) *outcome = std::move(learned);
  return result;
}

}  // namespace quantsim
