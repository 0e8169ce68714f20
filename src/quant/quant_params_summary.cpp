#include "quantsim/quant/quant_params_summary.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "quantsim/quant/clipping.h"
#include "quantsim/quant/range_methods.h"

namespace quantsim {
namespace {

struct ChannelRanges {
  std::vector<double> lo, hi;
  std::vector<int> bits;
};

ChannelRanges channel_ranges(const QuantParams& params) {
  if (!params.per_channel) return {{params.range.lo}, {params.range.hi}, {params.bits}};
  return {{params.lo.begin(), params.lo.end()}, {params.hi.begin(), params.hi.end()}, params.channel_bits};
}

double width_sum(const ChannelRanges& ranges) {
  double sum = 0.0;
  for (size_t c = 0; c < ranges.lo.size(); ++c) sum += ranges.hi[c] - ranges.lo[c];
  return sum;
}

// What the same tensor's range would have been without clipping (bit allocation does not move an unclipped range).
ChannelRanges unclipped_ranges(const TensorQuantRequest& request, const QuantParams& params,
                               const ChannelwiseStats& value, const ChannelwiseStats* pre_activation) {
  TensorQuantRequest unclipped = request;
  unclipped.per_channel = params.per_channel;
  unclipped.clipping = Clipping{};
  unclipped.bit_allocation.enabled = false;
  return channel_ranges(compute_quant_params(unclipped, value, pre_activation));
}

// As compute_quant_params decides: an unsigned tensor takes its prior from the pre-activation statistics.
double channel_alpha(const TensorQuantRequest& request, const TensorStats& value, const TensorStats* pre, int bits) {
  const bool from_pre = request.signedness == Signedness::kUnsigned && pre != nullptr;
  return clipping_alpha(request.clipping, range_stats(from_pre ? *pre : value, request.stats_kind), bits,
                        from_pre ? Signedness::kUnsigned : Signedness::kSigned);
}

}  // namespace

QuantParamsSummary summarize_quant_params(const QuantParams& params) {
  const ChannelRanges ranges = channel_ranges(params);
  if (ranges.lo.empty()) throw std::invalid_argument("summarize_quant_params: parameters without channels");
  QuantParamsSummary summary;
  summary.per_channel = params.per_channel;
  summary.channels = static_cast<int64_t>(ranges.lo.size());
  summary.range_min = *std::min_element(ranges.lo.begin(), ranges.lo.end());
  summary.range_max = *std::max_element(ranges.hi.begin(), ranges.hi.end());
  summary.mean_width = width_sum(ranges) / static_cast<double>(summary.channels);
  double bits_sum = 0.0;
  for (int bits : ranges.bits) {
    bits_sum += bits;
    summary.bits_histogram[bits] += 1.0;
  }
  summary.bits_mean = bits_sum / static_cast<double>(summary.channels);
  return summary;
}

void summarize_clipping(QuantParamsSummary& summary, const TensorQuantRequest& request, const QuantParams& params,
                        const ChannelwiseStats& value, const ChannelwiseStats* pre_activation) {
  if (request.clipping.kind == Clipping::Kind::kNone) return;
  const ChannelRanges used = channel_ranges(params);
  double alpha_sum = 0.0;
  for (size_t c = 0; c < used.bits.size(); ++c) {
    const TensorStats& v = params.per_channel ? value.per_channel.at(c) : value.per_tensor;
    const TensorStats* pre = pre_activation == nullptr ? nullptr
                             : params.per_channel      ? &pre_activation->per_channel.at(c)
                                                       : &pre_activation->per_tensor;
    // A histogram method's clipping value is where the range ends: max(|lo|, |hi|) (T unless T is beyond the
    // extremes).
    alpha_sum += is_histogram_method(request.clipping) ? std::max(std::abs(used.lo[c]), std::abs(used.hi[c]))
                                                       : channel_alpha(request, v, pre, used.bits[c]);
  }
  summary.alpha = alpha_sum / static_cast<double>(used.bits.size());
  const double unclipped_width = width_sum(unclipped_ranges(request, params, value, pre_activation));
  if (unclipped_width > 0.0) summary.clip_fraction = width_sum(used) / unclipped_width;
}

void QuantParamsSummaryMean::add(const QuantParamsSummary& s) {
  ++count_;
  sum_.per_channel = s.per_channel;
  sum_.channels = s.channels;
  sum_.range_min += s.range_min;
  sum_.range_max += s.range_max;
  sum_.mean_width += s.mean_width;
  sum_.bits_mean += s.bits_mean;
  for (const auto& [bits, channels] : s.bits_histogram) sum_.bits_histogram[bits] += channels;
  if (s.alpha) {
    sum_.alpha = sum_.alpha.value_or(0.0) + *s.alpha;
    ++alpha_count_;
  }
  if (s.clip_fraction) {
    sum_.clip_fraction = sum_.clip_fraction.value_or(0.0) + *s.clip_fraction;
    ++clip_fraction_count_;
  }
}

QuantParamsSummary QuantParamsSummaryMean::mean() const {
  if (count_ == 0) throw std::logic_error("QuantParamsSummaryMean::mean: nothing was added");
  if (count_ == 1) return sum_;  // exactly what was added, not a division's rounding of it
  const double n = static_cast<double>(count_);
  QuantParamsSummary mean = sum_;
  mean.range_min /= n;
  mean.range_max /= n;
  mean.mean_width /= n;
  mean.bits_mean /= n;
  for (auto& [bits, channels] : mean.bits_histogram) channels /= n;
  if (mean.alpha) *mean.alpha /= static_cast<double>(alpha_count_);
  if (mean.clip_fraction) *mean.clip_fraction /= static_cast<double>(clip_fraction_count_);
  return mean;
}

}  // namespace quantsim
