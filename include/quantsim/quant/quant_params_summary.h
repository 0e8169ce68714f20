#pragma once
// A few numbers that describe how one tensor was quantized (its QuantParams), for --layer-report: the range, the bit
// widths and, under clipping, the clipping value alpha. Per-channel parameters are condensed over the channels.
#include <cstdint>
#include <map>
#include <optional>

#include "quantsim/quant/quant_params.h"
#include "quantsim/quant/stats_accumulator.h"

namespace quantsim {

struct QuantParamsSummary {
  bool per_channel = false;
  int64_t channels = 0;                  // quantization groups: 1 per tensor, one per channel per channel
  double range_min = 0.0;                // the lowest lo over the channels (per tensor: lo)
  double range_max = 0.0;                // the highest hi over the channels (per tensor: hi)
  double mean_width = 0.0;               // mean of hi - lo over the channels
  double bits_mean = 0.0;                // mean bit width over the channels
  std::map<int, double> bits_histogram;  // bit width -> number of channels with it
  // Clipped tensors only (else nullopt): alpha in data units (docs/QUANTIZATION.md, section 2; for unsigned sites the
  // alpha of the pre-activation prior), the mean over the channels; and the share of the unclipped range kept,
  // sum(hi - lo) / sum(unclipped hi - lo), nullopt when the unclipped range is empty.
  std::optional<double> alpha;
  std::optional<double> clip_fraction;
};

// The range and bit widths of `params` (which must be those of a quantized tensor, bits >= 1).
QuantParamsSummary summarize_quant_params(const QuantParams& params);

// Adds alpha and clip_fraction to `summary` when `request` clips. `request`, `value` and `pre_activation` must be
// what `params` was computed from (compute_quant_params).
void summarize_clipping(QuantParamsSummary& summary, const TensorQuantRequest& request, const QuantParams& params,
                        const ChannelwiseStats& value, const ChannelwiseStats* pre_activation);

// The equal-weight mean of summaries, field by field (dynamic ranges change with every batch). Histogram counts
// become mean counts; alpha and clip_fraction are averaged over the summaries that have them.
class QuantParamsSummaryMean {
 public:
  void add(const QuantParamsSummary& summary);
  bool empty() const { return count_ == 0; }
  QuantParamsSummary mean() const;

 private:
  int64_t count_ = 0;
  QuantParamsSummary sum_;
  int64_t alpha_count_ = 0, clip_fraction_count_ = 0;
};

}  // namespace quantsim
