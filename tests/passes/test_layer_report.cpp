// --layer-report FILE.json|FILE.csv end to end on the default model with a few generated images.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "quantsim/core/atomic_file.h"
#include "quantsim/graph/prepared_model.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim::testing;
using nlohmann::json;

namespace {

const std::string kModel = std::string(QUANTSIM_SOURCE_DIR) + "/data/default/fashion_resnet.pt";
constexpr int kClasses = 10;  // the default model's
constexpr int kImages = 2 * kClasses;

class LayerReport : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    data_ = dir_ + "/data";
    std::vector<std::string> classes;
    for (int k = 0; k < kClasses; ++k) classes.push_back("class" + std::to_string(k));
    make_image_folder(data_, classes, kImages / kClasses);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs quant-sim with `flags` and --layer-report `file` (in the test's folder); the run must succeed.
  void run(const std::string& flags, const std::string& file) const {
    const CommandResult r = run_quant_sim(args(flags + " --layer-report " + dir_ + "/" + file));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  std::string args(const std::string& extra) const {
    return "--model " + kModel + " --data " + data_ + " --stats-dir " + dir_ + "/stats --results " + dir_ +
           "/results.jsonl --resize 0 --crop 0 --device cpu -b 8 " + extra;
  }
  json read_json(const std::string& file) const { return json::parse(quantsim::read_file(dir_ + "/" + file)); }

  std::string dir_, data_;
};

const quantsim::PreparedModel& prepared_model() {
  static const quantsim::PreparedModel model = quantsim::PreparedModel::load(kModel);
  return model;
}

std::vector<json> entries_of_kind(const json& report, const std::string& kind) {
  std::vector<json> out;
  for (const json& e : report.at("entries")) {
    if (e.at("kind") == kind) out.push_back(e);
  }
  return out;
}

// name -> entry, for one kind.
std::map<std::string, json> by_name(const json& report, const std::string& kind) {
  std::map<std::string, json> out;
  for (const json& e : entries_of_kind(report, kind)) out[e.at("name").get<std::string>()] = e;
  return out;
}

double histogram_total(const json& histogram) {
  double total = 0.0;
  for (const auto& [bits, channels] : histogram.items()) total += channels.get<double>();
  return total;
}

std::vector<std::string> split(const std::string& line, char separator) {
  std::vector<std::string> cells;
  std::stringstream in(line);
  for (std::string cell; std::getline(in, cell, separator);) cells.push_back(cell);
  if (!line.empty() && line.back() == separator) cells.emplace_back();
  return cells;
}

TEST_F(LayerReport, JsonListsEverySiteAndEveryLayerWithSaneFigures) {
  run("-sm no --qtype int4 -qw int4 -pcq_w -pcq_a -c laplace -baa -baw", "report.json");
  const json report = read_json("report.json");
  EXPECT_EQ(report.at("images"), kImages);
  EXPECT_EQ(report.at("precision"), "W4A4");
  EXPECT_EQ(report.at("act_sites"), "outputs");
  EXPECT_EQ(report.at("model_sha256").get<std::string>().size(), 64u);

  const auto sites = by_name(report, "activation");
  ASSERT_EQ(sites.size(), prepared_model().sites().size());
  for (const quantsim::Site& site : prepared_model().sites()) EXPECT_EQ(sites.count(site.name), 1u) << site.name;
  const auto weights = by_name(report, "weight");
  ASSERT_EQ(weights.size(), prepared_model().layers().size());
  for (const quantsim::Layer& layer : prepared_model().layers()) {
    const json& w = weights.at(layer.name);
    EXPECT_EQ(w.at("bits"), layer.first || layer.last ? 8 : 4) << layer.name;
    EXPECT_EQ(w.at("per_channel"), true);
    EXPECT_EQ(w.at("channels"), layer.original_weight.size(0)) << layer.name;
    EXPECT_EQ(histogram_total(w.at("bits_histogram")), layer.original_weight.size(0)) << layer.name;
    EXPECT_LE(w.at("range_min").get<double>(), w.at("range_max").get<double>());
    EXPECT_TRUE(w.at("alpha").is_null()) << "weights are not clipped without --clip-weights";
  }
  bool some_allocation_varies = false;
  for (const json& e : report.at("entries")) {
    some_allocation_varies = some_allocation_varies || e.at("bits_histogram").size() > 1;
    EXPECT_GE(e.at("mse").get<double>(), 0.0) << e;
    EXPECT_GE(e.at("local_mse").get<double>(), 0.0) << e;
    EXPECT_GT(e.at("bits").get<int>(), 0) << e;
    EXPECT_TRUE(e.at("sqnr_db").is_number()) << e;
    EXPECT_GT(e.at("values").get<int64_t>(), 0) << e;
  }
  EXPECT_TRUE(some_allocation_varies) << "bit allocation gave every channel the same bits: the test proves little";
  for (const json& s : entries_of_kind(report, "activation")) {
    // Dynamic ranges: mean counts over the batches, still summing to the channel count.
    EXPECT_NEAR(histogram_total(s.at("bits_histogram")), s.at("channels").get<double>(), 1e-9) << s;
    if (s.at("type") == "pool_output") {
      EXPECT_TRUE(s.at("alpha").is_null()) << "pooling sites are never clipped";
    } else {
      ASSERT_TRUE(s.at("alpha").is_number()) << s;
      EXPECT_GT(s.at("alpha").get<double>(), 0.0);
      EXPECT_GT(s.at("clip_fraction").get<double>(), 0.0);
      EXPECT_LE(s.at("clip_fraction").get<double>(), 1.0 + 1e-12);
    }
    // The error accumulated through the network is at least of the size of the site's own.
    EXPECT_GT(s.at("mse").get<double>(), 0.0) << s;
  }
}

TEST_F(LayerReport, CsvHoldsTheSameRowsAsJson) {
  const std::string flags = "-sm no --qtype int4 -qw int4 -pcq_w -c gaus";
  run(flags, "report.json");
  run(flags, "report.csv");
  const json report = read_json("report.json");
  std::istringstream csv(quantsim::read_file(dir_ + "/report.csv"));
  std::string line;
  ASSERT_TRUE(std::getline(csv, line));
  const std::vector<std::string> header = split(line, ',');
  for (const char* column : {"kind", "name", "index", "per_channel", "bits_mean", "bits_histogram", "range_min",
                             "range_max", "alpha", "mse", "sqnr_db", "local_mse", "local_sqnr_db"}) {
    EXPECT_NE(std::find(header.begin(), header.end(), column), header.end()) << column;
  }
  const auto column = [&](const std::string& name) {
    return static_cast<size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  size_t rows = 0;
  for (; std::getline(csv, line); ++rows) {
    const std::vector<std::string> cells = split(line, ',');
    ASSERT_EQ(cells.size(), header.size()) << line;
    ASSERT_LT(rows, report.at("entries").size());
    const json& e = report.at("entries")[rows];
    EXPECT_EQ(cells[column("name")], e.at("name").get<std::string>());
    EXPECT_EQ(cells[column("kind")], e.at("kind").get<std::string>());
    EXPECT_NEAR(std::stod(cells[column("mse")]), e.at("mse").get<double>(), 1e-9 * e.at("mse").get<double>());
    // bits_histogram as "bits:channels;...", summing to the channel count.
    double total = 0.0;
    for (const std::string& pair : split(cells[column("bits_histogram")], ';')) total += std::stod(split(pair, ':')[1]);
    EXPECT_EQ(total, e.at("channels").get<double>()) << line;
    // Null (no clipping for pools and weights) is an empty cell.
    EXPECT_EQ(cells[column("alpha")].empty(), e.at("alpha").is_null()) << line;
  }
  EXPECT_EQ(rows, report.at("entries").size());
}

TEST_F(LayerReport, EightBitsHaveHigherSqnrThanFourBits) {
  run("-sm no --qtype int8 -qw int8", "w8a8.json");
  run("-sm no --qtype int4 -qw int4", "w4a4.json");
  const json w8 = read_json("w8a8.json");
  const json w4 = read_json("w4a4.json");
  size_t compared = 0;
  for (const std::string kind : {"activation", "weight"}) {
    const auto at8 = by_name(w8, kind);
    for (const auto& [name, e4] : by_name(w4, kind)) {
      if (e4.at("bits") != 4) continue;  // first/last layers and pools stay at 8 bits in both runs
      const json& e8 = at8.at(name);
      EXPECT_GT(e8.at("sqnr_db").get<double>(), e4.at("sqnr_db").get<double>() + 6.0) << kind << " " << name;
      EXPECT_GT(e8.at("local_sqnr_db").get<double>(), e4.at("local_sqnr_db").get<double>() + 6.0) << name;
      EXPECT_LT(e8.at("mse").get<double>(), e4.at("mse").get<double>()) << kind << " " << name;
      ++compared;
    }
  }
  EXPECT_GT(compared, 5u);
}

TEST_F(LayerReport, FloatSitesShowOnlyTheErrorOfQuantizedWeightsUpstream) {
  run("-sm no --qtype f32 -qw int4 --first-last-bits f32", "w4a32.json");
  const json report = read_json("w4a32.json");
  EXPECT_EQ(report.at("precision"), "W4A32");
  bool some_upstream_error = false;
  for (const json& s : entries_of_kind(report, "activation")) {
    EXPECT_EQ(s.at("bits"), 0) << s;
    EXPECT_TRUE(s.at("range_min").is_null()) << s;
    EXPECT_TRUE(s.at("bits_histogram").empty()) << s;
    EXPECT_EQ(s.at("local_mse"), 0.0) << s;
    EXPECT_TRUE(s.at("local_sqnr_db").is_null()) << "no local error: infinite SQNR, written as null";
    some_upstream_error = some_upstream_error || s.at("mse").get<double>() > 0.0;
  }
  EXPECT_TRUE(some_upstream_error);
  const auto weights = by_name(report, "weight");
  for (const quantsim::Layer& layer : prepared_model().layers()) {
    const json& w = weights.at(layer.name);
    EXPECT_EQ(w.at("bits"), layer.first || layer.last ? 0 : 4) << layer.name;
    if (layer.first || layer.last) {
      EXPECT_EQ(w.at("mse"), 0.0) << layer.name;
    } else {
      EXPECT_GT(w.at("mse").get<double>(), 0.0) << layer.name;
    }
  }
}

TEST_F(LayerReport, StaticRangesGiveTheSameReportForAnyBatchSize) {
  ASSERT_EQ(run_quant_sim(args("-sm collect")).exit_code, 0);
  const std::string flags = "-sm use --qtype int4 -qw int4 -pcq_a -c laplace -baa";
  run(flags, "b8.json");
  run(flags + " -b 20", "b20.json");
  const json a = read_json("b8.json");
  const json b = read_json("b20.json");
  EXPECT_EQ(a.at("ranges"), "static");
  ASSERT_EQ(a.at("entries").size(), b.at("entries").size());
  for (size_t i = 0; i < a.at("entries").size(); ++i) {
    const json& x = a.at("entries")[i];
    const json& y = b.at("entries")[i];
    EXPECT_EQ(x.at("range_max"), y.at("range_max")) << x;  // one set of parameters, from the statistics file
    EXPECT_EQ(x.at("bits_histogram"), y.at("bits_histogram")) << x;
    // Sums over all images, not means of per-batch figures: batching moves them by float rounding only.
    EXPECT_NEAR(x.at("mse").get<double>(), y.at("mse").get<double>(), 1e-3 * x.at("mse").get<double>()) << x;
  }
}

TEST_F(LayerReport, UnknownExtensionAndFp32RunsAreOneLineErrors) {
  for (const std::string& flags :
       {std::string("-sm no --qtype int4 --layer-report ") + dir_ + "/report.txt", "--layer-report " + dir_ + "/r.json",
        "-sm collect --layer-report " + dir_ + "/r.json"}) {
    const CommandResult r = run_quant_sim(args(flags));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    const size_t at = r.output.find("quant-sim: error: flag --layer-report");
    ASSERT_NE(at, std::string::npos) << r.output;
    EXPECT_EQ(r.output.find('\n', at), r.output.size() - 1) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir_ + "/report.txt"));
  EXPECT_FALSE(fs::exists(dir_ + "/r.json"));
  EXPECT_FALSE(fs::exists(dir_ + "/stats")) << "the refused collect run must not have collected";
}

}  // namespace
