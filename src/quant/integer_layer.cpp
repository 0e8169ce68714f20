#include "quantsim/quant/integer_layer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "common/affine_quantizer.h"
#include "fixed_point_detail.h"
#include "quantsim/core/errors.h"

namespace quantsim {
namespace {

constexpr double kInt32Max = static_cast<double>(std::numeric_limits<int32_t>::max());

int bits_of_levels(int64_t levels) {
  int bits = 0;
  while ((int64_t{1} << bits) < levels) ++bits;
  return bits;
}

// The largest |q - z| of codes in [0, max_code] around zero point z.
int64_t max_centered(int64_t zero_point, int64_t max_code) { return std::max(zero_point, max_code - zero_point); }

}  // namespace

ActivationCodes activation_codes(const QuantParams& params) {
  if (params.per_channel) {
    throw UserError("per-channel activation ranges have no integer form (one scale and zero point per tensor)");
  }
  if (params.bits < kernels::kMinQuantBits || params.bits > kernels::kMaxQuantBits) {
    throw UserError(
        fmt::format("the activation is not quantized ({} bits); integer arithmetic needs codes", params.bits));
  }
  // The fake quantizer's parameters: the range narrowed to float32, then kernels::make_affine_quant_params, as
  // fake_quant_per_tensor computes them (apply_quant_params -> fake_quant_detail::per_tensor_params).
  const auto lo = static_cast<float>(params.range.lo);
  const auto hi = static_cast<float>(params.range.hi);
  const float width = std::max(hi, 0.0f) - std::min(lo, 0.0f);
  if (!std::isfinite(lo) || !std::isfinite(hi) || !std::isfinite(width)) {
    throw UserError(fmt::format("the activation range [{}, {}] is not finite in float32", lo, hi));
  }
  const kernels::AffineQuantParams p = kernels::make_affine_quant_params(lo, hi, params.bits);
  if (p.scale == 0.0f) {
    throw UserError(fmt::format("the activation range [{}, {}] is empty: the fake quantizer passes it through "
                                "unchanged and integer hardware has no code for it",
                                lo, hi));
  }
  return ActivationCodes{p.scale, static_cast<int32_t>(p.zero_point), params.bits};
}

at::Tensor quantize_to_codes(const at::Tensor& x, const ActivationCodes& codes) {
  if (x.scalar_type() != at::kFloat) throw std::invalid_argument("quantize_to_codes: x must be float32");
  if (codes.scale <= 0.0f || codes.bits < 1 || codes.bits > kernels::kMaxQuantBits) {
    throw std::invalid_argument("quantize_to_codes: codes without a scale or bits");
  }
  const at::Tensor src = x.contiguous();
  at::Tensor out = at::empty(src.sizes(), src.options().dtype(at::kInt));
  const kernels::AffineQuantParams p{codes.scale, static_cast<float>(codes.zero_point),
                                     static_cast<float>(codes.max_code())};
  const float* in = src.data_ptr<float>();
  int32_t* q = out.data_ptr<int32_t>();
  std::atomic<bool> saw_nan{false};
  at::parallel_for(0, src.numel(), 32768, [&](int64_t begin, int64_t end) {
    bool nan = false;
    for (int64_t i = begin; i < end; ++i) {
      const float v = in[i];
      nan |= v != v;
      // The very float32 operations of kernels::fake_quant_value, stopping before the dequantization.
      float c = kernels::round_half_even(kernels::divide_ieee(v, p.scale)) + p.zero_point;
      c = c < 0.0f ? 0.0f : c;
      c = c > p.q_max ? p.q_max : c;
      q[i] = nan ? 0 : static_cast<int32_t>(c);
    }
    if (nan) saw_nan = true;
  });
  if (saw_nan) throw UserError("the tensor holds NaN, which has no integer code");
  return out;
}

IntegerLayer integer_layer(const Layer& layer, const QuantizedWeight& weight, const ActivationCodes& input) {
  const auto refuse = [&](const std::string& why) {
    return UserError(fmt::format("layer '{}': no integer form: {}", layer.name, why));
  };
  if (weight.bits == 0 || !weight.grid_weight.defined() || weight.grid.step.empty()) {
    throw refuse("its weight is left float (no bits)");
  }
  if (layer.transposed) throw refuse("a transposed convolution is not supported");
  if (input.scale <= 0.0f || input.bits < 1) throw refuse("its input has no activation codes");
  if (!weight.weight.defined() || !weight.weight.sizes().equals(weight.grid_weight.sizes()) ||
      !at::equal(weight.weight.to(at::kCPU, at::kFloat), weight.grid_weight.to(at::kCPU, at::kFloat))) {
    throw refuse("the weight it computes with is not on its quantization grid (weight corrections -bcw/-vcw move it "
                 "off the grid)");
  }
  const at::Tensor grid_weight = weight.grid_weight.to(at::kCPU, at::kFloat).contiguous();
  const int64_t out_channels = grid_weight.size(0);
  const size_t entries = weight.grid.step.size();
  if ((entries != 1 && static_cast<int64_t>(entries) != out_channels) || weight.grid.offset.size() != entries ||
      weight.grid.levels.size() != entries) {
    throw refuse(fmt::format("its grid has {} entries for {} output channels", entries, out_channels));
  }

  IntegerLayer result;
  result.index = layer.index;
  result.name = layer.name;
  result.kind = layer.kind;
  result.groups = layer.groups;
  result.input = input;
  if (layer.kind == LayerKind::kConv) {
    const auto spatial = static_cast<size_t>(grid_weight.dim() - 2);
    if (grid_weight.dim() < 3 || layer.stride.size() != spatial || layer.padding.size() != spatial ||
        layer.dilation.size() != spatial) {
      throw refuse("its convolution geometry (stride, padding, dilation) is not a constant integer list");
    }
    result.stride = layer.stride;
    result.padding = layer.padding;
    result.dilation = layer.dilation;
  } else if (grid_weight.dim() != 2) {
    throw refuse("a linear weight must have two dimensions");
  }

  // A channel with step 0 was left unchanged by the quantizer because its range is empty: all its weights are 0.
  // Its codes and zero point are 0; its scale is the layer's largest step (1 if none) so that its bias, which alone
  // makes its output, is held at a resolution comparable to the other channels' (a scale of 0 would have none).
  float largest_step = 0.0f;
  for (float step : weight.grid.step) largest_step = std::max(largest_step, step);
  if (largest_step == 0.0f) largest_step = 1.0f;

  const int64_t per_channel = out_channels == 0 ? 0 : grid_weight.numel() / out_channels;  // K
  result.weight_codes = at::empty(grid_weight.sizes(), grid_weight.options().dtype(at::kInt));
  const float* w = grid_weight.data_ptr<float>();
  int32_t* codes = result.weight_codes.data_ptr<int32_t>();
  for (int64_t c = 0; c < out_channels; ++c) {
    const size_t e = entries == 1 ? 0 : static_cast<size_t>(c);
    const float step = weight.grid.step[e];
    const int64_t levels = weight.grid.levels[e];
    const int bits = bits_of_levels(levels);
    result.weight_bits.push_back(bits);
    if (step == 0.0f) {
      for (int64_t i = 0; i < per_channel; ++i) {
        if (w[c * per_channel + i] != 0.0f)
          throw refuse(fmt::format("output channel {} has step 0 but is not all zeros", c));
        codes[c * per_channel + i] = 0;
      }
      result.weight_zero_points.push_back(0);
      result.weight_scales.push_back(static_cast<double>(largest_step));
      continue;
    }
    const auto z = static_cast<int32_t>(std::nearbyint(-static_cast<double>(weight.grid.offset[e]) / step));
    for (int64_t i = 0; i < per_channel; ++i) {
      const float value = w[c * per_channel + i];
      const double k = std::nearbyint(static_cast<double>(value) / step) + z;
      // The code must give back the grid weight exactly as the fake quantizer computed it: (k - z) * step in float32.
      if (!(k >= 0 && k < static_cast<double>(levels)) || static_cast<float>(k - z) * step != value) {
        throw refuse(fmt::format("weight {} of output channel {} ({}) is not on its grid", i, c, value));
      }
      codes[c * per_channel + i] = static_cast<int32_t>(k);
    }
    result.weight_zero_points.push_back(z);
    result.weight_scales.push_back(static_cast<double>(step));
  }

  const int64_t max_x = max_centered(input.zero_point, input.max_code());
  const at::Tensor bias = layer.bias.defined() ? layer.bias.to(at::kCPU, at::kDouble).contiguous() : at::Tensor();
  if (bias.defined() && bias.numel() != out_channels) {
    throw refuse(fmt::format("its bias has {} entries for {} output channels", bias.numel(), out_channels));
  }
  for (int64_t c = 0; c < out_channels; ++c) {
    // Both factors are float32 values: their product is exact in double.
    const double acc_scale = static_cast<double>(input.scale) * result.weight_scales[static_cast<size_t>(c)];
    result.accumulator_scales.push_back(acc_scale);
    double b = 0.0;
    if (bias.defined()) {
      b = std::nearbyint(bias.data_ptr<double>()[c] / acc_scale);
      if (!std::isfinite(b) || std::abs(b) > kInt32Max) {
        throw refuse(fmt::format("the bias of output channel {} ({}) at scale {:g} does not fit in int32", c,
                                 bias.data_ptr<double>()[c], acc_scale));
      }
    }
    result.bias.push_back(static_cast<int32_t>(b));
    // The largest accumulator any input codes can produce, bias included (the int32 sum must never wrap).
    const int64_t max_w = max_centered(result.weight_zero_points[static_cast<size_t>(c)],
                                       (int64_t{1} << result.weight_bits[static_cast<size_t>(c)]) - 1);
    const double bound = static_cast<double>(per_channel) * static_cast<double>(max_x) * static_cast<double>(max_w);
    if (bound + std::abs(b) > kInt32Max) {
      throw refuse(fmt::format("its accumulator may overflow int32 in output channel {} ({} products of up to {} x {} "
                               "plus a bias of {})",
                               c, per_channel, max_x, max_w, static_cast<int64_t>(b)));
    }
  }
  result.accumulate_weights = accumulate_weights(result.weight_codes, result.weight_zero_points, input, true);
  return result;
}

namespace {

// Largest integer float32 holds exactly, with all below it: sums of products below it are exact in any order.
constexpr int64_t kFloat32ExactIntegers = int64_t{1} << 24;

at::Tensor layer_product(const IntegerLayer& layer, const at::Tensor& x, const at::Tensor& w) {
  if (layer.kind == LayerKind::kLinear) return at::linear(x, w);
  return at::convolution(x, w, at::Tensor(), layer.stride, layer.padding, layer.dilation, /*transposed=*/false,
                         /*output_padding=*/std::vector<int64_t>(layer.stride.size(), 0), layer.groups);
}

}  // namespace

// The engine: ATen's float convolution / linear on the centered codes (q - z); zero padding of the centered input is
// padding with the input's zero point. Exactness: every product and every partial sum, in whatever order the
// backend adds them (direct convolution, im2col + GEMM; PyTorch's CPU convolutions use oneDNN's direct algorithm,
// never Winograd or FFT), is an integer of magnitude at most B = K * max|q_x - z_x| * max|q_w - z_w|, so the float
// result is exact when B <= 2^24 (float32). B is larger for most 8-bit layers, so the centered weights are split into
// base-2^t digits (w = sum_j d_j 2^(t j), low digits in [0, 2^t), the top one signed) small enough that each digit's
// product stays exact in float32, and the digit products are combined in float64 (exact below 2^53); integer_layer
// splits them once per layer. 8-bit layers need 1 to 3 float32 passes (depthwise: 1). Why not float64 throughout:
// LibTorch's float64 convolution has no oneDNN kernel (im2col
// + GEMM, a grouped one group by group: 20-45x slower than float32 on single depthwise and 3x3 layers of
// mobilenet_v2_q), and why not gemmlowp itself: it has no depthwise kernel and needs an im2col. bench_integer_layer,
// all layers of a model at batch 1, one thread: this engine 15.6 ms on tiny_darknet and 17.7 ms on mobilenet_v2_q,
// float64 convolution 1.9x and 3.7x that, gemmlowp (im2col + GEMM) 4.0x and 7.2x. The float64 path remains for
// inputs on a GPU, where float32 convolutions may run in TF32.
AccumulateWeights accumulate_weights(const at::Tensor& weight_codes, const std::vector<int32_t>& weight_zero_points,
                                     const ActivationCodes& input, bool float32) {
  AccumulateWeights plan;
  const int64_t out_channels = weight_codes.size(0);
  const int64_t k = out_channels == 0 ? 0 : weight_codes.numel() / out_channels;
  std::vector<int64_t> column_shape(static_cast<size_t>(weight_codes.dim()), 1);
  column_shape[0] = out_channels;
  const at::Tensor w_zero = at::tensor(weight_zero_points, at::kInt).view(column_shape);
  const at::Tensor w_centered = weight_codes.cpu() - w_zero;  // int32
  const int64_t max_x = max_centered(input.zero_point, input.max_code());
  if (!float32 || k * max_x > kFloat32ExactIntegers) {
    plan.digits.push_back(w_centered.to(at::kDouble));
    return plan;
  }
  // Digits of at most `digit_max` in magnitude keep each pass exact; base 2^t with 2^t - 1 <= digit_max.
  const int64_t digit_max = kFloat32ExactIntegers / std::max<int64_t>(k * max_x, 1);
  int t = 0;
  while ((int64_t{2} << t) - 1 <= digit_max) ++t;
  plan.digit_bits = t;
  const int64_t base = int64_t{1} << t;
  at::Tensor rest = w_centered;
  while (rest.numel() > 0 && rest.abs().max().item<int64_t>() > digit_max) {
    const at::Tensor high = at::div(rest, base, "floor");
    plan.digits.push_back((rest - high * base).to(at::kFloat));
    rest = high;
  }
  plan.digits.push_back(rest.to(at::kFloat));
  return plan;
}

at::Tensor accumulate(const IntegerLayer& layer, const at::Tensor& input_codes) {
  if (input_codes.scalar_type() != at::kInt) throw std::invalid_argument("accumulate: input codes must be int32");
  const int64_t out_channels = layer.weight_codes.size(0);
  std::vector<int64_t> bias_shape(static_cast<size_t>(input_codes.dim()), 1);
  bias_shape[1] = out_channels;
  const at::Tensor bias = at::tensor(layer.bias, at::kInt).to(input_codes.device()).view(bias_shape);
  // The weights integer_layer() prepared where they suit this input's device; otherwise prepared now.
  const bool float32 = input_codes.is_cpu();
  const bool prepared_fits = !layer.accumulate_weights.digits.empty() &&
                             (float32 || layer.accumulate_weights.digits.front().scalar_type() == at::kDouble);
  const AccumulateWeights fresh = prepared_fits ? AccumulateWeights{}
                                                : accumulate_weights(layer.weight_codes, layer.weight_zero_points,
                                                                     layer.input, float32);
  const AccumulateWeights& plan = prepared_fits ? layer.accumulate_weights : fresh;
  const bool float64 = plan.digits.front().scalar_type() == at::kDouble;
  const at::Tensor x = input_codes.to(float64 ? at::kDouble : at::kFloat).sub_(layer.input.zero_point);
  if (plan.digits.size() == 1)
    return layer_product(layer, x, plan.digits.front().to(x.device())).to(at::kInt).add_(bias);
  at::Tensor acc;
  for (auto d = plan.digits.rbegin(); d != plan.digits.rend(); ++d) {  // Horner, from the top digit
    const at::Tensor part = layer_product(layer, x, d->to(x.device()));
    acc = acc.defined() ? acc.mul_(static_cast<double>(int64_t{1} << plan.digit_bits)).add_(part)
                        : part.to(at::kDouble);
  }
  return acc.to(at::kInt).add_(bias);
}

at::Tensor requantize_accumulators(const at::Tensor& accumulators, const std::vector<double>& scales,
                                   const ActivationCodes& out, int32_t clamp_lo, int32_t clamp_hi) {
  if (accumulators.scalar_type() != at::kInt) {
    throw std::invalid_argument("requantize_accumulators: accumulators must be int32");
  }
  if (!(0 <= clamp_lo && clamp_lo <= clamp_hi && clamp_hi <= out.max_code())) {
    throw std::invalid_argument(
        fmt::format("requantize_accumulators: clamp [{}, {}] outside [0, {}]", clamp_lo, clamp_hi, out.max_code()));
  }
  std::vector<FixedPointMultiplier> multipliers;
  for (double scale : scales) {
    try {
      multipliers.push_back(quantize_multiplier(scale / static_cast<double>(out.scale)));
    } catch (const std::invalid_argument&) {
      throw UserError(fmt::format("the accumulator scale {:g} over the output scale {:g} has no fixed-point "
                                  "multiplier (its exponent is outside [-31, 30])",
                                  scale, out.scale));
    }
  }
  // + zero point, then the clamp (gemmlowp: result_offset_after_shift, OutputStageClamp), in one pass; the sum is
  // taken in 64 bits so that a saturated product cannot wrap before the clamp.
  return fixed_point_detail::output_stage(accumulators, multipliers, 1, out.zero_point, clamp_lo, clamp_hi);
}

}  // namespace quantsim
