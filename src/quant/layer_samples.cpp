#include "quantsim/quant/layer_samples.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <array>
#include <stdexcept>

#include "quantsim/core/errors.h"
#include "quantsim/core/splitmix64.h"

namespace quantsim {
namespace {

// A conv2d geometry argument for both spatial dimensions (a one-element list applies to both).
std::array<int64_t, 2> pair_of(const std::vector<int64_t>& values) {
  return values.size() == 1 ? std::array<int64_t, 2>{values[0], values[0]}
                            : std::array<int64_t, 2>{values.at(0), values.at(1)};
}

bool geometry_known(const std::vector<int64_t>& values) { return values.size() == 1 || values.size() == 2; }

struct ConvGeometry {
  std::array<int64_t, 2> kernel, stride, padding, dilation;
  std::array<int64_t, 2> span() const {  // extent of one dilated kernel window
    return {(kernel[0] - 1) * dilation[0] + 1, (kernel[1] - 1) * dilation[1] + 1};
  }
};

ConvGeometry conv_geometry(const Layer& layer) {
  return {{layer.original_weight.size(2), layer.original_weight.size(3)},
          pair_of(layer.stride),
          pair_of(layer.padding),
          pair_of(layer.dilation)};
}

// Every kh x kw window of the padded input as a view [N, H_out, W_out, C, kh, kw] (no copy).
at::Tensor window_view(const at::Tensor& input, const ConvGeometry& g) {
  const at::Tensor padded = at::constant_pad_nd(input, {g.padding[1], g.padding[1], g.padding[0], g.padding[0]});
  const auto span = g.span();
  return padded.unfold(2, span[0], g.stride[0])
      .unfold(3, span[1], g.stride[1])
      .slice(4, 0, span[0], g.dilation[0])
      .slice(5, 0, span[1], g.dilation[1])
      .permute({0, 2, 3, 1, 4, 5});
}

at::Tensor conv_rows(const Layer& layer, const at::Tensor& input, const at::Tensor& rows) {
  const int64_t in_channels = layer.original_weight.size(1) * layer.groups;
  if (input.dim() != 4 || input.size(1) != in_channels) {
    throw std::invalid_argument(fmt::format("layer '{}' expects input [N, {}, H, W], got [{}]", layer.name, in_channels,
                                            fmt::join(input.sizes(), ", ")));
  }
  const at::Tensor windows = window_view(input, conv_geometry(layer));
  const int64_t height = windows.size(1), width = windows.size(2);
  const at::Tensor image = rows.div(height * width, "floor");
  const at::Tensor position = rows.remainder(height * width);
  const at::Tensor patches = windows.index({image, position.div(width, "floor"), position.remainder(width)});
  // [m, C, kh, kw] -> [G, m, C/G * kh * kw]: channel-major, the order of the flattened weight of each group. The row
  // length is spelled out: sampling may keep no row of a small map (m = 0), where -1 would be ambiguous.
  const int64_t row_length = patches.size(1) / layer.groups * patches.size(2) * patches.size(3);
  return patches.reshape({rows.size(0), layer.groups, row_length}).permute({1, 0, 2}).contiguous();
}

at::Tensor linear_rows(const Layer& layer, const at::Tensor& input, const at::Tensor& rows) {
  const int64_t features = layer.original_weight.size(1);
  if (input.dim() < 2 || input.size(-1) != features) {
    throw std::invalid_argument(fmt::format("layer '{}' expects input [N, ..., {}], got [{}]", layer.name, features,
                                            fmt::join(input.sizes(), ", ")));
  }
  return input.reshape({-1, features}).index_select(0, rows).unsqueeze(0).contiguous();
}

}  // namespace

void check_layer_samplable(const Layer& layer) {
  if (layer.kind == LayerKind::kLinear) return;
  if (layer.original_weight.dim() != 4) {
    throw UserError(fmt::format("layer '{}' ({}): GPFQ handles 2-D convolutions and linear layers; this one has a "
                                "{}-D weight",
                                layer.name, layer.op, layer.original_weight.dim()));
  }
  if (layer.transposed) {
    throw UserError(fmt::format("layer '{}' ({}): GPFQ does not handle transposed convolutions", layer.name, layer.op));
  }
  if (!geometry_known(layer.stride) || !geometry_known(layer.padding) || !geometry_known(layer.dilation)) {
    throw UserError(
        fmt::format("layer '{}' ({}): GPFQ needs constant integer stride, padding and dilation", layer.name, layer.op));
  }
}

int64_t rows_per_image(const Layer& layer, at::IntArrayRef input_sizes) {
  if (layer.kind == LayerKind::kLinear) {
    int64_t rows = 1;
    for (size_t d = 1; d + 1 < input_sizes.size(); ++d) rows *= input_sizes[d];
    return rows;
  }
  const ConvGeometry g = conv_geometry(layer);
  const auto span = g.span();
  int64_t rows = 1;
  for (int d = 0; d < 2; ++d) {
    rows *= (input_sizes.at(2 + d) + 2 * g.padding[d] - span[d]) / g.stride[d] + 1;
  }
  return rows;
}

std::vector<int64_t> sampled_image_rows(int64_t rows, double probability, uint64_t seed, int64_t layer_index,
                                        int64_t image_index) {
  std::vector<int64_t> kept;
  if (probability >= 1.0) {
    kept.resize(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) kept[static_cast<size_t>(r)] = r;
    return kept;
  }
  SplitMix64 keys(seed);
  SplitMix64 rng(keys.next() ^ (0xD1B54A32D192ED03ULL * static_cast<uint64_t>(layer_index + 1)) ^
                 (0x8CB92BA72F3D8DD7ULL * static_cast<uint64_t>(image_index + 1)));
  for (int64_t r = 0; r < rows; ++r) {
    const double uniform = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;  // [0, 1) on 53 bits
    if (uniform < probability) kept.push_back(r);
  }
  return kept;
}

at::Tensor layer_input_rows(const Layer& layer, const at::Tensor& input, const at::Tensor& rows) {
  const at::Tensor indices = rows.to(input.device(), at::kLong);
  return layer.kind == LayerKind::kLinear ? linear_rows(layer, input, indices) : conv_rows(layer, input, indices);
}

}  // namespace quantsim
