// Histograms for the histogram range methods; see histogram.h.
#include "quantsim/quant/histogram.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace quantsim {
namespace {

// Bin of value v: floor(v * scale + offset), clamped to the bins, with scale = H / limit and offset = H, so that
// [-limit, limit] maps onto [0, 2H]; limit 0 gives scale 0 and every value lands in bin H. NaN lands in bin 0 (a
// collect that meets NaN writes no statistics anyway).
struct Binning {
  float scale = 0.0f;
  float offset = 0.0f;
  int64_t bins = 0;
};

Binning binning(double limit, int64_t half_bins) {
  Binning b;
  b.scale = limit > 0.0 ? static_cast<float>(static_cast<double>(half_bins) / limit) : 0.0f;
  b.offset = static_cast<float>(half_bins);
  b.bins = 2 * half_bins;
  return b;
}

inline int64_t bin_of(float v, const Binning& b) {
  const float f = v * b.scale + b.offset;
  if (!(f >= 0.0f)) return 0;
  return f < static_cast<float>(b.bins) ? static_cast<int64_t>(f) : b.bins - 1;
}

Histogram empty_histogram(double limit, int64_t half_bins) {
  Histogram h;
  h.limit = limit;
  h.counts.assign(static_cast<size_t>(2 * half_bins), 0);
  return h;
}

// Per-channel and per-tensor counts of a CPU float32 batch, parallel over channels; each thread keeps its own
// per-tensor counts, merged at the end. Consecutive values often share a bin (the zeros of a post-ReLU tensor), which
// would chain every increment on the previous one: kCopies interleaved copies of each histogram break the chain.
void observe_cpu(const at::Tensor& batch, SiteHistograms& histograms) {
  constexpr int64_t kCopies = 4;
  const at::Tensor x = batch.contiguous();
  const float* data = x.data_ptr<float>();
  const int64_t images = x.size(0), channels = x.size(1);
  const int64_t plane = channels > 0 ? x.numel() / (images * channels) : 0;
  const Binning tensor_binning = binning(histograms.per_tensor.limit, histograms.per_tensor.half_bins());
  const int64_t channel_bins = histograms.per_channel.empty() ? 0 : 2 * histograms.per_channel[0].half_bins();
  std::vector<std::vector<int64_t>> tensor_counts(static_cast<size_t>(at::get_num_threads()));
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, images * plane));
  at::parallel_for(0, channels, grain, [&](int64_t begin, int64_t end) {
    std::vector<int64_t>& own = tensor_counts[static_cast<size_t>(at::get_thread_num())];
    if (own.empty()) own.assign(static_cast<size_t>(kCopies * tensor_binning.bins), 0);
    std::vector<int64_t> local(static_cast<size_t>(kCopies * channel_bins));
    for (int64_t c = begin; c < end; ++c) {
      Histogram& channel = histograms.per_channel[static_cast<size_t>(c)];
      const Binning channel_binning = binning(channel.limit, channel.half_bins());
      std::fill(local.begin(), local.end(), 0);
      for (int64_t n = 0; n < images; ++n) {
        const float* values = data + (n * channels + c) * plane;
        int64_t i = 0;
        for (; i + kCopies <= plane; i += kCopies) {
          for (int64_t k = 0; k < kCopies; ++k) {
            ++local[static_cast<size_t>(k * channel_bins + bin_of(values[i + k], channel_binning))];
            ++own[static_cast<size_t>(k * tensor_binning.bins + bin_of(values[i + k], tensor_binning))];
          }
        }
        for (; i < plane; ++i) {
          ++local[static_cast<size_t>(bin_of(values[i], channel_binning))];
          ++own[static_cast<size_t>(bin_of(values[i], tensor_binning))];
        }
      }
      for (int64_t k = 0; k < kCopies; ++k) {
        for (int64_t b = 0; b < channel_bins; ++b) {
          channel.counts[static_cast<size_t>(b)] += local[static_cast<size_t>(k * channel_bins + b)];
        }
      }
    }
  });
  for (const std::vector<int64_t>& own : tensor_counts) {
    for (size_t i = 0; i < own.size(); ++i) {
      histograms.per_tensor.counts[i % static_cast<size_t>(tensor_binning.bins)] += own[i];
    }
  }
}

// The same binning with ATen on the batch's device (bin_of's formula, in float32); one transfer of the counts.
void observe_aten(const at::Tensor& batch, SiteHistograms& histograms) {
  const int64_t images = batch.size(0), channels = batch.size(1);
  const at::Tensor x = batch.reshape({images, channels, -1}).to(at::kFloat);
  const auto to_long_bins = [](const at::Tensor& f, int64_t bins) {
    return at::where(f >= 0, f, at::zeros_like(f)).clamp_max(static_cast<double>(bins - 1)).floor().to(at::kLong);
  };
  const Binning t = binning(histograms.per_tensor.limit, histograms.per_tensor.half_bins());
  const at::Tensor tensor_bins = to_long_bins(x * t.scale + t.offset, t.bins).flatten();
  const at::Tensor tensor_counts = at::bincount(tensor_bins, {}, t.bins).to(at::kCPU, at::kLong).contiguous();
  for (int64_t i = 0; i < t.bins; ++i) {
    histograms.per_tensor.counts[static_cast<size_t>(i)] += tensor_counts.data_ptr<int64_t>()[i];
  }
  const int64_t channel_bins = histograms.per_channel.empty() ? 0 : 2 * histograms.per_channel[0].half_bins();
  std::vector<float> scales, offsets;
  for (const Histogram& h : histograms.per_channel) {
    const Binning b = binning(h.limit, h.half_bins());
    scales.push_back(b.scale);
    offsets.push_back(b.offset);
  }
  const auto floats = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor scale = at::tensor(scales, floats).to(x.device()).view({1, -1, 1});
  const at::Tensor offset = at::tensor(offsets, floats).to(x.device()).view({1, -1, 1});
  const at::Tensor base = (at::arange(channels, x.options().dtype(at::kLong)) * channel_bins).view({1, -1, 1});
  const at::Tensor bins = (to_long_bins(x * scale + offset, channel_bins) + base).flatten();
  const at::Tensor counts = at::bincount(bins, {}, channels * channel_bins).to(at::kCPU, at::kLong).contiguous();
  const int64_t* c = counts.data_ptr<int64_t>();
  for (int64_t ch = 0; ch < channels; ++ch) {
    std::vector<int64_t>& target = histograms.per_channel[static_cast<size_t>(ch)].counts;
    for (int64_t i = 0; i < channel_bins; ++i) target[static_cast<size_t>(i)] += c[ch * channel_bins + i];
  }
}

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void put_varint(std::string& bytes, uint64_t value) {
  while (value >= 0x80) {
    bytes.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  bytes.push_back(static_cast<char>(value));
}

}  // namespace

int64_t Histogram::total() const {
  int64_t sum = 0;
  for (int64_t c : counts) sum += c;
  return sum;
}

std::vector<double> Histogram::abs_counts() const {
  const int64_t h = half_bins();
  std::vector<double> folded(static_cast<size_t>(h), 0.0);
  for (int64_t j = 0; j < h; ++j) {
    folded[static_cast<size_t>(j)] =
        static_cast<double>(counts[static_cast<size_t>(h + j)] + counts[static_cast<size_t>(h - 1 - j)]);
  }
  return folded;
}

HistogramAccumulator::HistogramAccumulator(double tensor_limit, const std::vector<double>& channel_limits,
                                           int64_t tensor_half_bins, int64_t channel_half_bins) {
  histograms_.per_tensor = empty_histogram(tensor_limit, tensor_half_bins);
  for (double limit : channel_limits) histograms_.per_channel.push_back(empty_histogram(limit, channel_half_bins));
}

void HistogramAccumulator::observe(const at::Tensor& batch) {
  if (batch.dim() < 2 || batch.size(1) != static_cast<int64_t>(histograms_.per_channel.size())) {
    throw std::invalid_argument("HistogramAccumulator::observe: batch does not have the channels of the histograms");
  }
  if (batch.numel() == 0) return;
  if (batch.device().is_cpu() && batch.scalar_type() == at::kFloat) {
    observe_cpu(batch, histograms_);
  } else {
    observe_aten(batch, histograms_);
  }
}

SiteHistograms tensor_histograms(const at::Tensor& weight, int64_t tensor_half_bins, int64_t channel_half_bins) {
  const at::Tensor w = weight.to(at::kFloat).contiguous();
  const at::Tensor per_channel_abs = w.reshape({w.size(0), -1}).abs().amax(1).to(at::kCPU, at::kDouble).contiguous();
  std::vector<double> limits(per_channel_abs.data_ptr<double>(),
                             per_channel_abs.data_ptr<double>() + per_channel_abs.numel());
  const double limit = limits.empty() ? 0.0 : *std::max_element(limits.begin(), limits.end());
  HistogramAccumulator accumulator(limit, limits, tensor_half_bins, channel_half_bins);
  accumulator.observe(w.unsqueeze(0));  // one "image" whose channels are the output channels
  return accumulator.histograms();
}

std::string encode_counts(const std::vector<int64_t>& counts) {
  std::string bytes;
  for (size_t i = 0; i < counts.size();) {
    if (counts[i] == 0) {
      size_t run = 0;
      while (i < counts.size() && counts[i] == 0) ++run, ++i;
      put_varint(bytes, 2 * static_cast<uint64_t>(run) + 1);
    } else {
      put_varint(bytes, 2 * static_cast<uint64_t>(counts[i]));
      ++i;
    }
  }
  std::string text;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t chunk = 0;
    for (size_t k = 0; k < 3; ++k) chunk = (chunk << 8) | (k < n ? static_cast<uint8_t>(bytes[i + k]) : 0u);
    for (size_t k = 0; k < 4; ++k) text.push_back(k <= n ? kBase64[(chunk >> (18 - 6 * k)) & 63] : '=');
  }
  return text;
}

std::vector<int64_t> decode_counts(const std::string& text, size_t expected) {
  if (text.size() % 4 != 0) throw std::invalid_argument("counts: base64 length is not a multiple of 4");
  std::string bytes;
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t chunk = 0;
    int padding = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char ch = text[i + k];
      uint32_t digit = 0;
      if (ch == '=' && i + 4 == text.size() && k >= 2) {
        ++padding;
      } else {
        const char* found = ch == '\0' ? nullptr : std::char_traits<char>::find(kBase64, 64, ch);
        if (found == nullptr || padding > 0) throw std::invalid_argument("counts: not base64");
        digit = static_cast<uint32_t>(found - kBase64);
      }
      chunk = (chunk << 6) | digit;
    }
    for (int k = 0; k < 3 - padding; ++k) bytes.push_back(static_cast<char>((chunk >> (16 - 8 * k)) & 0xff));
  }
  std::vector<int64_t> counts;
  counts.reserve(expected);
  size_t pos = 0;
  while (pos < bytes.size()) {
    uint64_t value = 0;
    int shift = 0;
    while (true) {
      if (pos >= bytes.size() || shift > 63) throw std::invalid_argument("counts: truncated or oversized varint");
      const auto byte = static_cast<uint8_t>(bytes[pos++]);
      if (shift == 63 && (byte & 0x7e) != 0) throw std::invalid_argument("counts: varint beyond 64 bits");
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) break;
      shift += 7;
    }
    if (value & 1) {
      const uint64_t run = value >> 1;
      if (run == 0 || run > expected - counts.size()) throw std::invalid_argument("counts: more counts than bins");
      counts.insert(counts.end(), static_cast<size_t>(run), 0);
    } else {
      const uint64_t count = value >> 1;
      if (count == 0 || count > static_cast<uint64_t>(INT64_MAX) / 2) {
        throw std::invalid_argument("counts: a count is zero outside a run or too large");
      }
      if (counts.size() >= expected) throw std::invalid_argument("counts: more counts than bins");
      counts.push_back(static_cast<int64_t>(count));
    }
  }
  if (counts.size() != expected) throw std::invalid_argument("counts: fewer counts than bins");
  return counts;
}

}  // namespace quantsim
