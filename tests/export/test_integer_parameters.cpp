// The integer parameters of an --arith int export: every layer's input codes, weight codes' scales and zero points,
// int32 biases, and, where a layer's output is directly its consumer site's tensor, the fixed-point multipliers that
// requantize its accumulators into that site's codes. Checked by running them: the exported output stage applied to
// the layer's exact accumulators gives the codes the fake-quantized network puts at that site.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <tuple>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/export/integer_parameters.h"
#include "quantsim/export/model_export.h"
#include "quantsim/export/quantized_weights_file.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/graph/site_handler.h"
#include "quantsim/quant/fake_quant.h"
#include "quantsim/quant/integer_layer.h"
#include "quantsim/quant/weight_quantization.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;

namespace quantsim {
namespace {

using nlohmann::json;

const std::string kDefaultModel = std::string(QUANTSIM_SOURCE_DIR) + "/data/default/fashion_resnet.pt";

// Records each site's tensor before quantization; with `codes` set, returns it fake-quantized with them.
class Sites : public SiteHandler {
 public:
  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override {
    before[site_id] = x.clone();
    if (codes.empty()) return x;
    const ActivationCodes& c = *codes.at(static_cast<size_t>(site_id));
    const float lo = -static_cast<float>(c.zero_point) * c.scale;
    return fake_quant_per_tensor(x, lo, lo + static_cast<float>(c.max_code()) * c.scale, c.bits);
  }
  std::map<int64_t, at::Tensor> before;
  std::vector<std::optional<ActivationCodes>> codes;
};

// A deploy-mode run of the default model at W8A8 (per-channel weights), as --arith int sets it up.
struct IntegerRun {
  explicit IntegerRun(const std::string& path = kDefaultModel, std::vector<int64_t> probe_shape = {4, 3, 28, 28})
      : model(PreparedModel::load(path, {ActSites::kInputs})) {
    at::manual_seed(5);
    probe = at::randn(probe_shape);
    WeightQuantOptions wq;
    wq.bits = 8;
    wq.first_last_bits = 8;
    wq.per_channel = true;
    for (const Layer& layer : model.layers()) {
      weights.push_back(quantize_layer_weight(layer, wq));
      model.set_layer_weight(layer.index, weights.back().weight);
    }
    Sites ranges;
    {
      ScopedSiteHandler scope(ranges);
      model.forward(probe);
    }
    for (const Site& site : model.sites()) {
      const at::Tensor& x = ranges.before.at(site.id);
      QuantParams p;
      p.bits = 8;
      p.range = ClipRange{site.is_unsigned ? 0.0 : x.min().item<double>(), x.max().item<double>()};
      program.sites.push_back(activation_codes(p));
    }
    for (const Layer& layer : model.layers()) {
      int64_t input_site = -1;
      for (const Site& site : model.sites()) {
        for (int64_t l : site.layers) {
          if (l == layer.index) input_site = site.id;
        }
      }
      program.layers.push_back(integer_layer(layer, weights[layer.index], *program.sites.at(input_site)));
    }
  }
  PreparedModel model;
  at::Tensor probe;
  std::vector<QuantizedWeight> weights;
  IntegerProgram program;
};

// Sets `direct` to how many layers have a direct output site.
void expect_output_stages_reproduce_site_codes(IntegerRun& run, int& direct) {
  const json integer = integer_parameters_json(run.model, run.program, run.probe);
  ASSERT_EQ(integer.at("layers").size(), run.model.layers().size());
  EXPECT_EQ(integer.at("index").at("arithmetic"), "int");
  EXPECT_EQ(integer.at("index").at("sites").size(), run.model.sites().size());

  // The fake-quantized network: site tensors before quantization, to compare the integer path's codes with.
  Sites fake;
  fake.codes = run.program.sites;
  {
    ScopedSiteHandler scope(fake);
    run.model.forward(run.probe);
  }
  std::map<std::string, int64_t> site_ids;
  for (const Site& site : run.model.sites()) site_ids[site.name] = site.id;

  direct = 0;
  int not_direct = 0;
  for (const Layer& layer : run.model.layers()) {
    const json& entry = integer.at("layers")[layer.index];
    const IntegerLayer& il = run.program.layers[layer.index];
    EXPECT_EQ(entry.at("weight_zero_point").get<std::vector<int32_t>>(), il.weight_zero_points) << layer.name;
    EXPECT_EQ(entry.at("weight_scale").get<std::vector<double>>(), il.weight_scales) << layer.name;
    EXPECT_EQ(entry.at("bias_int32").get<std::vector<int32_t>>(), il.bias) << layer.name;
    EXPECT_EQ(entry.at("input").at("zero_point").get<int32_t>(), il.input.zero_point) << layer.name;
    EXPECT_EQ(entry.at("input").at("scale").get<float>(), il.input.scale) << layer.name;
    if (entry.at("output").is_null()) {
      ++not_direct;
      EXPECT_FALSE(entry.at("output_note").get<std::string>().empty());
      continue;
    }
    ++direct;
    const json& out = entry.at("output");
    const int64_t out_site = site_ids.at(out.at("site").get<std::string>());
    const ActivationCodes& out_codes = *run.program.sites.at(out_site);
    const auto multipliers = out.at("multiplier").get<std::vector<int32_t>>();
    const auto exponents = out.at("exponent").get<std::vector<int>>();
    ASSERT_EQ(multipliers.size(), il.accumulator_scales.size());
    std::vector<FixedPointMultiplier> m;
    for (size_t c = 0; c < multipliers.size(); ++c) {
      const FixedPointMultiplier expected = quantize_multiplier(il.accumulator_scales[c] / out_codes.scale);
      EXPECT_EQ(multipliers[c], expected.multiplier);
      EXPECT_EQ(exponents[c], expected.exponent);
      m.push_back({multipliers[c], exponents[c]});
    }
    // The exported output stage on the exact accumulators of the layer's input codes ...
    const int64_t in_site = site_ids.at(entry.at("input").at("site").get<std::string>());
    const at::Tensor in_codes = quantize_to_codes(fake.before.at(in_site), il.input);
    const at::Tensor acc = accumulate(il, in_codes);
    const auto clamp = out.at("clamp").get<std::vector<int32_t>>();
    const at::Tensor ours =
        (multiply_by_quantized_multiplier(acc, m, 1) + out.at("zero_point").get<int32_t>()).clamp(clamp[0], clamp[1]);
    // ... against the codes the fake-quantized network gives that site (float arithmetic: a rare rounding differs).
    const at::Tensor theirs = quantize_to_codes(fake.before.at(out_site), out_codes);
    ASSERT_EQ(ours.sizes(), theirs.sizes()) << layer.name;
    const at::Tensor diff = (ours - theirs).abs();
    EXPECT_LE(diff.max().item<int32_t>(), 1) << layer.name;
    EXPECT_LT(diff.gt(0).to(at::kDouble).mean().item<double>(), 0.02) << layer.name;
    if (!out.at("activation").is_null()) {
      EXPECT_EQ(clamp[0], out_codes.zero_point) << layer.name;
    }
  }
  EXPECT_GT(not_direct, 0);
  EXPECT_EQ(integer.at("layers").back().at("output"), nullptr);  // the logits
}

TEST(IntegerParameters, OutputStagesReproduceTheSiteCodes) {
  c10::InferenceMode inference;
  IntegerRun run;
  // The stem conv and each block's first conv feed a ReLU and their consumer site; residual convs and fc do not.
  int direct = 0;
  expect_output_stages_reproduce_site_codes(run, direct);
  EXPECT_EQ(direct, 4);
}

// The shared models: resnet8 (relu), tiny_darknet (leaky_relu: never fused), mobilenet_v2_q (hardtanh(0, 6), fused).
TEST(IntegerParameters, SharedModels) {
  c10::InferenceMode inference;
  const char* env = std::getenv("QUANTSIM_DATA");
  const fs::path data = env != nullptr && *env != '\0' ? env : QUANTSIM_DATA_DEFAULT;
  for (const auto& [name, size, direct] : {std::tuple<std::string, int64_t, bool>{"resnet8_cifar10", 32, true},
                                           {"tiny_darknet", 64, false},
                                           {"mobilenet_v2_q", 224, true}}) {
    const fs::path path = data / "models" / (name + ".pt");
    if (!fs::exists(path)) GTEST_SKIP() << "no shared model at " << path << " (set QUANTSIM_DATA)";
    IntegerRun run(path.string(), {1, 3, size, size});
    int found = 0;
    expect_output_stages_reproduce_site_codes(run, found);
    if (direct) {
      EXPECT_GT(found, 0) << name;
    } else {
      EXPECT_EQ(found, 0) << name;
    }
  }
}

TEST(IntegerParameters, ExportAddsThemToTheWeightsIndex) {
  c10::InferenceMode inference;
  const std::string dir = testing::fresh_temp_dir("integer_parameters_export");
  IntegerRun run;
  const std::string path = dir + "/model.pt";
  const ExportPaths paths = export_paths(path);
  EXPECT_THROW(export_integer_parameters(path, run.model, run.program, run.probe), UserError);  // no index yet

  std::vector<WeightRecord> records;
  for (const Layer& layer : run.model.layers()) {
    WeightRecord r;
    r.name = layer.name;
    r.kind = layer.kind;
    r.float_weight = run.weights[layer.index].weight;
    records.push_back(r);
  }
  write_quantized_weights(paths.weights_bin, paths.weights_index, records, {{"test", true}});
  export_integer_parameters(path, run.model, run.program, run.probe);
  const json index = json::parse(read_file(paths.weights_index));
  EXPECT_EQ(index.at("integer").at("arithmetic"), "int");
  ASSERT_EQ(index.at("layers").size(), run.model.layers().size());
  for (const json& layer : index.at("layers")) EXPECT_TRUE(layer.at("integer").contains("bias_int32"));
  EXPECT_EQ(read_quantized_weights(paths.weights_index).size(), run.model.layers().size());  // still readable

  records.front().name = "other";
  write_quantized_weights(paths.weights_bin, paths.weights_index, records, {{"test", true}});
  EXPECT_THROW(export_integer_parameters(path, run.model, run.program, run.probe), UserError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace quantsim
