// Non-finite numbers stop the run instead of being scored: NaN logits compare false with everything, so they used to
// rank their target first and count as correct (top-1 100 %). Checked at each mechanism (logits of every batch,
// weights being quantized, quantization ranges) and end to end on the binary.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "quantsim/core/errors.h"
#include "quantsim/passes/activation_quantizer.h"
#include "quantsim/passes/evaluation.h"
#include "quantsim/quant/statistics_store.h"
#include "quantsim/quant/weight_quantization.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Runs `fn`, expecting a one-line UserError that contains every one of `parts`.
template <typename Fn>
void expect_user_error(Fn fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no UserError thrown";
  } catch (const UserError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' missing from: " << message;
    }
  }
}

// Batches of two 1x1 images in order, labels 0.
class CountingSource : public BatchSource {
 public:
  explicit CountingSource(int64_t batches) : batches_(batches) {}
  std::optional<Batch> next() override {
    if (next_ == batches_) return std::nullopt;
    Batch batch{at::zeros({2, 3, 1, 1}), at::zeros({2}, at::kLong), {2 * next_, 2 * next_ + 1}};
    ++next_;
    return batch;
  }
  int64_t total() const override { return 2 * batches_; }

 private:
  int64_t batches_;
  int64_t next_ = 0;
};

EvaluationOptions options_for_images(int64_t count) {
  EvaluationOptions options;
  options.num_classes = 3;
  options.model_name = "/models/tiny.pt";
  for (int64_t i = 0; i < count; ++i) options.image_names.push_back("/data/img" + std::to_string(i) + ".png");
  return options;
}

TEST(FiniteLogits, FiniteLogitsPass) {
  EXPECT_NO_THROW(check_finite_logits(at::randn({4, 3}), {0, 1, 2, 3}, options_for_images(4)));
}

TEST(FiniteLogits, TheFirstBadRowIsNamedByItsImage) {
  at::Tensor logits = at::zeros({3, 3});
  logits[1][2] = std::numeric_limits<float>::infinity();
  logits[2][0] = kNaN;
  // Rows 0..2 are images 4, 6 and 7 of the evaluation order (image 5 could not be decoded).
  expect_user_error(
      [&] {
        check_finite_logits(logits, {4, 6, 7}, options_for_images(8));
      },
      {"/models/tiny.pt", "/data/img6.png", "position 6", "inf", "class 2"});
  expect_user_error(
      [&] {
        check_finite_logits(logits, {4, 6, 7}, options_for_images(0));
      },
      {"/models/tiny.pt", "position 6"});
}

TEST(FiniteLogits, EvaluationStopsAtTheFirstBatchWithNaN) {
  CountingSource source(3);
  int calls = 0;
  const Forward forward = [&](const at::Tensor& images) {
    at::Tensor logits = at::zeros({images.size(0), 3});
    if (++calls == 2) logits[1].fill_(kNaN);  // image 3
    return logits;
  };
  expect_user_error([&] { evaluate(source, forward, options_for_images(6)); }, {"/data/img3.png", "nan"});
  EXPECT_EQ(calls, 2);
}

TEST(NonFiniteWeights, QuantizingANaNWeightNamesTheLayer) {
  Layer layer;
  layer.name = "features.3";
  layer.original_weight = at::randn({4, 2, 3, 3});
  layer.original_weight[2][1][0][0] = kNaN;
  WeightQuantOptions options;
  options.bits = 4;
  expect_user_error([&] { quantize_layer_weight(layer, options); }, {"layer 'features.3'", "nan", "output channel 2"});
}

TEST(NonFiniteRanges, WeightsTooWideForFloat32NameTheLayer) {
  Layer layer;
  layer.name = "fc";
  layer.original_weight = at::tensor({3e38f, -3e38f}).reshape({2, 1});
  WeightQuantOptions options;
  options.bits = 8;
  expect_user_error([&] { quantize_layer_weight(layer, options); }, {"layer 'fc'", "not finite"});
}

TEST(NonFiniteRanges, StaticRangesNameTheSiteAndTheStatisticsFile) {
  // Finite and ordered, so the file loads, but far beyond float32: the range overflows when it is computed.
  const std::string dir = fresh_temp_dir("nonfinite_static");
  Statistics statistics;
  statistics.metadata = {std::string(64, 'a'), "/m.pt", "m", "outputs", "/d", 1, 1, false, "", ""};
  TensorStats wide{-1e300, 1e300, -1e300, 1e300, 0.0, 1.0, 1.0};
  statistics.sites.push_back({"conv", {1, 2, 2}, {wide, {wide}, std::nullopt}});
  const std::string path = dir + "/outputs.json";
  save_statistics(statistics, path);
  const Statistics loaded = load_statistics(path, "m");

  std::vector<Site> sites(1);
  sites[0].name = "conv";
  ActivationQuantOptions options;
  options.bits = 8;
  ActivationQuantizer quantizer(sites, options, &loaded);
  expect_user_error([&] { quantizer.on_site(0, at::zeros({1, 1, 2, 2})); }, {path, "site 'conv'", "not finite"});
  fs::remove_all(dir);
}

TEST(NonFiniteRanges, DynamicRangesNameTheSiteAndSayTheActivationsAreNotFinite) {
  std::vector<Site> sites(1);
  sites[0].name = "layer1.conv";
  ActivationQuantOptions options;
  options.bits = 8;
  ActivationQuantizer quantizer(sites, options, nullptr);
  at::Tensor x = at::randn({2, 2, 3, 3});
  x[1][0][2][2] = std::numeric_limits<float>::infinity();
  expect_user_error([&] { quantizer.on_site(0, x); }, {"site 'layer1.conv'", "NaN or inf", "-sm no"});
}

// End to end: the binary exits 2 with one "quant-sim: error:" line, prints no accuracy and records no result.
class NonFiniteRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(std::string("nonfinite_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    data_ = dir_ + "/data";
    make_image_folder(data_, {"a", "b", "c"}, 2);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string model_with_nan(const std::string& parameter) const {
    const std::string path = dir_ + "/nan_" + parameter + ".pt";
    save_tiny_classifier_with_nan(path, 3, parameter);
    return path;
  }

  // Runs quant-sim on `model` and the data; returns its error line after checking the exit code and that nothing
  // was scored or recorded.
  std::string error_of(const std::string& model, const std::string& args) const {
    const std::string results = dir_ + "/results.jsonl";
    const CommandResult r = run_quant_sim("--model " + model + " --data " + data_ + " --results " + results +
                                          " --stats-dir " + dir_ + "/stats --resize 0 --crop 0 -b 2 " + args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(r.output.find("top-1"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("Exception raised from"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(results));
    const size_t at = r.output.find("quant-sim: error: ");
    if (at == std::string::npos) {
      ADD_FAILURE() << "no error line in: " << r.output;
      return {};
    }
    EXPECT_EQ(r.output.find("quant-sim: error: ", at + 1), std::string::npos) << r.output;
    return r.output.substr(at, r.output.find('\n', at) - at);
  }

  std::string first_image() const { return data_ + "/a/0.png"; }

  std::string dir_, data_;
};

TEST_F(NonFiniteRun, Fp32ModelWithANaNWeightNamesTheModelAndTheFirstImage) {
  const std::string model = model_with_nan("weight");
  const std::string line = error_of(model, "");
  EXPECT_NE(line.find(model), std::string::npos) << line;
  EXPECT_NE(line.find(first_image()), std::string::npos) << line;
  EXPECT_NE(line.find("not finite"), std::string::npos) << line;
}

TEST_F(NonFiniteRun, QuantizedRunWithANaNBiasNamesTheModelAndTheFirstImage) {
  // Biases stay float (docs/QUANTIZATION.md, section 4): the weights quantize, and the logits carry the NaN.
  const std::string model = model_with_nan("bias");
  const std::string line = error_of(model, "-qw int8");
  EXPECT_NE(line.find(model), std::string::npos) << line;
  EXPECT_NE(line.find(first_image()), std::string::npos) << line;
}

TEST_F(NonFiniteRun, QuantizingANaNWeightNamesTheLayer) {
  const std::string line = error_of(model_with_nan("weight"), "-qw int4");
  EXPECT_NE(line.find("layer '"), std::string::npos) << line;
  EXPECT_NE(line.find("non-finite"), std::string::npos) << line;
}

TEST_F(NonFiniteRun, DynamicActivationRangesOfANaNModelAreRefused) {
  const std::string line = error_of(model_with_nan("bias"), "--qtype int8 -sm no");
  EXPECT_NE(line.find("site '"), std::string::npos) << line;
}

TEST_F(NonFiniteRun, CollectOfANaNModelWritesNoStatistics) {
  const std::string line = error_of(model_with_nan("bias"), "--qtype int8 -sm collect");
  EXPECT_NE(line.find("statistics not written"), std::string::npos) << line;
  EXPECT_NE(line.find("site '"), std::string::npos) << line;
  EXPECT_FALSE(fs::exists(dir_ + "/stats/nan_bias/outputs.json"));
}

TEST_F(NonFiniteRun, PreprocessingThatMakesTheInputInfiniteIsRefused) {
  const std::string model = dir_ + "/tiny.pt";
  save_tiny_classifier(model, 3);
  error_of(model, "--std 1e-300,1e-300,1e-300");
  error_of(model, "--std 1e-300,1e-300,1e-300 --qtype int8 -sm no");
}

}  // namespace
