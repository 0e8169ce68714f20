// Statistics files are validated on load: each class of impossible value is refused with a one-line UserError naming
// the file, the site and the field. Every case starts from the valid statistics of a tiny model, as the accumulator
// of a real collect computes them, and changes one field.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "quantsim/core/errors.h"
#include "quantsim/quant/statistics_store.h"
#include "quantsim/quant/stats_accumulator.h"
#include "support/fixtures.h"

namespace quantsim {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// The statistics StatsAccumulator gives for two random batches of a tensor with this per-image shape.
ChannelwiseStats collected(const std::vector<int64_t>& shape, double scale) {
  std::vector<int64_t> batch_shape{2};
  batch_shape.insert(batch_shape.end(), shape.begin(), shape.end());
  const std::vector<at::Tensor> batches = {at::randn(batch_shape) * scale, at::randn(batch_shape) * scale + 0.5};
  StatsAccumulator accumulator;
  for (const at::Tensor& batch : batches) accumulator.observe(batch);
  accumulator.finish_first_pass();
  for (const at::Tensor& batch : batches) accumulator.observe_abs_deviation(batch);
  return accumulator.finish();
}

// Sites of a tiny conv -> relu -> linear model: "conv" [4, 6, 6] (unsigned, with its pre-ReLU entry) and "logits" [3].
Statistics tiny_model_statistics() {
  at::manual_seed(11);
  Statistics statistics;
  statistics.metadata = {
      std::string(64, 'a'), "/models/tiny.pt", "tiny", "outputs", "/data/calib", 4, 2, false, "", ""};
  for (const auto& [name, shape] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"conv", {4, 6, 6}}, {"conv:pre_relu", {4, 6, 6}}, {"logits", {3}}}) {
    statistics.sites.push_back({name, shape, collected(shape, name == "logits" ? 3.0 : 1.0)});
  }
  return statistics;
}

class StatisticsValidation : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_temp_dir(std::string("validation_") +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    document_ = json::parse(statistics_to_json(tiny_model_statistics()));
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The valid document with one site's field changed (per_tensor.<field>, or per_channel.<field>[channel]).
  json& per_tensor(size_t site, const char* field) { return document_["sites"][site]["per_tensor"][field]; }
  json& per_channel(size_t site, const char* field, size_t channel) {
    return document_["sites"][site]["per_channel"][field][channel];
  }

  // Writes `text` as a statistics file and expects load_statistics to refuse it with one line naming the file and
  // every one of `parts`.
  void expect_refused_text(const std::string& text, const std::vector<std::string>& parts) {
    const std::string path = dir_ + "/outputs.json";
    std::ofstream(path, std::ios::binary) << text;
    try {
      load_statistics(path, "tiny");
      ADD_FAILURE() << "loaded without error";
    } catch (const UserError& error) {
      const std::string message = error.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      EXPECT_NE(message.find(path), std::string::npos) << message;
      for (const std::string& part : parts) {
        EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' missing from: " << message;
      }
    }
  }
  void expect_refused(const std::vector<std::string>& parts) { expect_refused_text(document_.dump(1), parts); }

  std::string dir_;
  json document_;
};

TEST_F(StatisticsValidation, StatisticsOfARealAccumulatorLoad) {
  const std::string path = dir_ + "/outputs.json";
  save_statistics(tiny_model_statistics(), path);
  const Statistics loaded = load_statistics(path, "tiny");
  EXPECT_EQ(loaded.sites.size(), 3u);
  EXPECT_EQ(loaded.source, path);
  try {
    loaded.site("fc");
    ADD_FAILURE() << "no error for a missing site";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
  }
}

TEST_F(StatisticsValidation, MinAboveMaxIsRefused) {
  per_channel(0, "min", 1) = per_channel(0, "max", 1).get<double>() + 1.0;
  expect_refused({"site 'conv'", "per_channel.min[1]", "per_channel.max[1]"});
}

TEST_F(StatisticsValidation, MinBatchMeanAboveMaxBatchMeanIsRefused) {
  per_tensor(2, "min_batch_mean") = per_tensor(2, "max_batch_mean").get<double>() + 0.25;
  expect_refused({"site 'logits'", "per_tensor.min_batch_mean", "per_tensor.max_batch_mean"});
}

TEST_F(StatisticsValidation, NegativeStdIsRefused) {
  per_channel(1, "std", 2) = -0.5;
  expect_refused({"site 'conv:pre_relu'", "per_channel.std[2]", "negative"});
}

TEST_F(StatisticsValidation, NegativeBIsRefused) {
  per_tensor(2, "b") = -1e-3;
  expect_refused({"site 'logits'", "per_tensor.b", "negative"});
}

TEST_F(StatisticsValidation, NonFiniteValuesAreRefused) {
  const json valid = document_;
  for (const char* text : {"nan", "inf", "-inf"}) {
    SCOPED_TRACE(text);
    document_ = valid;
    per_tensor(0, "mean") = text;
    expect_refused({"site 'conv'", "per_tensor.mean", text, "finite"});
    document_ = valid;
    per_channel(2, "b", 0) = text;
    expect_refused({"site 'logits'", "per_channel.b[0]", text, "finite"});
  }
}

TEST_F(StatisticsValidation, ChannelListsMustMatchTheShape) {
  const json valid = document_;
  document_["sites"][0]["per_channel"]["std"].erase(3);
  expect_refused({"site 'conv'", "per_channel.std", "4 channels"});
  document_ = valid;
  document_["sites"][2]["shape"] = {5};
  expect_refused({"site 'logits'", "per_channel.", "5 channels"});
}

// nlohmann refuses these while parsing, before any site exists: the parser still names where they are.
TEST_F(StatisticsValidation, NumbersNoDoubleHoldsAreRefusedWithTheirSiteAndField) {
  constexpr double kSentinel = 123456.75;  // exactly representable, unique in the document
  const json valid = document_;
  const auto with_text = [&](json& slot, const std::string& replacement) {
    slot = kSentinel;
    std::string text = document_.dump(1);
    text.replace(text.find("123456.75"), 9, replacement);
    return text;
  };
  expect_refused_text(with_text(per_channel(0, "max", 3), "1e400"),
                      {"site 'conv'", "field per_channel.max[3] = 1e400", "does not fit a double"});
  document_ = valid;
  expect_refused_text(with_text(per_tensor(1, "min"), "-1e400"), {"site 'conv:pre_relu'", "field per_tensor.min"});
  document_ = valid;
  expect_refused_text(with_text(document_["sites"][2]["shape"][0], std::string(400, '9')),
                      {"site 'logits'", "field shape[0]"});
  document_ = valid;
  expect_refused_text(with_text(document_["metadata"]["calib_images"], "1e400"), {"field metadata.calib_images"});
}

TEST_F(StatisticsValidation, ShapesMustBeBoundedPositiveIntegers) {
  const json valid = document_;
  const std::vector<std::pair<json, std::string>> shapes = {
      {json::array({4.5, 6, 6}), "not an integer"},
      {json::array({0, 6, 6}), "out of range"},
      {json::array({-4, 6, 6}), "out of range"},
      {json::array({4, int64_t{1} << 40, 6}), "values per image"},
      {json::array(), "expected [C, ...]"},
      {json::array({4, 1, 1, 1, 1, 1, 1, 1, 1}), "at most 8 dimensions"},
      {json("4"), "expected [C, ...]"},
  };
  for (const auto& [shape, problem] : shapes) {
    SCOPED_TRACE(shape.dump());
    document_ = valid;
    document_["sites"][0]["shape"] = shape;
    expect_refused({"site 'conv'", "shape", problem});
  }
}

// Before validation, a shape[0] of 5e7 allocated 5e7 channel records (2.9 GB) before the lists were compared with it.
// The bound and the list lengths are checked first: these are refused at once, without bad_alloc.
TEST_F(StatisticsValidation, HugeShapesAreRefusedBeforeAnyAllocation) {
  const json valid = document_;
  for (const json& channels : {json(50'000'000), json(int64_t{1} << 62), json(UINT64_MAX), json(5e7)}) {
    SCOPED_TRACE(channels.dump());
    document_ = valid;
    document_["sites"][0]["shape"][0] = channels;
    expect_refused({"site 'conv'", "shape[0]"});
  }
  document_ = valid;
  document_["sites"][2]["shape"][0] = kMaxSiteChannels;  // at the bound: refused by the list lengths, unallocated
  expect_refused({"site 'logits'", "per_channel.", std::to_string(kMaxSiteChannels) + " channels"});
}

TEST_F(StatisticsValidation, MetadataCountsMustBePositiveIntegers) {
  const json valid = document_;
  for (const json& count : {json(0), json(-3), json(2.5), json("many"), json(UINT64_MAX)}) {
    SCOPED_TRACE(count.dump());
    document_ = valid;
    document_["metadata"]["batch_size"] = count;
    expect_refused({"metadata.batch_size"});
  }
}

// The writer refuses what the reader would: a collect whose activations were not finite stops at the save, naming
// the site and field, and leaves no file.
TEST_F(StatisticsValidation, ImpossibleStatisticsAreNotWritten) {
  Statistics statistics = tiny_model_statistics();
  statistics.sites[1].stats.per_channel[3].std = std::nan("");
  const std::string path = dir_ + "/tiny/outputs.json";
  try {
    save_statistics(statistics, path);
    ADD_FAILURE() << "saved without error";
  } catch (const UserError& error) {
    const std::string message = error.what();
    for (const std::string& part : {path, std::string("site 'conv:pre_relu'"), std::string("per_channel.std[3]")}) {
      EXPECT_NE(message.find(part), std::string::npos) << message;
    }
  }
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace quantsim
