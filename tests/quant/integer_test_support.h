#pragma once
// Helpers for the integer-arithmetic tests: quantized weights with chosen per-channel bits and ranges (zero points at
// either end of the code range included), random layers, random input codes, and a naive int64 conv/linear.
#include <ATen/ATen.h>

#include <cstdint>
#include <random>
#include <vector>

#include "common/affine_quantizer.h"
#include "quantsim/quant/fake_quant.h"
#include "quantsim/quant/integer_layer.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim::testing {

// Where a channel's range sits relative to 0: straddling it, entirely >= 0 (zero point 0) or entirely <= 0 (zero
// point 2^b - 1).
enum class RangeSide { kStraddle, kNonNegative, kNonPositive };

// Quantizes `w` ([O, ...]) per channel on [min, max] of each channel (or of the whole tensor when `per_tensor`) with
// channel bits `bits` (one entry per channel, or one for all), as quantize_layer_weight does: fake_quant_per_channel
// for the weight, make_affine_quant_params for the grid.
inline QuantizedWeight quantize_weight_with_bits(const at::Tensor& w, const std::vector<int>& bits, bool per_tensor) {
  const int64_t channels = w.size(0);
  QuantizedWeight q;
  q.weight = w;
  q.bits = bits[0];
  if (per_tensor) {
    const float lo = w.min().item<float>();
    const float hi = w.max().item<float>();
    q.grid_weight = fake_quant_per_tensor(w, lo, hi, bits[0]);
    const auto p = kernels::make_affine_quant_params(lo, hi, bits[0]);
    q.grid = WeightGrid{{-p.zero_point * p.scale}, {p.scale}, {int64_t{1} << bits[0]}};
    q.params.bits = bits[0];
    q.params.range = ClipRange{lo, hi};
  } else {
    const at::Tensor flat = w.reshape({channels, -1});
    const at::Tensor lo = std::get<0>(flat.min(1)).contiguous();
    const at::Tensor hi = std::get<0>(flat.max(1)).contiguous();
    at::Tensor b = at::empty({channels}, at::kInt);
    for (int64_t c = 0; c < channels; ++c) b.data_ptr<int32_t>()[c] = bits.size() == 1 ? bits[0] : bits[c];
    q.grid_weight = fake_quant_per_channel(w, lo, hi, b, 0);
    q.params.per_channel = true;
    q.params.bits = bits[0];
    for (int64_t c = 0; c < channels; ++c) {
      const int cb = b.data_ptr<int32_t>()[c];
      const auto p = kernels::make_affine_quant_params(lo.data_ptr<float>()[c], hi.data_ptr<float>()[c], cb);
      q.grid.offset.push_back(-p.zero_point * p.scale);
      q.grid.step.push_back(p.scale);
      q.grid.levels.push_back(int64_t{1} << cb);
      q.params.lo.push_back(lo.data_ptr<float>()[c]);
      q.params.hi.push_back(hi.data_ptr<float>()[c]);
      q.params.channel_bits.push_back(cb);
    }
  }
  q.weight = q.grid_weight;  // no corrections: the layer computes with its grid weight
  return q;
}

// A random weight [O, ...] whose channel c lies on side sides[c % sides.size()] of 0.
inline at::Tensor random_weight(at::IntArrayRef sizes, const std::vector<RangeSide>& sides) {
  at::Tensor w = at::randn(sizes) * 0.3;
  for (int64_t c = 0; c < w.size(0); ++c) {
    switch (sides[static_cast<size_t>(c) % sides.size()]) {
      case RangeSide::kStraddle: break;
      case RangeSide::kNonNegative: w[c].abs_(); break;
      case RangeSide::kNonPositive: w[c].abs_().neg_(); break;
    }
  }
  return w.contiguous();
}

// Uniform random codes in [0, max_code], int32.
inline at::Tensor random_codes(at::IntArrayRef sizes, int32_t max_code) {
  return at::randint(0, int64_t{max_code} + 1, sizes, at::TensorOptions().dtype(at::kInt));
}

// The integer layer by definition, in int64: sum over the receptive field of (q_x - z_x) * (q_w - z_w), where input
// positions outside the image hold the zero point (contribute 0), plus the bias.
inline at::Tensor naive_accumulate(const IntegerLayer& layer, const at::Tensor& codes) {
  const at::Tensor x = codes.to(at::kLong).contiguous();
  const at::Tensor w = layer.weight_codes.to(at::kLong).contiguous();
  const int64_t out_channels = w.size(0);
  const int64_t zx = layer.input.zero_point;
  if (layer.kind == LayerKind::kLinear) {
    const int64_t n = x.size(0), f = x.size(1);
    at::Tensor out = at::empty({n, out_channels}, at::kLong);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t o = 0; o < out_channels; ++o) {
        int64_t acc = layer.bias[o];
        for (int64_t k = 0; k < f; ++k) {
          acc += (x[i][k].item<int64_t>() - zx) * (w[o][k].item<int64_t>() - layer.weight_zero_points[o]);
        }
        out[i][o] = acc;
      }
    }
    return out;
  }
  const int64_t n = x.size(0), c_in = x.size(1), h = x.size(2), wd = x.size(3);
  const int64_t kh = w.size(2), kw = w.size(3), cg = w.size(1), og = out_channels / layer.groups;
  const int64_t oh = (h + 2 * layer.padding[0] - layer.dilation[0] * (kh - 1) - 1) / layer.stride[0] + 1;
  const int64_t ow = (wd + 2 * layer.padding[1] - layer.dilation[1] * (kw - 1) - 1) / layer.stride[1] + 1;
  (void)c_in;
  at::Tensor out = at::empty({n, out_channels, oh, ow}, at::kLong);
  const int64_t* xd = x.data_ptr<int64_t>();
  const int64_t* wdp = w.data_ptr<int64_t>();
  int64_t* od = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out_channels; ++o) {
      const int64_t g = o / og;
      const int64_t zw = layer.weight_zero_points[o];
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xo = 0; xo < ow; ++xo) {
          int64_t acc = layer.bias[o];
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t iy = y * layer.stride[0] - layer.padding[0] + ky * layer.dilation[0];
                const int64_t ix = xo * layer.stride[1] - layer.padding[1] + kx * layer.dilation[1];
                const int64_t c = g * cg + ci;
                const int64_t q =
                    (iy < 0 || iy >= h || ix < 0 || ix >= wd) ? zx : xd[((i * x.size(1) + c) * h + iy) * wd + ix];
                acc += (q - zx) * (wdp[((o * cg + ci) * kh + ky) * kw + kx] - zw);
              }
          od[((i * out_channels + o) * oh + y) * ow + xo] = acc;
        }
    }
  return out;
}

}  // namespace quantsim::testing
