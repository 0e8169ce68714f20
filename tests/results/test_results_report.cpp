// `quant-sim report`: the paper's table from a results file, as aligned text, CSV and Markdown.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/results/results_table.h"
#include "support/fixtures.h"
#include "support/subcommand_runner.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

nlohmann::json record(const std::string& model, const std::string& precision, double top1, nlohmann::json config) {
  config["act_sites"] = config.value("act_sites", "outputs");
  return {{"model_name", model}, {"precision", precision}, {"top1", top1}, {"mode", "static"}, {"config", config}};
}

const nlohmann::json kPaperConfig = {{"qtype", "int4"}, {"pcq_w", true}, {"pcq_a", true}, {"clipping", "laplace"},
                                     {"baa", true},     {"baw", true},   {"bcw", true}};

class Report : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir("report");
    std::ofstream out(dir_ + "/results.jsonl");
    out << record("resnet50", "FP32", 76.13, {{"qtype", "f32"}}).dump() << "\n"
        << record("resnet50", "W4A4", 10.0, kPaperConfig).dump() << "\n"
        << record("resnet50", "W4A4", 69.5, kPaperConfig).dump() << "\n"  // the last run wins
        << record("resnet50", "W8A8", 75.9, {{"qtype", "int8"}, {"clipping", "no"}, {"act_sites", "inputs"}}).dump()
        << "\n"
        << record("resnet50", "W4A4", 1.0, {{"qtype", "int4"}, {"clipping", "no"}, {"shard", "1/2"}}).dump() << "\n"
        << record("vgg16", "FP32", 71.59, {{"qtype", "f32"}}).dump() << "\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(Report, MarkdownTableLikeThePapers) {
  const CommandResult r = run_subcommand("report " + dir_ + "/results.jsonl --format markdown");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "| method | resnet50 (outputs) | resnet50 (inputs) | vgg16 |\n"
                      "|---|---:|---:|---:|\n"
                      "| FP32 | 76.13 | 76.13 | 71.59 |\n"
                      "| W4A4 -pcq_w -pcq_a -c laplace -baa -baw -bcw | 69.50 |  |  |\n"
                      "| W8A8 -c no |  | 75.90 |  |\n");
}

TEST_F(Report, CsvToAFile) {
  const CommandResult r = run_subcommand("report " + dir_ + "/results.jsonl --format csv --out " + dir_ + "/t.csv");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(dir_ + "/t.csv"), "method,resnet50 (outputs),resnet50 (inputs),vgg16\n"
                                        "FP32,76.13,76.13,71.59\n"
                                        "W4A4 -pcq_w -pcq_a -c laplace -baa -baw -bcw,69.50,,\n"
                                        "W8A8 -c no,,75.90,\n");
}

TEST_F(Report, AlignedTableByDefault) {
  const CommandResult r = run_subcommand("report " + dir_ + "/results.jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string label = "W4A4 -pcq_w -pcq_a -c laplace -baa -baw -bcw";
  EXPECT_EQ(r.output.substr(0, r.output.find('\n')),
            "method" + std::string(label.size() - 6, ' ') + "  resnet50 (outputs)  resnet50 (inputs)   vgg16");
  EXPECT_NE(r.output.find(label + "               69.50"), std::string::npos) << r.output;
}

TEST_F(Report, MalformedLineAndBadFormatAreNamed) {
  std::ofstream(dir_ + "/results.jsonl", std::ios::app) << "{oops\n";
  CommandResult r = run_subcommand("report " + dir_ + "/results.jsonl");
  EXPECT_EQ(r.exit_code, kExitUserError);
  EXPECT_NE(r.output.find(dir_ + "/results.jsonl:7"), std::string::npos) << r.output;
  r = run_subcommand("report " + dir_ + "/results.jsonl --format html");
  EXPECT_EQ(r.exit_code, kExitUserError);
  EXPECT_NE(r.output.find("--format"), std::string::npos) << r.output;
  r = run_subcommand("report");
  EXPECT_EQ(r.exit_code, kExitUserError);
}

TEST(MethodLabel, ClippingFollowsPerChannelActivations) {
  EXPECT_EQ(method_label(record("m", "W4A4", 0, kPaperConfig)), "W4A4 -pcq_w -pcq_a -c laplace -baa -baw -bcw");
  EXPECT_EQ(method_label(record("m", "W4A32", 0, {{"qtype", "f32"}, {"bcw", true}})), "W4A32 -bcw");
  nlohmann::json dynamic = record("m", "W8A8", 0, {{"qtype", "int8"}, {"clipping", "gaus"}, {"baa", true}});
  dynamic["mode"] = "dynamic";
  EXPECT_EQ(method_label(dynamic), "W8A8 -baa -c gaus [dynamic]");  // -c comes last without -pcq_a
  EXPECT_EQ(method_label(record("m", "FP32", 0, nlohmann::json::object())), "FP32");
}

}  // namespace
