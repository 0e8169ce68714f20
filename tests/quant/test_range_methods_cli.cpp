// -c mse | percentile:P | entropy end to end: -sm collect writes histograms, -sm use ranges every site from them
// (docs/QUANTIZATION.md, sections 2 and 6).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "support/cli_runner.h"
#include "support/fixtures.h"

namespace quantsim {
namespace {

using testing::run_quant_sim;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class RangeMethodsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_temp_dir("range_methods_cli");
    testing::save_small_cnn(dir_ + "/cnn.pt", 3);
    testing::make_image_folder(dir_ + "/images", {"a", "b", "c"}, 6, 2);
    common_ = "--model " + dir_ + "/cnn.pt --data " + dir_ + "/images --stats-dir " + dir_ +
              "/stats --resize 20 "
              "--crop 16 -b 4 --results " +
              dir_ + "/results.jsonl ";
  }
  std::string dir_, common_;
};

TEST_F(RangeMethodsCli, CollectThenUseWithEveryMethodGivesFiniteAccuracyAndItsOwnRanges) {
  const auto collect = run_quant_sim(common_ + "-sm collect");
  ASSERT_EQ(collect.exit_code, 0) << collect.output;
  const std::string file = dir_ + "/stats/cnn/outputs.json";
  const nlohmann::json stats = nlohmann::json::parse(read_text(file));
  EXPECT_EQ(stats["schema_version"], 2);
  for (const nlohmann::json& site : stats["sites"]) {
    const bool pre_relu = site["name"].get<std::string>().find(":pre_relu") != std::string::npos;
    EXPECT_EQ(site.contains("histogram"), !pre_relu) << site["name"];
  }

  std::map<std::string, std::string> ranges;  // method -> the activation ranges of its layer report
  for (const std::string method : {"mse", "percentile:99", "entropy", "laplace"}) {
    for (const std::string per_channel : {"", "-pcq_a "}) {
      const std::string report = dir_ + "/report.json";
      const auto use = run_quant_sim(common_ + "-sm use --qtype int4 -qw int4 --clip-weights -c " + method + " " +
                                     per_channel + "--layer-report " + report);
      ASSERT_EQ(use.exit_code, 0) << method << ": " << use.output;
      std::istringstream lines(read_text(dir_ + "/results.jsonl"));
      std::string line, last;
      while (std::getline(lines, line)) {
        if (!line.empty()) last = line;
      }
      const nlohmann::json result = nlohmann::json::parse(last);
      EXPECT_TRUE(std::isfinite(result["top1"].get<double>())) << last;
      EXPECT_EQ(result["config"]["clipping"], method) << last;
      std::string text;
      const nlohmann::json layer_report = nlohmann::json::parse(read_text(report));
      for (const nlohmann::json& entry : layer_report["entries"]) {
        if (entry["kind"] == "weight" || entry["range_min"].is_null()) continue;
        const double lo = entry["range_min"], hi = entry["range_max"];
        EXPECT_TRUE(std::isfinite(lo) && std::isfinite(hi) && lo <= hi) << entry.dump();
        text += entry.dump() + "\n";
      }
      EXPECT_FALSE(text.empty());
      ranges[method + per_channel] = text;
    }
  }
  for (const auto& [a, text_a] : ranges) {
    for (const auto& [b, text_b] : ranges) {
      if (a < b) {
        EXPECT_NE(text_a, text_b) << a << " and " << b << " chose the same ranges";
      }
    }
  }

  // A version-1 file: one line naming the file, saying it has no histograms.
  nlohmann::json old = stats;
  old["schema_version"] = 1;
  std::ofstream(file) << old.dump();
  const auto refused = run_quant_sim(common_ + "-sm use --qtype int4 -c entropy");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find(file + ": statistics schema version 1 has no histograms"), std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("run -sm collect again"), std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find('\n'), refused.output.size() - 1) << refused.output;
}

TEST_F(RangeMethodsCli, DynamicRangesRefuseHistogramMethodsButWeightsTakeTheirOwn) {
  const auto dynamic = run_quant_sim(common_ + "-sm no --qtype int4 -c mse");
  EXPECT_EQ(dynamic.exit_code, 2) << dynamic.output;
  EXPECT_NE(dynamic.output.find("flag -c mse: the histogram methods need the histograms of a statistics file"),
            std::string::npos)
      << dynamic.output;
  const auto weights = run_quant_sim(common_ + "-qw int3 --clip-weights -c percentile:99.9 -pcq_w");
  EXPECT_EQ(weights.exit_code, 0) << weights.output;
  const auto bad = run_quant_sim(common_ + "-sm use --qtype int4 -c percentile:0");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

}  // namespace
}  // namespace quantsim
