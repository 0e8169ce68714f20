#pragma once
// Histograms of a site's values, per tensor and per channel, for the histogram range methods (-c mse,
// percentile:P, entropy; docs/QUANTIZATION.md, section 2). Collected in the second statistics pass, when pass 1 has
// fixed the extremes and so the bin edges (section 6).
//
// A histogram is symmetric about 0: 2 * H bins of width w = limit / H cover [-limit, limit], with limit = max |x|
// of the tensor (or channel). Bin i holds the values in [-limit + i w, -limit + (i + 1) w) (the last bin also holds
// limit itself). Folding bins H + j and H - 1 - j gives the histogram of |x| over [0, limit] with H bins (the
// 2048-bin |x| histogram of TensorRT's calibration, per tensor), while the signed layout keeps what an asymmetric
// range needs. A post-ReLU tensor leaves its H negative bins empty (they cost one token in the file).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace quantsim {

// H of a per-tensor histogram (TensorRT's 2048 bins of |x|) and of a per-channel one (fewer, to keep the statistics
// file small; section 6).
constexpr int64_t kTensorHistogramHalfBins = 2048;
constexpr int64_t kChannelHistogramHalfBins = 256;

struct Histogram {
  double limit = 0.0;           // bins cover [-limit, limit]; 0 for an all-zero tensor (every value in bin H)
  std::vector<int64_t> counts;  // 2 * H bins

  int64_t half_bins() const { return static_cast<int64_t>(counts.size() / 2); }
  double bin_width() const { return half_bins() > 0 ? limit / static_cast<double>(half_bins()) : 0.0; }
  int64_t total() const;
  // The histogram of |x|: H bins over [0, limit], bin j = [j w, (j + 1) w).
  std::vector<double> abs_counts() const;
};

struct SiteHistograms {
  Histogram per_tensor;
  std::vector<Histogram> per_channel;  // one per channel (axis 1)
};

// Accumulates the histograms of batches [N, C, ...] (channels on axis 1) with bin edges fixed beforehand. float32 on
// the CPU takes a loop parallel over channels; other tensors are binned with ATen on their own device and only the
// counts come to the host.
class HistogramAccumulator {
 public:
  HistogramAccumulator() = default;
  // `tensor_limit` and `channel_limits`: max |x| of the whole tensor and of each channel (from pass 1).
  HistogramAccumulator(double tensor_limit, const std::vector<double>& channel_limits,
                       int64_t tensor_half_bins = kTensorHistogramHalfBins,
                       int64_t channel_half_bins = kChannelHistogramHalfBins);
  void observe(const at::Tensor& batch);
  const SiteHistograms& histograms() const { return histograms_; }

 private:
  SiteHistograms histograms_;
};

// The histograms of one tensor [O, ...] whose channels are on axis 0 (a weight), with its own extremes as limits.
SiteHistograms tensor_histograms(const at::Tensor& weight, int64_t tensor_half_bins = kTensorHistogramHalfBins,
                                 int64_t channel_half_bins = kChannelHistogramHalfBins);

// The statistics file's encoding of counts: base64 of unsigned LEB128 varints, a count c > 0 written as 2c and a run
// of r zero counts as 2r + 1. decode_counts throws std::invalid_argument for text that is not such an encoding or
// does not decode to exactly `expected` counts (checked before allocating more than that).
std::string encode_counts(const std::vector<int64_t>& counts);
std::vector<int64_t> decode_counts(const std::string& text, size_t expected);

}  // namespace quantsim
