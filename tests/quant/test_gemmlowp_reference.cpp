// quant-sim's integer layer against GEMMLOWP, code for code: accumulate() + requantize_accumulators() on one side,
// gemmlowp's GEMM on an im2col of the same input codes (padded with the input zero point) with per-channel offsets
// and the output pipeline bias addition -> fixed-point multiplier and exponent (per channel) -> clamp -> saturating
// cast to uint8 on the other. Random layers (2..8 bits, per-tensor and per-channel weights with per-channel bit
// widths, zero points at both ends of the code range, strides, padding, dilation, groups, depthwise, linear) and
// every conv/linear shape of the shared models with their real weights at 8 and 4 bits per channel.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "integer_test_support.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/graph/site_handler.h"
#include "quantsim/quant/integer_layer.h"
#include "quantsim/quant/quant_options.h"
#include "quantsim/quant/weight_quantization.h"

#ifdef QUANTSIM_WITH_GEMMLOWP
#include <gemmlowp/public/gemmlowp.h>
#endif

namespace quantsim {
namespace {

using testing::RangeSide;

#ifdef QUANTSIM_WITH_GEMMLOWP

// The layer's input codes as gemmlowp's right-hand side for group g: a column-major [K, P] uint8 matrix whose
// column p is the receptive field of output position p = (n, oy, ox), rows ordered as the weight's (ci, ky, kx);
// positions outside the image hold the input zero point. A linear layer's [N, F] input is already [F, N].
std::vector<uint8_t> im2col(const IntegerLayer& layer, const at::Tensor& codes, int64_t group, int64_t& depth,
                            int64_t& columns, std::vector<int64_t>& out_spatial) {
  const at::Tensor x = codes.contiguous();
  const int32_t* xd = x.data_ptr<int32_t>();
  if (layer.kind == LayerKind::kLinear) {
    depth = x.size(1);
    columns = x.size(0);
    out_spatial.clear();
    return std::vector<uint8_t>(xd, xd + x.numel());
  }
  const at::IntArrayRef w = layer.weight_codes.sizes();
  const int64_t n = x.size(0), h = x.size(2), wd = x.size(3), cg = w[1], kh = w[2], kw = w[3];
  const int64_t oh = (h + 2 * layer.padding[0] - layer.dilation[0] * (kh - 1) - 1) / layer.stride[0] + 1;
  const int64_t ow = (wd + 2 * layer.padding[1] - layer.dilation[1] * (kw - 1) - 1) / layer.stride[1] + 1;
  depth = cg * kh * kw;
  columns = n * oh * ow;
  out_spatial = {oh, ow};
  std::vector<uint8_t> m(static_cast<size_t>(depth * columns));
  const auto zx = static_cast<uint8_t>(layer.input.zero_point);
  size_t k = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t xo = 0; xo < ow; ++xo)
        for (int64_t ci = 0; ci < cg; ++ci)
          for (int64_t ky = 0; ky < kh; ++ky)
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t iy = y * layer.stride[0] - layer.padding[0] + ky * layer.dilation[0];
              const int64_t ix = xo * layer.stride[1] - layer.padding[1] + kx * layer.dilation[1];
              const int64_t c = group * cg + ci;
              m[k++] = (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                           ? zx
                           : static_cast<uint8_t>(xd[((i * x.size(1) + c) * h + iy) * wd + ix]);
            }
  return m;
}

// gemmlowp's result for the whole layer, as int32 codes in quant-sim's layout ([N, O, OH, OW] or [N, O]).
at::Tensor gemmlowp_layer(const IntegerLayer& layer, const at::Tensor& codes, const ActivationCodes& out, int32_t lo,
                          int32_t hi, bool per_tensor_stage) {
  using namespace gemmlowp;
  GemmContext context;
  context.set_max_num_threads(1);
  const int64_t out_channels = layer.weight_codes.size(0);
  const int64_t og = out_channels / layer.groups;
  const at::Tensor w = layer.weight_codes.contiguous();
  std::vector<int32_t> multipliers, exponents, lhs_offsets;
  for (int64_t c = 0; c < out_channels; ++c) {
    const FixedPointMultiplier m = quantize_multiplier(layer.accumulator_scales[c] / out.scale);
    multipliers.push_back(m.multiplier);
    exponents.push_back(m.exponent);
    lhs_offsets.push_back(-layer.weight_zero_points[c]);
  }
  at::Tensor result;
  for (int64_t g = 0; g < layer.groups; ++g) {
    int64_t depth = 0, columns = 0;
    std::vector<int64_t> spatial;
    const std::vector<uint8_t> rhs_data = im2col(layer, codes, g, depth, columns, spatial);
    std::vector<uint8_t> lhs_data(static_cast<size_t>(og * depth));
    for (int64_t i = 0; i < og * depth; ++i)
      lhs_data[i] = static_cast<uint8_t>(w.data_ptr<int32_t>()[g * og * depth + i]);
    std::vector<uint8_t> out_data(static_cast<size_t>(og * columns));
    const int rows = static_cast<int>(og), d = static_cast<int>(depth), cols = static_cast<int>(columns);
    MatrixMap<const uint8_t, MapOrder::RowMajor> lhs(lhs_data.data(), rows, d);
    MatrixMap<const uint8_t, MapOrder::ColMajor> rhs(rhs_data.data(), d, cols);
    MatrixMap<uint8_t, MapOrder::ColMajor> res(out_data.data(), rows, cols);
    const size_t first = static_cast<size_t>(g * og);
    using ColMap = VectorMap<const int32_t, VectorShape::Col>;
    OutputStageBiasAddition<ColMap> bias{ColMap(layer.bias.data() + first, rows)};
    OutputStageClamp clamp{lo, hi};
    OutputStageSaturatingCastToUint8 cast;
    if (per_tensor_stage) {
      // One weight zero point, one multiplier: the legacy entry point with scalar offsets.
      OutputStageScaleInt32ByFixedPointAndExponent scale{multipliers[first], exponents[first], out.zero_point};
      GemmWithOutputPipeline<uint8_t, uint8_t, DefaultL8R8BitDepthParams>(&context, lhs, rhs, &res, lhs_offsets[first],
                                                                          -layer.input.zero_point,
                                                                          std::make_tuple(bias, scale, clamp, cast));
    } else {
      OutputStageScaleInt32ByFixedPointAndExponentPC<VectorShape::Col> scale{
          ColMap(multipliers.data() + first, rows), ColMap(exponents.data() + first, rows), out.zero_point};
      const ColMap lhs_offset(lhs_offsets.data() + first, rows);
      const VectorDup<const int32_t, VectorShape::Row> rhs_offset(-layer.input.zero_point, cols);
      GemmWithOutputPipelinePC<uint8_t, uint8_t, DefaultL8R8BitDepthParams>(
          &context, lhs, rhs, &res, lhs_offset, rhs_offset, std::make_tuple(bias, scale, clamp, cast));
    }
    // [P, og] column-major result -> [N, og, spatial...]
    at::Tensor part = at::tensor(std::vector<int32_t>(out_data.begin(), out_data.end()), at::kInt);
    if (layer.kind == LayerKind::kLinear) {
      part = part.view({columns, og});
    } else {
      part = part.view({codes.size(0), spatial[0], spatial[1], og}).permute({0, 3, 1, 2});
    }
    result = result.defined() ? at::cat({result, part}, 1) : part;
  }
  return result.contiguous();
}

// An output quantizer that keeps most accumulators inside the code range (a few clamp): the range of the real
// accumulator values, narrowed by `shrink`, then zero point at 0, in the middle or at the top as `side` says.
ActivationCodes output_codes(const IntegerLayer& layer, const at::Tensor& acc, int bits, RangeSide side,
                             double shrink) {
  const at::Tensor scales = at::tensor(layer.accumulator_scales, at::kDouble);
  std::vector<int64_t> shape(static_cast<size_t>(acc.dim()), 1);
  shape[1] = -1;
  const at::Tensor real = acc.to(at::kDouble) * scales.view(shape);
  const double lo = real.min().item<double>() * shrink, hi = real.max().item<double>() * shrink;
  QuantParams p;
  p.bits = bits;
  const double span = std::max(hi - lo, 1e-6);
  p.range = side == RangeSide::kNonNegative
                ? ClipRange{0.0, span}
                : (side == RangeSide::kNonPositive ? ClipRange{-span, 0.0} : ClipRange{lo, hi});
  return activation_codes(p);
}

// Compares one layer on `codes`; returns how many outputs were compared.
int64_t expect_same_as_gemmlowp(const IntegerLayer& layer, const at::Tensor& codes, int out_bits, RangeSide out_side,
                                bool per_tensor_stage, const std::string& what) {
  const at::Tensor acc = accumulate(layer, codes);
  const ActivationCodes out = output_codes(layer, acc, out_bits, out_side, 0.8);
  // A fused ReLU-like clamp on some layers: the lower bound at the zero point, the upper one below the top.
  const bool fused = (out_bits % 2) == 1 && out_side == RangeSide::kStraddle;
  const int32_t lo = fused ? out.zero_point : 0;
  const int32_t hi = fused ? std::max(lo, out.max_code() - 1) : out.max_code();
  const at::Tensor ours = requantize_accumulators(acc, layer.accumulator_scales, out, lo, hi);
  const at::Tensor theirs = gemmlowp_layer(layer, codes, out, lo, hi, per_tensor_stage);
  EXPECT_EQ(ours.sizes(), theirs.sizes()) << what;
  if (ours.sizes() != theirs.sizes()) return 0;
  const at::Tensor differ = ours.ne(theirs);
  const int64_t mismatches = differ.sum().item<int64_t>();
  EXPECT_EQ(mismatches, 0) << what << ": " << mismatches << " of " << ours.numel() << " codes differ";
  // The comparison means something only if the codes spread over the range.
  EXPECT_GT(std::get<0>(at::_unique(ours)).size(0), std::min<int64_t>(2, hi - lo)) << what;
  return ours.numel();
}

QuantParams act_params(int bits, RangeSide side) {
  QuantParams p;
  p.bits = bits;
  p.range = side == RangeSide::kNonNegative
                ? ClipRange{0.0, 4.0}
                : (side == RangeSide::kNonPositive ? ClipRange{-3.0, 0.0} : ClipRange{-1.7, 2.9});
  return p;
}

TEST(GemmlowpReference, RandomLayers) {
  at::manual_seed(17);
  std::mt19937 rng(17);
  struct Shape {
    int64_t n, c_in, h, w, c_out, kh, kw, groups;
    std::vector<int64_t> stride, padding, dilation;
  };
  const std::vector<Shape> shapes = {
      {2, 3, 13, 11, 8, 3, 3, 1, {1, 1}, {1, 1}, {1, 1}}, {1, 8, 15, 15, 8, 3, 3, 8, {2, 2}, {1, 1}, {1, 1}},
      {1, 6, 9, 12, 9, 2, 3, 3, {1, 2}, {0, 2}, {2, 1}},  {2, 16, 7, 7, 24, 1, 1, 1, {1, 1}, {0, 0}, {1, 1}},
      {1, 5, 17, 10, 7, 5, 5, 1, {3, 2}, {2, 3}, {1, 2}}, {1, 12, 8, 8, 12, 3, 3, 12, {1, 1}, {2, 2}, {2, 2}},
      {1, 4, 6, 6, 4, 1, 1, 2, {2, 2}, {1, 1}, {1, 1}},   {1, 32, 5, 5, 3, 3, 3, 1, {1, 1}, {1, 1}, {1, 1}},
  };
  const std::vector<RangeSide> sides = {RangeSide::kStraddle, RangeSide::kNonNegative, RangeSide::kNonPositive};
  std::uniform_int_distribution<int> bits(2, 8);
  int64_t compared = 0;
  int index = 0;
  for (int repeat = 0; repeat < 3; ++repeat) {
    for (const Shape& s : shapes) {
      const bool per_tensor = (index % 3) == 0;
      const RangeSide in_side = sides[index % 3], out_side = sides[(index / 3) % 3];
      const ActivationCodes input = activation_codes(act_params(bits(rng), in_side));
      const at::Tensor w = testing::random_weight({s.c_out, s.c_in / s.groups, s.kh, s.kw},
                                                  {sides[(index + 1) % 3], sides[(index + 2) % 3], sides[index % 3]});
      std::vector<int> channel_bits;
      for (int64_t c = 0; c < (per_tensor ? 1 : s.c_out); ++c) channel_bits.push_back(bits(rng));
      Layer layer;
      layer.name = "random_" + std::to_string(index);
      layer.groups = s.groups;
      layer.stride = s.stride;
      layer.padding = s.padding;
      layer.dilation = s.dilation;
      layer.original_weight = w;
      layer.bias = at::randn({s.c_out}) * 0.3;
      const IntegerLayer il = integer_layer(layer, testing::quantize_weight_with_bits(w, channel_bits, per_tensor),
                                            input);
      const at::Tensor codes = testing::random_codes({s.n, s.c_in, s.h, s.w}, input.max_code());
      compared += expect_same_as_gemmlowp(il, codes, bits(rng), out_side, per_tensor, layer.name);
      ++index;
    }
    // Linear layers, per tensor and per channel.
    for (bool per_tensor : {true, false}) {
      const ActivationCodes input = activation_codes(act_params(bits(rng), sides[index % 3]));
      const at::Tensor w = testing::random_weight({10, 37}, sides);
      Layer layer;
      layer.name = "linear_" + std::to_string(index);
      layer.kind = LayerKind::kLinear;
      layer.original_weight = w;
      layer.bias = at::randn({10}) * 0.3;
      std::vector<int> channel_bits;
      for (int64_t c = 0; c < (per_tensor ? 1 : 10); ++c) channel_bits.push_back(bits(rng));
      const IntegerLayer il = integer_layer(layer, testing::quantize_weight_with_bits(w, channel_bits, per_tensor),
                                            input);
      compared += expect_same_as_gemmlowp(il, testing::random_codes({3, 37}, input.max_code()), bits(rng),
                                          sides[(index + 1) % 3], per_tensor, layer.name);
      ++index;
    }
  }
  EXPECT_GT(compared, 10000);
}

// Records the shape of every site's tensor (deploy mode: the inputs of the layers in Site::layers).
class ShapeRecorder : public SiteHandler {
 public:
  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override {
    shapes[site_id] = x.sizes().vec();
    return x;
  }
  std::map<int64_t, std::vector<int64_t>> shapes;
};

std::filesystem::path shared_data() {
  const char* env = std::getenv("QUANTSIM_DATA");
  return env != nullptr && *env != '\0' ? env : QUANTSIM_DATA_DEFAULT;
}

class GemmlowpSharedModels : public ::testing::TestWithParam<std::string> {};

TEST_P(GemmlowpSharedModels, EveryLayerAt8And4BitsPerChannel) {
  const std::filesystem::path model_path = shared_data() / "models" / (GetParam() + ".pt");
  const std::filesystem::path json_path = shared_data() / "models" / (GetParam() + ".json");
  if (!std::filesystem::exists(model_path) || !std::filesystem::exists(json_path)) {
    GTEST_SKIP() << "no shared model at " << model_path << " (set QUANTSIM_DATA)";
  }
  PrepareOptions options;
  options.act_sites = ActSites::kInputs;
  const PreparedModel model = PreparedModel::load(model_path.string(), options);
  std::vector<int64_t> input_shape = nlohmann::json::parse(std::ifstream(json_path))["input"]["shape"];
  input_shape[0] = 1;
  at::manual_seed(23);
  ShapeRecorder recorder;
  {
    ScopedSiteHandler scope(recorder);
    model.forward(at::rand(input_shape));
  }
  std::map<int64_t, std::vector<int64_t>> layer_input;
  for (const Site& site : model.sites()) {
    for (int64_t l : site.layers) layer_input[l] = recorder.shapes.at(site.id);
  }
  int64_t compared = 0;
  for (const Layer& layer : model.layers()) {
    ASSERT_TRUE(layer_input.count(layer.index)) << layer.name;
    std::vector<int64_t> shape = layer_input[layer.index];
    // Keep the big early maps small: a 40x40 crop still has every border case of the layer's padding.
    for (size_t d = 2; d < shape.size(); ++d) shape[d] = std::min<int64_t>(shape[d], 40);
    for (int bits : {8, 4}) {
      WeightQuantOptions wq;
      wq.bits = bits;
      wq.first_last_bits = bits;
      wq.per_channel = true;
      const QuantizedWeight q = quantize_layer_weight(layer, wq);
      const RangeSide in_side = layer.index % 2 ? RangeSide::kNonNegative : RangeSide::kStraddle;
      const ActivationCodes input = activation_codes(act_params(bits, in_side));
      const IntegerLayer il = integer_layer(layer, q, input);
      const at::Tensor codes = testing::random_codes(shape, input.max_code());
      compared += expect_same_as_gemmlowp(il, codes, 8, RangeSide::kStraddle, false,
                                          GetParam() + " " + layer.name + " at " + std::to_string(bits) + " bits");
    }
  }
  EXPECT_GT(compared, 0);
}

INSTANTIATE_TEST_SUITE_P(SharedModels, GemmlowpSharedModels,
                         ::testing::Values("resnet8_cifar10", "tiny_darknet", "mobilenet_v2_q"));

#else

TEST(GemmlowpReference, RandomLayers) {
  GTEST_SKIP() << "built without gemmlowp (libgemmlowp-dev): no GEMMLOWP reference to compare with";
}

#endif

}  // namespace
}  // namespace quantsim
