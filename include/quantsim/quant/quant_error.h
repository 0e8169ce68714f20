#pragma once
// The error of a quantized tensor against its reference, accumulated over many batches (for --layer-report):
// MSE = sum (x - q)^2 / count and SQNR = 10 log10(sum x^2 / sum (x - q)^2), from sums over every value seen, so that
// batches weigh by their size and the batch size does not change the figures.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>

namespace quantsim {

class QuantErrorAccumulator {
 public:
  // `reference` (x) and `approximation` (q) must have the same shape; any float dtype, any device; computed in
  // float32 within a batch (relative error about 1e-7) and summed over batches in float64 on the tensors' device, so
  // that adding a batch never waits for the device.
  void add(const at::Tensor& reference, const at::Tensor& approximation);

  int64_t count() const { return count_; }
  double signal_energy() const;  // sum x^2
  double noise_energy() const;   // sum (x - q)^2
  double mse() const;            // 0 when nothing was added
  // nullopt where the ratio is not a finite number: no error at all (infinite SQNR), or a zero reference.
  std::optional<double> sqnr_db() const;

 private:
  at::Tensor signal_, noise_;  // float64 scalars, undefined until the first add
  int64_t count_ = 0;
};

}  // namespace quantsim
