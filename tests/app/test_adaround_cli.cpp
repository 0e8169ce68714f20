// --weight-method adaround: its flags (defaults, one-line errors, the results line's config), and end to end on the
// built-in default model (data/default/fashion_resnet.pt) with a few generated images: weights only with --export
// (the exported model computes what the run computed), with the activation flags, and deterministic for a seed.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "quantsim/app/cli.h"
#include "quantsim/app/config_json.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/results/results_table.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

Config parse(std::vector<std::string> args) { return parse_command_line(args).config; }

const std::vector<std::string> kAdaround = {"-qw", "int4", "--weight-method", "adaround", "--calib-data", "/tmp"};

std::vector<std::string> with_adaround(std::vector<std::string> extra) {
  extra.insert(extra.begin(), kAdaround.begin(), kAdaround.end());
  return extra;
}

TEST(AdaroundCli, DefaultsAreThePapersAndFlagsSetThem) {
  const Config defaults = parse(kAdaround);
  EXPECT_EQ(defaults.weight_method, WeightMethod::kAdaround);
  EXPECT_EQ(defaults.adaround_iters, 10000);
  EXPECT_DOUBLE_EQ(defaults.adaround_lambda, 0.01);
  EXPECT_DOUBLE_EQ(defaults.adaround_beta_start, 20.0);
  EXPECT_DOUBLE_EQ(defaults.adaround_beta_end, 2.0);
  EXPECT_DOUBLE_EQ(defaults.adaround_warmup, 0.2);
  EXPECT_DOUBLE_EQ(defaults.adaround_lr, 1e-3);
  EXPECT_EQ(defaults.adaround_batch, 32);
  EXPECT_EQ(defaults.adaround_samples, 1024);
  EXPECT_DOUBLE_EQ(defaults.adaround_patch_prob, 0.25);
  const Config set = parse(with_adaround({"--adaround-iters",
                                          "500",
                                          "--adaround-lambda",
                                          "0.1",
                                          "--adaround-beta",
                                          "10:3",
                                          "--adaround-warmup",
                                          "0",
                                          "--adaround-lr",
                                          "0.01",
                                          "--adaround-batch",
                                          "8",
                                          "--adaround-samples",
                                          "64",
                                          "--adaround-patch-prob",
                                          "1",
                                          "-pcq_w",
                                          "-baw",
                                          "--clip-weights",
                                          "-c",
                                          "laplace",
                                          "-bcw",
                                          "-vcw",
                                          "--qtype",
                                          "int8"}));
  EXPECT_EQ(set.adaround_iters, 500);
  EXPECT_DOUBLE_EQ(set.adaround_lambda, 0.1);
  EXPECT_DOUBLE_EQ(set.adaround_beta_start, 10.0);
  EXPECT_DOUBLE_EQ(set.adaround_beta_end, 3.0);
  EXPECT_DOUBLE_EQ(set.adaround_warmup, 0.0);
  EXPECT_DOUBLE_EQ(set.adaround_lr, 0.01);
  EXPECT_EQ(set.adaround_batch, 8);
  EXPECT_EQ(set.adaround_samples, 64);
  EXPECT_DOUBLE_EQ(set.adaround_patch_prob, 1.0);
}

TEST(AdaroundCli, BadValuesAndCombinationsGetOneLineErrorsNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-qw", "int4", "--weight-method", "adaround"}, "--calib-data"},
      {{"--weight-method", "adaround", "--calib-data", "/tmp"}, "-qw intN"},
      {{"--qtype", "int8", "-qw", "f32", "--weight-method", "adaround", "--calib-data", "/tmp"}, "-qw intN"},
      {with_adaround({"--adaround-iters", "0"}), "--adaround-iters"},
      {with_adaround({"--adaround-iters", "many"}), "many"},
      {with_adaround({"--adaround-lambda", "-1"}), "--adaround-lambda"},
      {with_adaround({"--adaround-beta", "20"}), "--adaround-beta"},
      {with_adaround({"--adaround-beta", "20:x"}), "--adaround-beta"},
      {with_adaround({"--adaround-beta", "0:2"}), "--adaround-beta"},
      {with_adaround({"--adaround-beta", "20:-2"}), "--adaround-beta"},
      {with_adaround({"--adaround-warmup", "1"}), "--adaround-warmup"},
      {with_adaround({"--adaround-warmup", "-0.1"}), "--adaround-warmup"},
      {with_adaround({"--adaround-lr", "0"}), "--adaround-lr"},
      {with_adaround({"--adaround-batch", "0"}), "--adaround-batch"},
      {with_adaround({"--adaround-samples", "0"}), "--adaround-samples"},
      {with_adaround({"--adaround-patch-prob", "0"}), "--adaround-patch-prob"},
      {with_adaround({"--adaround-patch-prob", "1.5"}), "--adaround-patch-prob"},
      {{"-qw", "int4", "--adaround-iters", "10"}, "--adaround-iters"},  // without --weight-method adaround
      {{"-qw", "int4", "--weight-method", "gpfq", "--adaround-lambda", "1"}, "--adaround-lambda"},
  };
  for (const auto& [args, needle] : cases) {
    try {
      parse(args);
      ADD_FAILURE() << "accepted: " << ::testing::PrintToString(args);
    } catch (const UserError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(needle), std::string::npos) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  }
}

TEST(AdaroundCli, ResultsConfigRecordsTheSettingsAndTheReportRowNamesTheMethod) {
  const nlohmann::json config =
      config_to_json(parse(with_adaround({"--adaround-iters", "300", "--adaround-beta", "16:4"})));
  EXPECT_EQ(config.at("weight_method"), "adaround");
  EXPECT_EQ(config.at("adaround_iters"), 300);
  EXPECT_EQ(config.at("adaround_beta"), nlohmann::json::array({16.0, 4.0}));
  EXPECT_DOUBLE_EQ(config.at("adaround_lambda").get<double>(), 0.01);
  EXPECT_DOUBLE_EQ(config.at("adaround_warmup").get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(config.at("adaround_lr").get<double>(), 1e-3);
  EXPECT_EQ(config.at("adaround_batch"), 32);
  EXPECT_EQ(config.at("adaround_samples"), 1024);
  EXPECT_DOUBLE_EQ(config.at("adaround_patch_prob").get<double>(), 0.25);
  const nlohmann::json line = {{"precision", "W4A32"}, {"mode", "dynamic"}, {"config", config}};
  EXPECT_EQ(method_label(line), "W4A32 --weight-method adaround");
}

class AdaroundRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    const std::vector<std::string> classes = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"};
    make_image_folder(dir_ + "/data", classes, 2);
    make_image_folder(dir_ + "/calib", classes, 2, /*seed=*/1);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string args(const std::string& extra, const std::string& model = kDefaultModel) const {
    return "--model " + model + " --data " + dir_ + "/data --results " + dir_ +
           "/results.jsonl -b 8 -j 1 --device cpu " + extra;
  }
  std::string adaround_args(const std::string& extra) const {
    return args("--weight-method adaround --calib-data " + dir_ +
                "/calib --adaround-samples 12 --adaround-iters 60 --adaround-batch 4 " + extra);
  }
  nlohmann::json last_result() const {
    std::ifstream in(dir_ + "/results.jsonl");
    std::string line, last;
    while (std::getline(in, line)) last = line;
    return nlohmann::json::parse(last);
  }

  static inline const std::string kDefaultModel = std::string(QUANTSIM_SOURCE_DIR) + "/data/default/fashion_resnet.pt";
  std::string dir_;
};

TEST_F(AdaroundRun, WeightsOnlyRunExportsWhatItComputedAndRecordsTheMethod) {
  const std::string exported = dir_ + "/w4.pt";
  const CommandResult r =
      run_quant_sim(adaround_args("-sm no -qw int4 -pcq_w --export " + exported + " --save-logits " + dir_ + "/q.npy"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("AdaRound weights of"), std::string::npos) << r.output;
  const nlohmann::json result = last_result();
  EXPECT_EQ(result.at("images"), 20);
  EXPECT_EQ(result.at("config").at("weight_method"), "adaround");
  EXPECT_EQ(result.at("config").at("adaround_iters"), 60);
  EXPECT_EQ(result.at("config").at("adaround_samples"), 12);
  ASSERT_EQ(run_quant_sim(args("--save-logits " + dir_ + "/r.npy", exported)).exit_code, 0);
  EXPECT_EQ(read_file(dir_ + "/r.npy"), read_file(dir_ + "/q.npy"));
  ASSERT_EQ(run_quant_sim(args("-qw int4 -pcq_w --save-logits " + dir_ + "/rtn.npy")).exit_code, 0);
  EXPECT_NE(read_file(dir_ + "/q.npy"), read_file(dir_ + "/rtn.npy")) << "AdaRound changed no rounding";
}

TEST_F(AdaroundRun, IsDeterministicForASeed) {
  ASSERT_EQ(run_quant_sim(adaround_args("-qw int3 --save-logits " + dir_ + "/a.npy")).exit_code, 0);
  ASSERT_EQ(run_quant_sim(adaround_args("-qw int3 --save-logits " + dir_ + "/b.npy")).exit_code, 0);
  EXPECT_EQ(read_file(dir_ + "/a.npy"), read_file(dir_ + "/b.npy"));
}

TEST_F(AdaroundRun, CombinesWithActivationFlagsCorrectionsAndFirstLastBits) {
  for (const std::string extra :
       {"--qtype int8 -qw int4 -sm no --first-last-bits f32",
        "--qtype int4 -qw int4 -sm no --act-sites inputs -pcq_w -pcq_a -c laplace --clip-weights -baw -bcw -vcw"}) {
    const CommandResult r = run_quant_sim(adaround_args(extra));
    ASSERT_EQ(r.exit_code, 0) << extra << "\n" << r.output;
    EXPECT_TRUE(std::isfinite(last_result().at("top1").get<double>())) << extra;
  }
}

TEST_F(AdaroundRun, MissingCalibrationDataIsAOneLineError) {
  const CommandResult r = run_quant_sim(args("-qw int4 --weight-method adaround"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("quant-sim: error: flag --weight-method adaround: needs --calib-data"), std::string::npos)
      << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

}  // namespace
