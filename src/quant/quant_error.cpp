#include "quantsim/quant/quant_error.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

namespace quantsim {
namespace {

double value_of(const at::Tensor& sum) { return sum.defined() ? sum.item<double>() : 0.0; }

// Out of place, so that the sums can be created and grown inside or outside torch::InferenceMode alike.
at::Tensor plus(const at::Tensor& sum, const at::Tensor& term) { return sum.defined() ? sum + term : term; }

}  // namespace

void QuantErrorAccumulator::add(const at::Tensor& reference, const at::Tensor& approximation) {
  if (!reference.sizes().equals(approximation.sizes())) {
    throw std::invalid_argument("QuantErrorAccumulator::add: reference and approximation differ in shape");
  }
  // Squares in float32 and ATen's pairwise (cascade) sum within the batch: relative error ~1e-7, plenty for dB
  // figures, without the float64 copies of every tensor that made --layer-report runs page-fault bound. Batches are
  // then summed in float64.
  const at::Tensor x = reference.to(at::kFloat);
  const at::Tensor q = approximation.to(x.device(), at::kFloat);
  signal_ = plus(signal_, x.square().sum().to(at::kDouble));
  noise_ = plus(noise_, (x - q).square_().sum().to(at::kDouble));
  count_ += reference.numel();
}

double QuantErrorAccumulator::signal_energy() const { return value_of(signal_); }

double QuantErrorAccumulator::noise_energy() const { return value_of(noise_); }

double QuantErrorAccumulator::mse() const { return count_ > 0 ? noise_energy() / static_cast<double>(count_) : 0.0; }

std::optional<double> QuantErrorAccumulator::sqnr_db() const {
  const double db = 10.0 * std::log10(signal_energy() / noise_energy());
  if (!std::isfinite(db)) return std::nullopt;
  return db;
}

}  // namespace quantsim
