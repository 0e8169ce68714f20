#include "quantsim/passes/arith_comparison.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "quantsim/core/errors.h"
#include "quantsim/core/stopwatch.h"
#include "quantsim/graph/site_handler.h"

namespace quantsim {
namespace {

std::string shape_text(const at::Tensor& t) {
  return fmt::format("[{}]", fmt::join(t.sizes().begin(), t.sizes().end(), ", "));
}

// Rows of a site tensor: its images (a 0-d tensor counts as one).
int64_t rows_of(const at::Tensor& t) { return t.dim() == 0 ? 1 : t.size(0); }

// The float path's handler: the run's fake quantizer, with each site's codes kept for the integer path to meet.
class SiteCodeRecorder : public SiteHandler {
 public:
  SiteCodeRecorder(ActivationQuantizer& quantizer, const IntegerProgram& program)
      : quantizer_(quantizer), program_(program), codes_(program.sites.size()) {}

  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override {
    at::Tensor x_hat = quantizer_.on_site(site_id, x);
    const auto id = static_cast<size_t>(site_id);
    if (id < program_.sites.size() && program_.sites[id]) {
      const ActivationCodes& codes = *program_.sites[id];
      // uint8 where the codes fit: the recorded codes of a whole chunk of images stay small.
      const at::Tensor q = codes_of_fake_quantized(x_hat, codes);
      codes_[id] = codes.max_code() <= 255 ? q.to(at::kByte) : q;
    }
    return x_hat;
  }
  void on_pre_activation(int64_t site_id, const at::Tensor& x) override { quantizer_.on_pre_activation(site_id, x); }

  // The codes site `site_id` had in the float forward, handed over (undefined when it was not reached).
  at::Tensor take(int64_t site_id) {
    const auto id = static_cast<size_t>(site_id);
    return id < codes_.size() ? std::exchange(codes_[id], at::Tensor()) : at::Tensor();
  }

 private:
  ActivationQuantizer& quantizer_;
  const IntegerProgram& program_;
  std::vector<at::Tensor> codes_;
};

// The integer path's observer: each site's codes against the float path's of the same images.
class SiteCodeComparer : public IntegerCodeObserver {
 public:
  SiteCodeComparer(SiteCodeRecorder& recorded, ArithGap& gap) : recorded_(recorded), gap_(gap) {}

  void on_site_codes(int64_t site_id, const at::Tensor& codes) override {
    const at::Tensor float_codes = recorded_.take(site_id);
    if (!float_codes.defined() || site_id < 0) return;  // the float path did not quantize it: nothing to compare
    if (float_codes.sizes() != codes.sizes()) {
      throw UserError(fmt::format("--arith int: site {} has shape {} on the integer path and {} on the float path",
                                  site_id, shape_text(codes), shape_text(float_codes)));
    }
    const auto id = static_cast<size_t>(site_id);
    if (gap_.sites.size() <= id) gap_.sites.resize(id + 1);
    if (std::find(gap_.order.begin(), gap_.order.end(), site_id) == gap_.order.end()) gap_.order.push_back(site_id);
    gap_.sites[id].add(codes, float_codes);
  }

 private:
  SiteCodeRecorder& recorded_;
  ArithGap& gap_;
};

}  // namespace

at::Tensor codes_of_fake_quantized(const at::Tensor& x_hat, const ActivationCodes& codes) {
  // float32 division and rint, as docs/QUANTIZATION.md, section 1 fixes them.
  return at::round(x_hat.to(at::kFloat) / codes.scale).to(at::kInt) + codes.zero_point;
}

void SiteCodeGap::add(const at::Tensor& integer_codes, const at::Tensor& float_codes) {
  if (integer_codes.numel() == 0) return;
  const at::Tensor steps = (integer_codes.to(at::kInt) - float_codes.to(integer_codes.device(), at::kInt)).abs();
  const at::Tensor differs = steps.ne(0);
  const int64_t rows = rows_of(steps);
  elements += steps.numel();
  differing += differs.sum().item<int64_t>();
  max_step = std::max(max_step, steps.max().item<int64_t>());
  abs_step_sum += steps.sum(at::kLong).item<int64_t>();
  images += rows;
  images_differing += differs.reshape({rows, -1}).any(1).sum().item<int64_t>();
}

void LogitGap::add(const at::Tensor& integer_logits, const at::Tensor& float_logits) {
  if (integer_logits.sizes() != float_logits.sizes() || integer_logits.dim() != 2) {
    throw UserError(fmt::format("--arith int: the integer path's logits have shape {}, the float path's {}",
                                shape_text(integer_logits), shape_text(float_logits)));
  }
  if (integer_logits.numel() == 0) return;
  const at::Tensor i = integer_logits.to(at::kCPU, at::kDouble);
  const at::Tensor f = float_logits.to(at::kCPU, at::kDouble);
  const at::Tensor difference = (i - f).abs();
  const at::Tensor differs = difference.ne(0);
  images += i.size(0);
  elements += i.numel();
  differing += differs.sum().item<int64_t>();
  images_differing += differs.any(1).sum().item<int64_t>();
  // argmax gives the first of equal maxima: the lower class index, as the accuracy's tie rule.
  top1_differs += i.argmax(1).ne(f.argmax(1)).sum().item<int64_t>();
  abs_sum += difference.sum().item<double>();
  max_abs = std::max(max_abs, difference.max().item<double>());
  float_sum += f.sum().item<double>();
  float_square_sum += f.square().sum().item<double>();
}

double LogitGap::float_std() const {
  if (elements == 0) return 0.0;
  const double mean = float_sum / static_cast<double>(elements);
  return std::sqrt(std::max(0.0, float_square_sum / static_cast<double>(elements) - mean * mean));
}

double LogitGap::mean_abs_relative() const {
  const double std = float_std();
  return std > 0 && elements > 0 ? abs_sum / static_cast<double>(elements) / std : 0.0;
}

double LogitGap::max_abs_relative() const {
  const double std = float_std();
  return std > 0 ? max_abs / std : 0.0;
}

int64_t ArithGap::codes_compared() const {
  int64_t sum = 0;
  for (const SiteCodeGap& site : sites) sum += site.elements;
  return sum;
}

int64_t ArithGap::codes_differing() const {
  int64_t sum = 0;
  for (const SiteCodeGap& site : sites) sum += site.differing;
  return sum;
}

int64_t ArithGap::max_step_difference() const {
  int64_t largest = 0;
  for (const SiteCodeGap& site : sites) largest = std::max(largest, site.max_step);
  return largest;
}

double ArithGap::codes_differing_share() const {
  const int64_t compared = codes_compared();
  return compared > 0 ? static_cast<double>(codes_differing()) / compared : 0.0;
}

ArithComparison::ArithComparison(const PreparedModel& model, ActivationQuantizer& quantizer,
                                 const IntegerProgram& program, int64_t chunk)
    : model_(model), quantizer_(quantizer), program_(program), chunk_(std::max<int64_t>(chunk, 1)) {}

at::Tensor ArithComparison::forward(const at::Tensor& input) {
  const at::Tensor labels = std::exchange(labels_, at::Tensor());
  const int64_t n = input.size(0);
  std::vector<at::Tensor> float_parts;
  std::vector<at::Tensor> integer_parts;
  for (int64_t start = 0; start < n; start += chunk_) {
    const at::Tensor x = input.slice(0, start, std::min(n, start + chunk_));
    SiteCodeRecorder recorder(quantizer_, program_);
    auto clock = std::chrono::steady_clock::now();
    {
      ScopedSiteHandler scope(recorder);
      float_parts.push_back(model_.forward(x));
    }
    float_seconds_ += seconds_since(clock);
    SiteCodeComparer comparer(recorder, gap_);
    clock = std::chrono::steady_clock::now();
    integer_parts.push_back(model_.forward_integer(x, program_, &comparer));
    integer_seconds_ += seconds_since(clock);
  }
  const at::Tensor float_logits = float_parts.size() == 1 ? float_parts.front() : at::cat(float_parts);
  const at::Tensor integer_logits = integer_parts.size() == 1 ? integer_parts.front() : at::cat(integer_parts);
  gap_.logits.add(integer_logits, float_logits);
  if (labels.defined() && labels.size(0) == n) float_accuracy_.add(float_logits.to(at::kCPU), labels.to(at::kCPU));
  return integer_logits;
}

void ArithComparison::reset() {
  gap_ = ArithGap{};
  float_accuracy_ = TopKAccuracy{};
  float_seconds_ = integer_seconds_ = 0.0;
  labels_ = at::Tensor();
}

std::optional<Batch> BatchLabelTap::next() {
  std::optional<Batch> batch = source_.next();
  if (batch) comparison_.set_labels(batch->labels);
  return batch;
}

}  // namespace quantsim
