// Statistics files: exact round trip, atomic replacement, refusal of corrupt or mismatched files.
#include "quantsim/quant/statistics_store.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"

namespace quantsim {
namespace {
namespace fs = std::filesystem;

constexpr const char* kSha = "1111111111111111111111111111111111111111111111111111111111111111";

class StatisticsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("quantsim_stats_" + std::to_string(::getpid()) + "_" + test->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path_of(const std::string& name) const { return (dir_ / name).string(); }
  void write_raw(const std::string& path, const std::string& bytes) const {
    std::ofstream(path, std::ios::binary) << bytes;
  }

  fs::path dir_;
};

// Doubles that a printf("%g")-style writer would not round-trip (and that loading accepts: min <= max, std within
// max - min, ...).
TensorStats awkward_stats(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> uniform(-1e3, 1e3);
  TensorStats stats;
  stats.min = -std::abs(uniform(rng));
  stats.max = 1.0 / 3.0;
  stats.min_batch_mean = 4.9e-324;  // smallest subnormal
  stats.max_batch_mean = std::nextafter(0.1, 1.0);
  stats.mean = uniform(rng) * 1e-300;
  stats.std = (stats.max - stats.min) * std::exp(-std::abs(uniform(rng)) / 10.0);
  stats.b = -0.0;
  return stats;
}

Statistics sample_statistics() {
  std::mt19937_64 rng(7);
  Statistics statistics;
  statistics.metadata.model_sha256 = kSha;
  statistics.metadata.model_path = "/models/resnet18.pt";
  statistics.metadata.arch = "resnet18";
  statistics.metadata.act_sites = "outputs";
  statistics.metadata.calib_data = "/data/ILSVRC2012/val";
  statistics.metadata.calib_images = 5120;
  statistics.metadata.batch_size = 256;
  const std::vector<SiteShape> shapes = {{"conv1", {64, 112, 112}}, {"conv1:pre_relu", {64, 112, 112}}, {"fc", {1000}}};
  for (const SiteShape& shape : shapes) {
    SiteStatistics site{shape.name, shape.shape, {}};
    site.stats.per_tensor = awkward_stats(rng);
    for (int64_t c = 0; c < shape.shape[0]; ++c) site.stats.per_channel.push_back(awkward_stats(rng));
    statistics.sites.push_back(site);
  }
  return statistics;
}

std::vector<SiteShape> site_shapes(const Statistics& statistics) {
  std::vector<SiteShape> shapes;
  for (const SiteStatistics& site : statistics.sites) shapes.push_back({site.name, site.shape});
  return shapes;
}

// Bit-for-bit equality (distinguishes -0.0 from 0.0; NaN equals NaN).
bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void expect_same_stats(const TensorStats& a, const TensorStats& b) {
  EXPECT_TRUE(same_bits(a.min, b.min)) << a.min << " vs " << b.min;
  EXPECT_TRUE(same_bits(a.max, b.max));
  EXPECT_TRUE(same_bits(a.min_batch_mean, b.min_batch_mean));
  EXPECT_TRUE(same_bits(a.max_batch_mean, b.max_batch_mean));
  EXPECT_TRUE(same_bits(a.mean, b.mean)) << a.mean << " vs " << b.mean;
  EXPECT_TRUE(same_bits(a.std, b.std));
  EXPECT_TRUE(same_bits(a.b, b.b));
}

// Expects a UserError whose message contains every one of `parts`.
template <typename Fn>
void expect_user_error(Fn fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no UserError thrown";
  } catch (const UserError& error) {
    for (const std::string& part : parts)
      EXPECT_NE(std::string(error.what()).find(part), std::string::npos)
          << "'" << part << "' missing from: " << error.what();
  }
}

TEST_F(StatisticsStoreTest, RoundTripIsExact) {
  const Statistics saved = sample_statistics();
  const std::string path = path_of("resnet18/outputs.json");
  save_statistics(saved, path);
  const Statistics loaded = load_statistics(path, "resnet18");

  EXPECT_EQ(loaded.metadata.model_sha256, saved.metadata.model_sha256);
  EXPECT_EQ(loaded.metadata.model_path, saved.metadata.model_path);
  EXPECT_EQ(loaded.metadata.calib_data, saved.metadata.calib_data);
  EXPECT_EQ(loaded.metadata.calib_images, 5120);
  EXPECT_EQ(loaded.metadata.batch_size, 256);
  EXPECT_EQ(loaded.metadata.tool_version, QUANTSIM_VERSION);
  EXPECT_EQ(loaded.metadata.created.size(), std::string("2024-01-01T00:00:00Z").size());
  ASSERT_EQ(loaded.sites.size(), saved.sites.size());
  for (size_t i = 0; i < saved.sites.size(); ++i) {
    SCOPED_TRACE(saved.sites[i].name);
    EXPECT_EQ(loaded.sites[i].name, saved.sites[i].name);
    EXPECT_EQ(loaded.sites[i].shape, saved.sites[i].shape);
    expect_same_stats(loaded.sites[i].stats.per_tensor, saved.sites[i].stats.per_tensor);
    ASSERT_EQ(loaded.sites[i].stats.per_channel.size(), saved.sites[i].stats.per_channel.size());
    for (size_t c = 0; c < saved.sites[i].stats.per_channel.size(); ++c) {
      expect_same_stats(loaded.sites[i].stats.per_channel[c], saved.sites[i].stats.per_channel[c]);
    }
  }
}

// Non-finite values are written as text (the file shows what a collect met), but no real collect gives them and no
// range can be computed from them: reading refuses them (more in test_statistics_validation.cpp).
TEST_F(StatisticsStoreTest, NonFiniteValuesAreWrittenAsTextAndRefusedOnRead) {
  Statistics saved = sample_statistics();
  saved.sites[0].stats.per_tensor.max = std::numeric_limits<double>::infinity();
  saved.sites[0].stats.per_tensor.min = -std::numeric_limits<double>::infinity();
  saved.sites[0].stats.per_channel[5].mean = std::numeric_limits<double>::quiet_NaN();
  const nlohmann::json written = nlohmann::json::parse(statistics_to_json(saved));
  EXPECT_EQ(written["sites"][0]["per_tensor"]["max"], "inf");
  EXPECT_EQ(written["sites"][0]["per_tensor"]["min"], "-inf");
  EXPECT_EQ(written["sites"][0]["per_channel"]["mean"][5], "nan");
  expect_user_error([&] { statistics_from_json(written.dump(), "memory"); },
                    {"memory", "site 'conv1'", "per_tensor.min", "-inf"});
}

TEST_F(StatisticsStoreTest, PathSeparatesArchAndActSitesModes) {
  const std::string outputs = statistics_path(dir_.string(), "resnet18", ActSites::kOutputs);
  const std::string inputs = statistics_path(dir_.string(), "resnet18", ActSites::kInputs);
  EXPECT_EQ(outputs, (dir_ / "resnet18" / "outputs.json").string());
  EXPECT_EQ(inputs, (dir_ / "resnet18" / "inputs.json").string());

  Statistics paper = sample_statistics();
  Statistics deploy = sample_statistics();
  deploy.metadata.act_sites = "inputs";
  deploy.sites.pop_back();
  save_statistics(paper, outputs);
  save_statistics(deploy, inputs);
  EXPECT_EQ(load_statistics(outputs, "resnet18").sites.size(), 3u);
  EXPECT_EQ(load_statistics(inputs, "resnet18").sites.size(), 2u);
}

TEST_F(StatisticsStoreTest, PathExpandsHomeAndRefusesArchThatIsNotAFolderName) {
  const char* home = std::getenv("HOME");
  if (home != nullptr) {
    EXPECT_EQ(statistics_path("~/stats", "vgg16", ActSites::kOutputs), std::string(home) + "/stats/vgg16/outputs.json");
  }
  expect_user_error([&] { statistics_path(dir_.string(), "../evil", ActSites::kOutputs); }, {"../evil"});
  expect_user_error([&] { statistics_path(dir_.string(), "", ActSites::kOutputs); }, {"--arch"});
}

TEST_F(StatisticsStoreTest, MissingFileSaysWhatToRun) {
  const std::string path = statistics_path(dir_.string(), "resnet50", ActSites::kInputs);
  expect_user_error([&] { load_statistics(path, "resnet50"); },
                    {"no statistics for resnet50 at " + path, "run with -sm collect first"});
}

TEST_F(StatisticsStoreTest, FailedWriteLeavesThePreviousFileIntact) {
  const std::string path = path_of("resnet18/outputs.json");
  const Statistics good = sample_statistics();
  save_statistics(good, path);
  const std::string before = read_file(path);

  Statistics bad = sample_statistics();
  bad.sites.push_back(bad.sites[0]);  // a duplicate site: serialization refuses before anything is written
  EXPECT_THROW(save_statistics(bad, path), std::invalid_argument);
  EXPECT_EQ(read_file(path), before);
  EXPECT_EQ(load_statistics(path, "resnet18").sites.size(), good.sites.size());

  // Nothing but the statistics file is left in the folder.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "resnet18"), fs::directory_iterator()), 1);
}

TEST_F(StatisticsStoreTest, WriteIntoUnusableFolderFailsNamingThePath) {
  write_raw(path_of("not_a_folder"), "x");
  const std::string path = path_of("not_a_folder/outputs.json");
  expect_user_error([&] { save_statistics(sample_statistics(), path); }, {path});
}

TEST_F(StatisticsStoreTest, LeftoverTempFileIsNotMistakenForTheStatistics) {
  // An interrupted collect leaves <path>.tmp.XXXXXX behind (see write_file_atomically).
  const std::string path = path_of("resnet18/outputs.json");
  fs::create_directories(dir_ / "resnet18");
  write_raw(path + ".tmp.AbC123", "{\"format\": \"quant-sim statis");
  expect_user_error([&] { load_statistics(path, "resnet18"); }, {"no statistics for resnet18"});

  save_statistics(sample_statistics(), path);
  EXPECT_EQ(load_statistics(path, "resnet18").sites.size(), 3u);
}

TEST_F(StatisticsStoreTest, CorruptFilesAreRefusedNamingThePath) {
  const std::string valid = statistics_to_json(sample_statistics());
  std::string random_bytes(512, '\0');
  std::mt19937 rng(3);
  for (char& byte : random_bytes) byte = static_cast<char>(rng());
  nlohmann::json wrong_channel_count = nlohmann::json::parse(valid);
  wrong_channel_count["sites"][2]["shape"] = {999};
  nlohmann::json text_for_number = nlohmann::json::parse(valid);
  text_for_number["sites"][0]["per_tensor"]["std"] = "wide";

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"truncated", valid.substr(0, valid.size() / 2)},
      {"random", random_bytes},
      {"not_an_object", "[1, 2, 3]"},
      {"other_json", "{\"hello\": 1}"},
      {"missing_sites", "{\"format\": \"quant-sim statistics\", \"schema_version\": 1, \"metadata\": {}}"},
      {"channel_count", wrong_channel_count.dump()},
      {"text_for_number", text_for_number.dump()},
  };
  for (const auto& [name, contents] : cases) {
    SCOPED_TRACE(name);
    const std::string path = path_of(name + ".json");
    write_raw(path, contents);
    expect_user_error([&] { load_statistics(path, "resnet18"); }, {path});
  }
}

TEST_F(StatisticsStoreTest, OtherSchemaVersionIsRefusedAsSuch) {
  nlohmann::json document = nlohmann::json::parse(statistics_to_json(sample_statistics()));
  document["schema_version"] = 99;
  const std::string path = path_of("future.json");
  write_raw(path, document.dump());
  expect_user_error([&] { load_statistics(path, "resnet18"); }, {path, "schema version 99"});
}

TEST_F(StatisticsStoreTest, CompatibleStatisticsAreAccepted) {
  const Statistics statistics = sample_statistics();
  EXPECT_NO_THROW(check_compatible(statistics, "s.json", kSha, site_shapes(statistics), ActSites::kOutputs));
  EXPECT_EQ(statistics.site("fc").shape, (std::vector<int64_t>{1000}));
  expect_user_error([&] { statistics.site("fc2"); }, {"fc2"});
}

TEST_F(StatisticsStoreTest, OtherModelIsRefused) {
  const Statistics statistics = sample_statistics();
  const std::string other(64, '2');
  expect_user_error([&] { check_compatible(statistics, "s.json", other, site_shapes(statistics), ActSites::kOutputs); },
                    {"s.json", "another model", kSha, other});
}

TEST_F(StatisticsStoreTest, OtherActSitesModeIsRefused) {
  const Statistics statistics = sample_statistics();
  expect_user_error([&] { check_compatible(statistics, "s.json", kSha, site_shapes(statistics), ActSites::kInputs); },
                    {"s.json", "--act-sites outputs", "--act-sites inputs"});
}

TEST_F(StatisticsStoreTest, DifferentSitesAreRefusedNamingTheFirstDifference) {
  const Statistics statistics = sample_statistics();
  std::vector<SiteShape> renamed = site_shapes(statistics);
  renamed[1].name = "conv1:relu";
  renamed[2].name = "classifier";
  expect_user_error([&] { check_compatible(statistics, "s.json", kSha, renamed, ActSites::kOutputs); },
                    {"s.json", "site 1", "'conv1:pre_relu'", "'conv1:relu'"});

  std::vector<SiteShape> reshaped = site_shapes(statistics);
  reshaped[0].shape = {64, 56, 56};
  expect_user_error([&] { check_compatible(statistics, "s.json", kSha, reshaped, ActSites::kOutputs); },
                    {"'conv1'", "[64, 112, 112]", "[64, 56, 56]"});

  std::vector<SiteShape> longer = site_shapes(statistics);
  longer.push_back({"softmax", {1000}});
  expect_user_error([&] { check_compatible(statistics, "s.json", kSha, longer, ActSites::kOutputs); },
                    {"model has site 'softmax'"});

  std::vector<SiteShape> shorter = site_shapes(statistics);
  shorter.pop_back();
  expect_user_error([&] { check_compatible(statistics, "s.json", kSha, shorter, ActSites::kOutputs); },
                    {"statistics have site 'fc'"});
}

}  // namespace
}  // namespace quantsim
