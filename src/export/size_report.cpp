#include "quantsim/export/size_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

namespace quantsim {
namespace {

constexpr int64_t kFloat32Bytes = 4;
constexpr int64_t kScaleAndZeroPointBytes = 4 + 4;
constexpr int64_t kCorrectionValueBytes = 8;

std::string width_text(const std::vector<int>& code_bits) {
  const auto [lo, hi] = std::minmax_element(code_bits.begin(), code_bits.end());
  if (*lo == *hi) return std::to_string(*lo);
  const double mean = std::accumulate(code_bits.begin(), code_bits.end(), 0.0) / static_cast<double>(code_bits.size());
  return fmt::format("{}-{} (mean {:.2f})", *lo, *hi, mean);
}

int64_t correction_bytes(const CorrectionSteps& steps) {
  int64_t bytes = 0;
  if (steps.variance) bytes += 2 * kCorrectionValueBytes * steps.variance->q_mean.numel();
  if (steps.mean) bytes += 2 * kCorrectionValueBytes * steps.mean->q_mean.numel();
  return bytes;
}

std::string ratio_text(int64_t fp32, int64_t quantized) {
  return quantized == 0 ? "-" : fmt::format("{:.2f}x", static_cast<double>(fp32) / static_cast<double>(quantized));
}

}  // namespace

LayerSize layer_size(const WeightRecord& layer) {
  LayerSize size;
  size.name = layer.name;
  const int64_t bias = layer.bias.defined() ? layer.bias.numel() : 0;
  size.bias_bytes = kFloat32Bytes * bias;
  if (layer.packed) {
    const PackedWeight& p = *layer.packed;
    const int64_t weights = std::accumulate(p.shape.begin(), p.shape.end(), int64_t{1}, std::multiplies<>());
    const auto entries = static_cast<int64_t>(p.scale.size());
    const bool varying = std::adjacent_find(p.code_bits.begin(), p.code_bits.end(), std::not_equal_to<>()) !=
                         p.code_bits.end();
    size.bits = width_text(p.code_bits);
    for (size_t e = 0; e < p.levels.size(); ++e) {
      size.wide_grid = size.wide_grid || p.levels[e] != (int64_t{1} << p.code_bits[e]);
    }
    size.parameters = weights + bias;
    size.code_bytes = static_cast<int64_t>(p.codes.size());
    size.param_bytes = kScaleAndZeroPointBytes * entries + (varying ? entries : 0);
  } else {
    size.bits = "f32";
    size.parameters = layer.float_weight.numel() + bias;
    size.code_bytes = kFloat32Bytes * layer.float_weight.numel();
  }
  size.param_bytes += correction_bytes(layer.corrections);
  size.fp32_bytes = kFloat32Bytes * size.parameters;
  return size;
}

std::string format_size_report(const std::vector<LayerSize>& layers) {
  LayerSize total;
  total.name = "total";
  size_t name_width = total.name.size();
  size_t bits_width = 4;
  bool any_wide = false;
  for (const LayerSize& l : layers) {
    name_width = std::max(name_width, l.name.size());
    bits_width = std::max(bits_width, l.bits.size() + (l.wide_grid ? 1 : 0));
    total.parameters += l.parameters;
    total.fp32_bytes += l.fp32_bytes;
    total.code_bytes += l.code_bytes;
    total.param_bytes += l.param_bytes;
    total.bias_bytes += l.bias_bytes;
    any_wide = any_wide || l.wide_grid;
  }
  const auto row = [&](const std::string& name, const std::string& bits, const std::string& parameters,
                       const std::string& fp32, const std::string& codes, const std::string& params,
                       const std::string& bias, const std::string& quantized, const std::string& ratio) {
    return fmt::format("{:<{}}  {:>{}}  {:>10}  {:>11}  {:>10}  {:>9}  {:>9}  {:>11}  {:>7}\n", name, name_width, bits,
                       bits_width, parameters, fp32, codes, params, bias, quantized, ratio);
  };
  const auto cells = [&](const LayerSize& l, const std::string& bits) {
    return row(l.name, bits, std::to_string(l.parameters), std::to_string(l.fp32_bytes), std::to_string(l.code_bytes),
               std::to_string(l.param_bytes), std::to_string(l.bias_bytes), std::to_string(l.quantized_bytes()),
               ratio_text(l.fp32_bytes, l.quantized_bytes()));
  };
  std::string text = row("layer", "bits", "params", "FP32 bytes", "codes", "qparams", "bias", "quantized", "ratio");
  for (const LayerSize& l : layers) text += cells(l, l.bits + (l.wide_grid ? "*" : ""));
  text += cells(total, "");
  if (any_wide) {
    text += "* a grid whose level count is not a power of two (e.g. GPFQ's 2^b + 1): codes take ceil(log2(levels)) "
            "bits\n";
  }
  return text;
}

}  // namespace quantsim
