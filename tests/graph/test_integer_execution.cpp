// PreparedModel::forward_integer (docs/QUANTIZATION.md, section 16): every supported op on a tiny scripted model,
// checked against the float fake-quant path and, where the integer result is predictable, exactly; the three shared
// models at W8A8; and the refusals.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "graph_test_support.h"
#include "quantsim/core/errors.h"
#include "quantsim/data/dataset.h"
#include "quantsim/data/model_sidecar.h"
#include "quantsim/data/preprocess.h"
#include "quantsim/graph/integer_execution.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/graph/site_handler.h"
#include "quantsim/quant/integer_layer.h"
#include "quantsim/quant/quant_params.h"
#include "quantsim/quant/weight_quantization.h"
#include "support/fixtures.h"

namespace quantsim {
namespace {

namespace fs = std::filesystem;

// ---- models ----

using Parameters = std::vector<std::pair<std::string, at::Tensor>>;

std::string save_script_model(const std::string& name, const Parameters& parameters, const std::string& forward) {
  torch::jit::Module module(name);
  for (const auto& [key, value] : parameters) module.register_parameter(key, value, false);
  module.define(forward);
  const std::string path = (fs::path(testing::fresh_temp_dir("integer_execution_" + name)) / "model.pt").string();
  module.save(path);
  return path;
}

// conv 3->4 (3x3, pad 1) and conv 4->5 (3x3, pad 1), plus further 5->6 and a linear 6*4*4->3 for models that use them.
Parameters standard_parameters(int seed = 0) {
  torch::manual_seed(seed);
  return {{"w1", torch::randn({4, 3, 3, 3}) * 0.4}, {"b1", torch::randn({4}) * 0.2},
          {"w2", torch::randn({5, 4, 3, 3}) * 0.3}, {"b2", torch::randn({5}) * 0.2},
          {"w3", torch::randn({6, 5, 3, 3}) * 0.3}, {"b3", torch::randn({6}) * 0.2},
          {"w4", torch::randn({4, 3, 1, 1}) * 0.5}, {"b4", torch::randn({4}) * 0.2}};
}

// ---- quantization setup: ranges from a float run, W8 per-channel weights, A8 per-tensor codes ----

class RangeRecorder : public SiteHandler {
 public:
  std::map<int64_t, std::pair<double, double>> ranges;
  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override {
    const double lo = x.min().item<double>(), hi = x.max().item<double>();
    auto [it, inserted] = ranges.emplace(site_id, std::make_pair(lo, hi));
    if (!inserted) it->second = {std::min(it->second.first, lo), std::max(it->second.second, hi)};
    return x;
  }
};

class CodeRecorder : public IntegerCodeObserver {
 public:
  std::map<int64_t, at::Tensor> codes;
  std::vector<int64_t> order;
  void on_site_codes(int64_t site_id, const at::Tensor& q) override {
    codes[site_id] = q.clone();
    order.push_back(site_id);
  }
};

// The float fake-quant path, except that every site continues with the integer path's codes (dequantized): each
// site's float codes are then computed from the same upstream codes as the integer path's, so that any difference
// is the op's own (ties, multiplier and grid rounding), not an earlier one carried forward.
class ForcedFakeQuant : public SiteHandler {
 public:
  ForcedFakeQuant(const IntegerProgram& program, const std::map<int64_t, at::Tensor>& integer_codes)
      : program_(program), integer_codes_(integer_codes) {}
  std::map<int64_t, at::Tensor> float_codes;
  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override {
    const ActivationCodes& codes = *program_.sites.at(site_id);
    float_codes[site_id] = quantize_to_codes(x, codes);
    return (integer_codes_.at(site_id) - codes.zero_point).to(at::kFloat) * codes.scale;
  }

 private:
  const IntegerProgram& program_;
  const std::map<int64_t, at::Tensor>& integer_codes_;
};

// The plain float fake-quant path (the fake quantizer itself).
class FakeQuant : public SiteHandler {
 public:
  explicit FakeQuant(const std::vector<QuantParams>& params) : params_(params), caches_(params.size()) {}
  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override {
    return apply_quant_params(x.contiguous(), params_.at(site_id), 1, caches_.at(site_id));
  }

 private:
  const std::vector<QuantParams>& params_;
  std::vector<QuantParamTensors> caches_;
};

struct IntegerSetup {
  PreparedModel model;
  IntegerProgram program;
  std::vector<QuantParams> site_params;
};

// Loads `path`, measures site ranges on `calibration` (float), quantizes weights (W8 per channel) and builds the
// program. A layer read by no site (paper mode) is built for the first site's codes.
IntegerSetup integer_setup(const std::string& path, const std::vector<at::Tensor>& calibration,
                           ActSites act_sites = ActSites::kInputs, int activation_bits = 8,
                           const std::function<void(const Site&, QuantParams&)>& adjust = {}) {
  PreparedModel model = PreparedModel::load(path, {act_sites});
  RangeRecorder ranges;
  {
    ScopedSiteHandler scope(ranges);
    for (const at::Tensor& batch : calibration) model.forward(batch);
  }
  IntegerProgram program;
  std::vector<QuantParams> params;
  for (const Site& site : model.sites()) {
    QuantParams p;
    p.bits = activation_bits;
    const auto [lo, hi] = ranges.ranges.at(site.id);
    p.range = {site.is_unsigned ? 0.0 : lo, hi};
    if (adjust) adjust(site, p);
    params.push_back(p);
    program.sites.push_back(activation_codes(p));
  }
  WeightQuantOptions options;
  options.bits = 8;
  options.first_last_bits = 8;
  options.per_channel = true;
  for (const Layer& layer : model.layers()) {
    const QuantizedWeight weight = quantize_layer_weight(layer, options);
    model.set_layer_weight(layer.index, weight.weight);
    size_t reader = 0;
    for (const Site& site : model.sites()) {
      if (std::find(site.layers.begin(), site.layers.end(), layer.index) != site.layers.end()) reader = site.id;
    }
    program.layers.push_back(integer_layer(layer, weight, *program.sites[reader]));
  }
  return {std::move(model), std::move(program), std::move(params)};
}

const Site& site_reading_layer(const PreparedModel& model, int64_t layer) {
  for (const Site& site : model.sites()) {
    if (std::find(site.layers.begin(), site.layers.end(), layer) != site.layers.end()) return site;
  }
  throw std::out_of_range("no site reads layer " + std::to_string(layer));
}

struct Agreement {
  double share_differing = 0.0;
  int64_t max_difference = 0;
};

Agreement agreement(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor diff = (a.to(at::kLong) - b.to(at::kLong)).abs();
  return {diff.gt(0).to(at::kDouble).mean().item<double>(), diff.numel() ? diff.max().item<int64_t>() : 0};
}

// Runs the integer path, then the forced float path, and checks every site: all reached once, and codes equal to the
// float path's except a share <= max_share, by at most one step. What may differ: values within a fraction of a step
// of a rounding tie, the fraction being the int32 bias rounding (half an accumulator step) plus gemmlowp's double
// rounding in the output stage (half a step of the multiplier's right shift); on mobilenet_v2_q's coarsest layer
// together about 0.19 of an output step, about 1 % of the codes. Returns the integer codes.
CodeRecorder expect_sites_agree(IntegerSetup& setup, const at::Tensor& input, double max_share = 0.02) {
  CodeRecorder recorder;
  const at::Tensor logits = setup.model.forward_integer(input, setup.program, &recorder);
  EXPECT_EQ(logits.scalar_type(), at::kFloat);
  EXPECT_EQ(recorder.codes.size(), setup.model.sites().size());
  EXPECT_EQ(recorder.order.size(), setup.model.sites().size());  // each once (in graph order, not by id)
  ForcedFakeQuant forced(setup.program, recorder.codes);
  at::Tensor float_logits;
  {
    ScopedSiteHandler scope(forced);
    float_logits = setup.model.forward(input);
  }
  for (const Site& site : setup.model.sites()) {
    const at::Tensor& q = recorder.codes.at(site.id);
    EXPECT_EQ(q.scalar_type(), at::kInt);
    EXPECT_GE(q.min().item<int>(), 0);
    EXPECT_LE(q.max().item<int>(), setup.program.sites[site.id]->max_code());
    const Agreement a = agreement(q, forced.float_codes.at(site.id));
    EXPECT_LE(a.max_difference, 1) << site.name;
    EXPECT_LE(a.share_differing, max_share) << site.name;
  }
  // The logits come from the same last codes: they differ only by the last layers' rounding.
  EXPECT_TRUE(at::allclose(logits, float_logits, 0.02, 0.02 * float_logits.abs().max().item<double>()))
      << (logits - float_logits).abs().max().item<double>();
  return recorder;
}

at::Tensor small_input(int64_t batch = 2, int64_t size = 8, int seed = 1) {
  return graph_test::test_input(batch, 3, size, size, 1.0 + 0.1 * seed);
}

// The codes of `site` requantized straight from layer `layer`'s accumulators on `input_codes`, clamped to [lo, hi].
at::Tensor requantized_layer(const IntegerSetup& setup, int64_t layer, const at::Tensor& input_codes, int64_t site,
                             std::optional<int32_t> lo = std::nullopt) {
  const IntegerLayer& l = setup.program.layers[layer];
  const ActivationCodes& codes = *setup.program.sites[site];
  return requantize_accumulators(accumulate(l, input_codes), l.accumulator_scales, codes, lo.value_or(0),
                                 codes.max_code());
}

void expect_refusal(const std::function<void()>& run, const std::vector<std::string>& needles) {
  try {
    run();
    ADD_FAILURE() << "no UserError";
  } catch (const UserError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const std::string& needle : needles) EXPECT_NE(message.find(needle), std::string::npos) << message;
  }
}

// ---- ops ----

TEST(IntegerExecution, ReluIsFusedIntoTheSiteClampExactly) {
  const std::string path = save_script_model("relu", standard_parameters(), R"(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]))
    y = torch.conv2d(y, self.w2, self.b2, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  const CodeRecorder codes = expect_sites_agree(setup, small_input());
  const Site& relu_site = site_reading_layer(setup.model, 1);
  ASSERT_TRUE(relu_site.is_unsigned);
  const ActivationCodes& out = *setup.program.sites[relu_site.id];
  const at::Tensor expected = requantized_layer(setup, 0, codes.codes.at(0), relu_site.id, out.zero_point);
  EXPECT_TRUE(at::equal(codes.codes.at(relu_site.id), expected));
}

TEST(IntegerExecution, Relu6AndHardtanhClampAtTheCodeOfTheBound) {
  const std::string path = save_script_model("hardtanh", standard_parameters(), R"(
def forward(self, x):
    y = torch.hardtanh(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]), 0.0, 0.5)
    y = torch.conv2d(y, self.w2, self.b2, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
  // A range beyond the bound, so that the clamp, not the range, limits the codes.
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2) * 3}, ActSites::kInputs, 8,
                                     [](const Site& site, QuantParams& params) {
                                       if (site.layers == std::vector<int64_t>{1}) params.range.hi = 1.0;
                                     });
  const Site& site = site_reading_layer(setup.model, 1);
  const at::Tensor input = small_input(2, 8, 3) * 3;
  const CodeRecorder codes = expect_sites_agree(setup, input);
  const ActivationCodes& out = *setup.program.sites[site.id];
  const auto bound_code = static_cast<int32_t>(std::nearbyint(0.5f / out.scale)) + out.zero_point;
  EXPECT_EQ(codes.codes.at(site.id).max().item<int32_t>(), bound_code);  // the input is large: the clamp bites
  const at::Tensor expected =
      requantized_layer(setup, 0, codes.codes.at(0), site.id, out.zero_point).clamp_max(bound_code);
  EXPECT_TRUE(at::equal(codes.codes.at(site.id), expected));
}

TEST(IntegerExecution, HardtanhBeforePaddingClampsOnTheAccumulatorGrid) {
  // As in mobilenet_v2_q: hardtanh(0, 6) read by a pad, the site after the pad.
  const std::string path = save_script_model("hardtanh_pad", standard_parameters(), R"(
def forward(self, x):
    y = torch.hardtanh(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]), 0.0, 0.5)
    y = torch.pad(y, [0, 1, 0, 1])
    y = torch.conv2d(y, self.w2, self.b2, [2, 2])
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2) * 3});
  expect_sites_agree(setup, small_input(2, 8, 3) * 3);
}

TEST(IntegerExecution, ClampWithOneBoundBeforeAndAtASite) {
  const std::string path = save_script_model("clamp_min_max", standard_parameters(), R"(
def forward(self, x):
    y = torch.clamp_min(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]), -0.23)
    y = torch.clamp_max(torch.constant_pad_nd(y, [1, 1, 1, 1]), 0.3)
    return torch.mean(torch.conv2d(y, self.w2, self.b2), [2, 3])
)");
  // A range wider than the bounds, so that the clamps, not the range, limit the codes (the bounds are no rounding
  // ties on its grid: -29.3 and 38.25 steps).
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)}, ActSites::kInputs, 8,
                                     [](const Site& site, QuantParams& params) {
                                       if (site.layers == std::vector<int64_t>{1}) params.range = {-1.0, 1.0};
                                     });
  const CodeRecorder codes = expect_sites_agree(setup, small_input());
  const Site& site = site_reading_layer(setup.model, 1);
  const ActivationCodes& out = *setup.program.sites[site.id];
  // Both bounds bite: the lower one on the accumulator grid, the upper one fused into the site.
  EXPECT_EQ(codes.codes.at(site.id).max().item<int32_t>(),
            static_cast<int32_t>(std::nearbyint(0.3f / out.scale)) + out.zero_point);
  EXPECT_EQ(codes.codes.at(site.id).min().item<int32_t>(),
            static_cast<int32_t>(std::nearbyint(-0.23f / out.scale)) + out.zero_point);
}

TEST(IntegerExecution, LeakyReluAgreesWithTheFloatPath) {
  const std::string path = save_script_model("leaky_relu", standard_parameters(), R"(
def forward(self, x):
    y = torch.leaky_relu(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]), 0.1)
    y = torch.conv2d(y, self.w2, self.b2, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  const CodeRecorder codes = expect_sites_agree(setup, small_input());
  // The negative side is really scaled: codes below the zero point exist, and fewer than without the slope.
  const Site& site = site_reading_layer(setup.model, 1);
  EXPECT_LT(codes.codes.at(site.id).min().item<int32_t>(), setup.program.sites[site.id]->zero_point);
}

TEST(IntegerExecution, ResidualAddOfCodesAndAccumulators) {
  // As in resnet8: a ReLU output read by a conv (a site) and by the add; the add's ReLU read by the next conv.
  const std::string path = save_script_model("add", standard_parameters(), R"(
def forward(self, x):
    a = torch.relu(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]))
    b = torch.conv2d(a, self.w2[:4], self.b2[:4], [1, 1], [1, 1])
    y = torch.relu(a + b)
    y = torch.conv2d(y, self.w2, self.b2, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  expect_sites_agree(setup, small_input());
}

TEST(IntegerExecution, AddOfTwoAccumulatorTensors) {
  const std::string path = save_script_model("add_acc", standard_parameters(), R"(
def forward(self, x):
    y = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]) + torch.conv2d(x, self.w4, self.b4)
    y = torch.conv2d(y, self.w2, self.b2, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  expect_sites_agree(setup, small_input());
}

TEST(IntegerExecution, ConcatenationAlongChannelsKeepsEachScaleExactly) {
  const std::string path = save_script_model("cat", standard_parameters(), R"(
def forward(self, x):
    a = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])
    b = torch.conv2d(x, self.w4, self.b4)
    y = torch.conv2d(torch.cat([a, b], 1), torch.cat([self.w2, self.w2], 1), self.b2, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  const CodeRecorder codes = expect_sites_agree(setup, small_input());
  const Site& site = site_reading_layer(setup.model, 2);
  const at::Tensor expected = at::cat({requantized_layer(setup, 0, codes.codes.at(0), site.id),
                                       requantized_layer(setup, 1, codes.codes.at(0), site.id)},
                                      1);
  EXPECT_TRUE(at::equal(codes.codes.at(site.id), expected));
}

TEST(IntegerExecution, MaxPoolIsExact) {
  const std::string path = save_script_model("max_pool", standard_parameters(), R"(
def forward(self, x):
    y = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])
    y = torch.max_pool2d(y, [3, 3], [2, 2], [1, 1])
    y = torch.conv2d(y, self.w2, self.b2, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  const CodeRecorder codes = expect_sites_agree(setup, small_input());
  const Site& site = site_reading_layer(setup.model, 1);
  // Requantization is monotone per channel: max pooling the codes is max pooling the accumulators.
  const at::Tensor expected = at::max_pool2d(requantized_layer(setup, 0, codes.codes.at(0), site.id).to(at::kDouble),
                                             {3, 3}, {2, 2}, {1, 1})
                                  .to(at::kInt);
  EXPECT_TRUE(at::equal(codes.codes.at(site.id), expected));
}

TEST(IntegerExecution, ConstantPaddingHoldsTheZeroPointExactly) {
  const std::string path = save_script_model("pad", standard_parameters(), R"(
def forward(self, x):
    y = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])
    y = torch.pad(y, [0, 1, 2, 1])
    y = torch.conv2d(y, self.w2, self.b2, [2, 2])
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  const CodeRecorder codes = expect_sites_agree(setup, small_input());
  const Site& site = site_reading_layer(setup.model, 1);
  const at::Tensor expected = at::constant_pad_nd(requantized_layer(setup, 0, codes.codes.at(0), site.id), {0, 1, 2, 1},
                                                  setup.program.sites[site.id]->zero_point);
  EXPECT_TRUE(at::equal(codes.codes.at(site.id), expected));
}

TEST(IntegerExecution, PaddingAlongChannelsAddsZeroChannels) {
  Parameters parameters = standard_parameters();
  parameters.push_back({"w6", torch::randn({5, 6, 3, 3}) * 0.3});
  const std::string path = save_script_model("pad_channels", parameters, R"(
def forward(self, x):
    y = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])
    y = torch.constant_pad_nd(y, [0, 0, 1, 0, 1, 1])
    return torch.mean(torch.conv2d(y, self.w6, self.b2), [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  const CodeRecorder codes = expect_sites_agree(setup, small_input());
  const Site& site = site_reading_layer(setup.model, 1);
  const at::Tensor expected = at::constant_pad_nd(requantized_layer(setup, 0, codes.codes.at(0), site.id),
                                                  {0, 0, 1, 0, 1, 1}, setup.program.sites[site.id]->zero_point);
  EXPECT_TRUE(at::equal(codes.codes.at(site.id), expected));
}

// (sum + sign * count / 2) / count, truncated: TFLite's reference rounding, written out.
int64_t tflite_average(int64_t sum, int64_t count) {
  return sum >= 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

// The accumulators of layer 0 on the input site's codes, as int64.
at::Tensor first_layer_accumulators(const IntegerSetup& setup, const CodeRecorder& codes) {
  return accumulate(setup.program.layers[0], codes.codes.at(0)).to(at::kLong);
}

at::Tensor times_scales(const at::Tensor& values, const std::vector<double>& scales) {
  std::vector<int64_t> shape(static_cast<size_t>(values.dim()), 1);
  shape[1] = static_cast<int64_t>(scales.size());
  return (values.to(at::kDouble) * at::tensor(scales, at::kDouble).view(shape)).to(at::kFloat);
}

TEST(IntegerExecution, AveragePoolRoundsHalfAwayFromZeroAsTflite) {
  // The pooled accumulators are the logits: every rounding shows.
  const std::string path = save_script_model("avg_pool", standard_parameters(), R"(
def forward(self, x):
    y = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])
    return torch.flatten(torch.avg_pool2d(y, [2, 2], [2, 2]), 1)
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  CodeRecorder codes;
  const at::Tensor logits = setup.model.forward_integer(small_input(), setup.program, &codes);
  const at::Tensor acc = first_layer_accumulators(setup, codes);
  at::Tensor pooled = at::zeros({acc.size(0), acc.size(1), acc.size(2) / 2, acc.size(3) / 2}, at::kLong);
  auto a = acc.accessor<int64_t, 4>();
  auto p = pooled.accessor<int64_t, 4>();
  int64_t rounded_up = 0;
  for (int64_t n = 0; n < acc.size(0); ++n)
    for (int64_t c = 0; c < acc.size(1); ++c)
      for (int64_t i = 0; i < pooled.size(2); ++i)
        for (int64_t j = 0; j < pooled.size(3); ++j) {
          const int64_t sum = a[n][c][2 * i][2 * j] + a[n][c][2 * i + 1][2 * j] + a[n][c][2 * i][2 * j + 1] +
                              a[n][c][2 * i + 1][2 * j + 1];
          p[n][c][i][j] = tflite_average(sum, 4);
          rounded_up += std::abs(p[n][c][i][j] * 4) > std::abs(sum);
        }
  EXPECT_GT(rounded_up, 0);  // the rounding matters here, not only truncation
  EXPECT_TRUE(at::equal(logits, times_scales(pooled, setup.program.layers[0].accumulator_scales).flatten(1)));
}

TEST(IntegerExecution, GlobalMeanRoundsAsAveragePool) {
  const std::string path = save_script_model("global_mean", standard_parameters(), R"(
def forward(self, x):
    y = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 7, 2)});
  CodeRecorder codes;
  const at::Tensor logits = setup.model.forward_integer(small_input(3, 7, 1), setup.program, &codes);
  const at::Tensor sums = first_layer_accumulators(setup, codes).sum({2, 3});
  at::Tensor expected = at::empty_like(sums);
  for (int64_t i = 0; i < sums.numel(); ++i) {
    expected.view(-1)[i] = tflite_average(sums.view(-1)[i].item<int64_t>(), 49);
  }
  EXPECT_TRUE(at::equal(logits, times_scales(expected, setup.program.layers[0].accumulator_scales)));
}

TEST(IntegerExecution, AveragePoolWithPaddingCeilModeAndExcludedPadding) {
  const std::string path = save_script_model("avg_pool_pad", standard_parameters(), R"(
def forward(self, x):
    y = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])
    y = torch.avg_pool2d(y, [3, 3], [2, 2], [1, 1], True, False)
    y = torch.conv2d(y, self.w2, self.b2, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 9, 2)});
  expect_sites_agree(setup, small_input(2, 9, 1));
}

TEST(IntegerExecution, GlobalPoolingFlattenAndLinear) {
  // adaptive_avg_pool2d to 1x1, mean over H and W, flatten and view all move per-channel scales along.
  Parameters parameters = standard_parameters();
  parameters.push_back({"fc", torch::randn({3, 10}) * 0.3});
  parameters.push_back({"fcb", torch::randn({3}) * 0.1});
  const std::string path = save_script_model("global_pool", parameters, R"(
def forward(self, x):
    y = torch.conv2d(x, self.w2[:, :3], self.b2, [1, 1], [1, 1])
    a = torch.flatten(torch.adaptive_avg_pool2d(y, [1, 1]), 1)
    b = torch.mean(y, [-1, -2], True).view(y.size(0), -1)
    return torch.linear(torch.cat([a, b], 1), self.fc, self.fcb)
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  expect_sites_agree(setup, small_input());
}

TEST(IntegerExecution, FlattenOfAFeatureMapBeforeALinear) {
  Parameters parameters = standard_parameters();
  parameters.push_back({"fc", torch::randn({3, 4 * 4 * 4}) * 0.2});
  parameters.push_back({"fcb", torch::randn({3}) * 0.1});
  const std::string path = save_script_model("flatten", parameters, R"(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.w1, self.b1, [2, 2], [1, 1]))
    y = torch.flatten(y, 1)
    return torch.linear(y, self.fc, self.fcb)
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  expect_sites_agree(setup, small_input());
}

TEST(IntegerExecution, ReturnsTheLastAccumulatorsTimesTheirScales) {
  const std::string path = save_script_model("logits", standard_parameters(), R"(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]))
    return torch.flatten(torch.conv2d(y, self.w2, self.b2, [8, 8]), 1)
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  CodeRecorder codes;
  const at::Tensor logits = setup.model.forward_integer(small_input(), setup.program, &codes);
  const IntegerLayer& last = setup.program.layers[1];
  const at::Tensor acc = accumulate(last, codes.codes.at(1)).flatten(1).to(at::kDouble);
  const at::Tensor scales = at::tensor(last.accumulator_scales, at::kDouble);
  EXPECT_TRUE(at::equal(logits, (acc * scales).to(at::kFloat)));
}

TEST(IntegerExecution, ShapeChecksInControlFlowRunAsInFloat) {
  // As in tiny_darknet: an If on the accumulators' rank (shape only) before the global pool.
  const std::string path = save_script_model("shape_if", standard_parameters(), R"(
def forward(self, x):
    y = torch.conv2d(torch.relu(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])), self.w2, self.b2)
    assert len(y.size()) > 2, "expected a feature map"
    return torch.flatten(torch.adaptive_avg_pool2d(y, [1, 1]), 1)
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  expect_sites_agree(setup, small_input());
}

TEST(IntegerExecution, AModelThatRaisesFailsAsInFloat) {
  const std::string path = save_script_model("raises", standard_parameters(), R"(
def forward(self, x):
    y = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])
    assert y.size(0) == 1, "one image at a time"
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(1, 8, 2)});
  EXPECT_EQ(setup.model.forward_integer(small_input(1), setup.program).sizes(), (std::vector<int64_t>{1, 4}));
  expect_refusal([&] { setup.model.forward_integer(small_input(2), setup.program); },
                 {path, "[2, 3, 8, 8]", "one image at a time"});
}

TEST(IntegerExecution, LowBitCodesAgreeToo) {
  const std::string path = save_script_model("relu_a4", standard_parameters(), R"(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]))
    y = torch.max_pool2d(y, [2, 2])
    y = torch.conv2d(y, self.w2, self.b2, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)}, ActSites::kInputs, 4);
  const CodeRecorder codes = expect_sites_agree(setup, small_input());
  EXPECT_LE(codes.codes.at(1).max().item<int32_t>(), 15);
}

// ---- refusals ----

TEST(IntegerExecutionRefusals, AnOpWithoutIntegerFormIsNamedBeforeItRuns) {
  for (const std::string op : {"sigmoid", "hardswish"}) {
    const std::string path = save_script_model("no_integer_form", standard_parameters(), R"(
def forward(self, x):
    y = torch.)" + op + R"((torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]))
    y = torch.conv2d(y, self.w2, self.b2, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
    IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
    CodeRecorder codes;
    const std::string kind = op == "sigmoid" ? "aten::sigmoid" : "aten::hardswish";
    expect_refusal([&] { setup.model.forward_integer(small_input(), setup.program, &codes); },
                   {path, kind, "no integer form"});
    EXPECT_EQ(codes.order, std::vector<int64_t>{0});  // the input site only: nothing computed after the op
  }
}

TEST(IntegerExecutionRefusals, MultiplicationAndAFloatOperandHaveNoIntegerForm) {
  for (const std::string expression : {"y * y", "y + self.b1.view(1, 4, 1, 1)", "y * 0.5"}) {
    const std::string path = save_script_model("mul", standard_parameters(), R"(
def forward(self, x):
    y = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])
    y = torch.conv2d()" + expression + R"(, self.w2, self.b2, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
    IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
    expect_refusal([&] { setup.model.forward_integer(small_input(), setup.program); }, {"no integer form"});
  }
}

TEST(IntegerExecutionRefusals, AnAddWhoseRescaledOperandOverflowsInt32) {
  // The residual branch's weights are tiny: its accumulator scale is so fine that the codes operand, rescaled to it,
  // no longer fits in int32 (1e-6), or needs a shift beyond any fixed-point multiplier (1e-12).
  for (const double tiny : {1e-6, 1e-12}) {
    Parameters parameters = standard_parameters();
    parameters.push_back({"tiny", torch::randn({4, 4, 3, 3}) * tiny});
    const std::string path = save_script_model("add_overflow", parameters, R"(
def forward(self, x):
    a = torch.relu(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]))
    y = a + torch.conv2d(a, self.tiny, None, [1, 1], [1, 1])
    return torch.mean(torch.conv2d(y, self.w2, self.b2, [1, 1], [1, 1]), [2, 3])
)");
    IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
    expect_refusal([&] { setup.model.forward_integer(small_input(), setup.program); },
                   {"aten::add", "overflows int32"});
  }
}

TEST(IntegerExecutionRefusals, AReshapeMixingChannelsOfDifferentScales) {
  // Per-channel weights give each output channel its own accumulator scale; a view folding two channels into one
  // has no single scale (a flatten into a linear's features keeps one scale per feature and is fine).
  Parameters parameters = standard_parameters();
  parameters.push_back({"w7", torch::randn({5, 2, 3, 3}) * 0.3});
  const std::string path = save_script_model("mixing_view", parameters, R"(
def forward(self, x):
    y = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])
    y = y.view(y.size(0), 2, 16, 8)
    return torch.mean(torch.conv2d(y, self.w7, self.b2), [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  expect_refusal([&] { setup.model.forward_integer(small_input(), setup.program); },
                 {"aten::view", "mixes channels of different scales"});
}

TEST(IntegerExecutionRefusals, ALinearOverTheLastAxisOfAFeatureMap) {
  // Its output features would be the last axis; accumulator scales live on axis 1.
  Parameters parameters = standard_parameters();
  parameters.push_back({"fc", torch::randn({3, 8}) * 0.3});
  const std::string path = save_script_model("linear_last_axis", parameters, R"(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]))
    return torch.mean(torch.linear(y, self.fc), [1, 2])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  expect_refusal([&] { setup.model.forward_integer(small_input(), setup.program); },
                 {"(aten::linear)", "4-dimensional"});
}

TEST(IntegerExecutionRefusals, MeanOverChannelsHasNoIntegerForm) {
  const std::string path = save_script_model("mean_channels", standard_parameters(), R"(
def forward(self, x):
    y = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])
    return torch.mean(y, [1])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  expect_refusal([&] { setup.model.forward_integer(small_input(), setup.program); }, {"aten::mean", "axes"});
}

TEST(IntegerExecutionRefusals, PaperModeNamesTheFirstLayerWhoseInputStaysFloat) {
  const std::string path = save_script_model("paper", standard_parameters(), R"(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]))
    y = torch.conv2d(y, self.w2, self.b2, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)}, ActSites::kOutputs);
  const std::string layer = setup.model.layers()[0].name;
  expect_refusal([&] { setup.model.forward_integer(small_input(), setup.program); },
                 {"layer '" + layer + "'", "float tensor", "--act-sites inputs"});
}

TEST(IntegerExecutionRefusals, ALayerReadingAccumulatorsIsRefused) {
  // Deploy mode puts a site at every layer input, so this needs a site left out: the second layer's site.
  const std::string path = save_script_model("no_site", standard_parameters(), R"(
def forward(self, x):
    y = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])
    y = torch.conv2d(y, self.w2, self.b2, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  const Site& site = site_reading_layer(setup.model, 1);
  setup.program.sites[site.id].reset();
  expect_refusal([&] { setup.model.forward_integer(small_input(), setup.program); },
                 {"site '" + site.name + "'", "no integer codes"});
}

TEST(IntegerExecutionRefusals, IntegerTensorsDoNotEnterControlFlow) {
  const std::string path = save_script_model("if_on_values", standard_parameters(), R"(
def forward(self, x):
    y = torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1])
    if x.size(0) > 1:
        y = torch.relu(y)
    y = torch.conv2d(y, self.w2, self.b2, [1, 1], [1, 1])
    return torch.mean(y, [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  expect_refusal([&] { setup.model.forward_integer(small_input(), setup.program); }, {"prim::If", "control flow"});
}

TEST(IntegerExecutionRefusals, NaNInputHasNoCode) {
  const std::string path = save_script_model("nan", standard_parameters(), R"(
def forward(self, x):
    return torch.mean(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]), [2, 3])
)");
  IntegerSetup setup = integer_setup(path, {small_input(4, 8, 2)});
  at::Tensor input = small_input();
  input[0][0][0][0] = NAN;
  expect_refusal([&] { setup.model.forward_integer(input, setup.program); }, {"site 'input'", "NaN"});
}

// ---- the shared models ----

struct SharedModel {
  std::string name;
  std::string calibration;  // image folder under the data directory
  std::string evaluation;
};

std::ostream& operator<<(std::ostream& out, const SharedModel& model) { return out << model.name; }

// The first `count` images (sorted paths) of `folder`, preprocessed for `model_path`, as one batch.
at::Tensor image_batch(const std::string& model_path, const std::string& folder, int64_t count) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (entry.is_regular_file() && has_image_extension(entry.path().string())) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  // Spread over the classes: every k-th file.
  const size_t step = std::max<size_t>(1, files.size() / static_cast<size_t>(count));
  const PreprocessSpec spec = resolve_preprocess(read_model_sidecar(model_path), {});
  std::vector<at::Tensor> images;
  for (size_t i = 0; i < files.size() && static_cast<int64_t>(images.size()) < count; i += step) {
    images.push_back(preprocess_image(files[i], spec));
  }
  return at::stack(images);
}

class IntegerSharedModels : public ::testing::TestWithParam<SharedModel> {};

TEST_P(IntegerSharedModels, W8A8IntegerPathAgreesWithFakeQuant) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::real_model_path(GetParam().name), GetParam().name);
  const fs::path data = fs::path(path).parent_path().parent_path();
  if (!fs::exists(data / GetParam().evaluation)) GTEST_SKIP() << "no images in " << data;
  const at::Tensor calibration = image_batch(path, (data / GetParam().calibration).string(), 8);
  const at::Tensor images = image_batch(path, (data / GetParam().evaluation).string(), 16);
  IntegerSetup setup = integer_setup(path, {calibration});
  // Site by site, from the same upstream codes: at most one step apart, rarely.
  expect_sites_agree(setup, images.slice(0, 0, 2));
  // End to end: the integer path's top-1 is the fake-quant path's on most images.
  const at::Tensor integer_logits = setup.model.forward_integer(images, setup.program);
  FakeQuant fake_quant(setup.site_params);
  at::Tensor float_logits;
  {
    ScopedSiteHandler scope(fake_quant);
    float_logits = setup.model.forward(images);
  }
  ASSERT_EQ(integer_logits.sizes(), float_logits.sizes());
  const int64_t agree = integer_logits.argmax(1).eq(float_logits.argmax(1)).sum().item<int64_t>();
  EXPECT_GE(agree, 12) << "of " << images.size(0);
}

INSTANTIATE_TEST_SUITE_P(SharedData, IntegerSharedModels,
                         ::testing::Values(SharedModel{"resnet8_cifar10", "cifar10/calib", "cifar10/test"},
                                           SharedModel{"tiny_darknet", "imagenet/calib1000", "imagenet/val1300"},
                                           SharedModel{"mobilenet_v2_q", "imagenet/calib1000", "imagenet/val1300"}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace quantsim
