// --cle and --bias-correction from the command line (docs/QUANTIZATION.md, section 14; docs/CLI.md): FP32 accuracy
// unchanged by --cle, statistics of the other --cle refused, one-line errors, and the results line's config.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "quantsim/app/sweep/sweep_plan.h"
#include "quantsim/results/results_table.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim::testing;

namespace {

class CleCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir("cle_cli");
    save_small_cnn(dir_ + "/cnn.pt", 4, 5);  // conv -> relu -> conv: one equalizable pair
    make_image_folder(dir_ + "/data", {"a", "b", "c", "d"}, 5);
    make_image_folder(dir_ + "/calib", {"a", "b", "c", "d"}, 3, 11);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CommandResult run(const std::string& args) const {
    return run_quant_sim("--model " + dir_ + "/cnn.pt --data " + dir_ + "/data --resize 0 --crop 0 --stats-dir " +
                         dir_ + "/stats --results " + dir_ + "/results.jsonl " + args);
  }

  nlohmann::json last_result() const {
    std::ifstream in(dir_ + "/results.jsonl");
    std::string line, last;
    while (std::getline(in, line)) last = line;
    return nlohmann::json::parse(last);
  }

  static std::string top1(const std::string& output) {
    std::smatch match;
    return std::regex_search(output, match, std::regex("top-1 ([0-9.]+)%")) ? match[1].str() : "";
  }

  std::string dir_;
};

// Exit 2 and the error in one line, the last (a --cle run may have said what it equalised before).
bool one_line_error(const CommandResult& r, const std::string& needle) {
  const std::string& out = r.output;
  if (r.exit_code != 2 || out.empty() || out.back() != '\n') return false;
  const size_t start = out.rfind('\n', out.size() - 2);
  const std::string last = out.substr(start == std::string::npos ? 0 : start + 1);
  return last.find("error: ") != std::string::npos && last.find(needle) != std::string::npos;
}

TEST_F(CleCli, Fp32AccuracyUnchangedAndReported) {
  const CommandResult plain = run("");
  const CommandResult equalised = run("--cle");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  ASSERT_EQ(equalised.exit_code, 0) << equalised.output;
  EXPECT_FALSE(top1(plain.output).empty());
  EXPECT_EQ(top1(equalised.output), top1(plain.output));
  EXPECT_NE(equalised.output.find("--cle equalised 1 layer pairs"), std::string::npos) << equalised.output;
  EXPECT_EQ(last_result()["config"]["cle"], true);
  EXPECT_EQ(last_result()["mode"], "fp32");
}

TEST_F(CleCli, StatisticsOfTheOtherCleAreRefused) {
  ASSERT_EQ(run("-sm collect --cle").exit_code, 0);
  const CommandResult mismatch = run("--qtype int8 -sm use");
  EXPECT_TRUE(one_line_error(mismatch, "statistics collected with --cle, this run is without it")) << mismatch.output;
  const CommandResult match = run("--qtype int8 -sm use --cle");
  EXPECT_EQ(match.exit_code, 0) << match.output;
  ASSERT_EQ(run("-sm collect").exit_code, 0);  // overwrites: now without --cle
  const CommandResult other = run("--qtype int8 -sm use --cle");
  EXPECT_TRUE(one_line_error(other, "statistics collected without --cle, this run is with it")) << other.output;
}

TEST_F(CleCli, EmpiricalBiasCorrectionEndToEnd) {
  const CommandResult r = run("-qw int3 --qtype int8 --act-sites inputs --cle --bias-correction empirical "
                              "--bias-correction-samples 8 --calib-data " +
                              dir_ + "/calib");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("empirical bias correction of 2 layers"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("on 8 images"), std::string::npos) << r.output;
  const nlohmann::json record = last_result();
  EXPECT_EQ(record["config"]["bias_correction"], "empirical");
  EXPECT_EQ(record["config"]["bias_correction_samples"], 8);
  EXPECT_TRUE(record["times"].contains("bias_correction_s"));
}

TEST_F(CleCli, BadCombinationsGetOneLineErrors) {
  EXPECT_TRUE(one_line_error(run("-qw int4 --bias-correction empirical"), "give --calib-data"));
  EXPECT_TRUE(one_line_error(run("-qw int4 --bias-correction mean"), "--bias-correction"));
  EXPECT_TRUE(one_line_error(run("--bias-correction empirical --calib-data " + dir_ + "/calib"), "FP32 baseline"));
  EXPECT_TRUE(one_line_error(run("-qw int4 --bias-correction-samples 0"), "--bias-correction-samples"));
  // -sm collect measures no bias shift: the flag is ignored with a warning, and the statistics are written.
  const CommandResult collect = run("-sm collect --bias-correction empirical --calib-data " + dir_ + "/calib");
  EXPECT_EQ(collect.exit_code, 0) << collect.output;
  EXPECT_NE(collect.output.find("--bias-correction empirical"), std::string::npos) << collect.output;
  EXPECT_NE(collect.output.find("ignored"), std::string::npos) << collect.output;
}

// A sweep method with --cle collects and uses statistics of the equalised model, in a folder of their own.
TEST(CleSweep, CleMethodsGetTheirOwnStatistics) {
  const auto file = nlohmann::ordered_json::parse(R"({
    "models": [{"name": "net", "model": "net.pt", "data": "val", "calib_data": "/abs/calib"}],
    "weight_bits": [4], "act_bits": [8],
    "methods": {"rtn": ["-pcq_w"], "cle": ["-pcq_w", "--cle"],
                "cle_bc": ["--cle", "--bias-correction", "empirical"]}})");
  const quantsim::SweepPlan plan = quantsim::sweep_plan_from_json(file, "/sweeps", "s.json");
  ASSERT_EQ(plan.runs.size(), 4u);  // FP32 + 3 methods
  const quantsim::SweepRun& rtn = plan.runs[1];
  const quantsim::SweepRun& cle = plan.runs[2];
  const quantsim::SweepRun& cle_bc = plan.runs[3];
  ASSERT_TRUE(rtn.collect && cle.collect && cle_bc.collect);
  EXPECT_FALSE(rtn.collect->cross_layer_equalization);
  EXPECT_TRUE(cle.collect->cross_layer_equalization);
  EXPECT_NE(cle.collect->stats_dir, rtn.collect->stats_dir);
  EXPECT_EQ(cle.collect->stats_dir, cle.evaluation.stats_dir);
  EXPECT_EQ(cle_bc.collect->stats_dir, cle.collect->stats_dir);
  EXPECT_TRUE(cle_bc.evaluation.empirical_bias_correction);
  EXPECT_EQ(cle_bc.evaluation.calib_data, "/abs/calib");
}

TEST(CleMethodLabel, ReportRowsNameTheFlags) {
  nlohmann::json record = {{"precision", "W4A8"},
                           {"mode", "static"},
                           {"config", {{"qtype", "int8"}, {"pcq_w", true}, {"clipping", "no"}, {"cle", true}}}};
  EXPECT_EQ(quantsim::method_label(record), "W4A8 --cle -pcq_w -c no");
  record["config"]["bias_correction"] = "empirical";
  EXPECT_EQ(quantsim::method_label(record), "W4A8 --cle --bias-correction empirical -pcq_w -c no");
  record["config"]["cle"] = false;
  EXPECT_EQ(quantsim::method_label(record), "W4A8 --bias-correction empirical -pcq_w -c no");
}

}  // namespace
