// --arith int and --arith-report from the command line (docs/QUANTIZATION.md, section 16; docs/CLI.md): every
// refusal in one line naming what makes the integer path impossible, a run on a small residual CNN with its results
// line and gap report, and the readers of such lines (report, merge).
#include <gtest/gtest.h>
#include <torch/script.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "quantsim/app/sweep/sweep_plan.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/results/result_record.h"
#include "quantsim/results/results_file.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"
#include "support/subcommand_runner.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

// conv -> relu -> conv -> residual add -> relu -> max pool -> global average pool -> flatten -> linear: ops that all
// have an integer form. `dead`: the first conv's bias is so negative that its ReLU output is always 0 (an empty
// range at the second conv's input).
void save_residual_cnn(const std::string& path, int classes, bool dead = false) {
  torch::manual_seed(7);
  torch::jit::Module module("ResidualCnn");
  module.register_parameter("w1", torch::randn({8, 3, 3, 3}) * 0.3, false);
  module.register_parameter("b1", dead ? torch::full({8}, -1000.0) : torch::randn({8}) * 0.1, false);
  module.register_parameter("w2", torch::randn({8, 8, 3, 3}) * 0.2, false);
  module.register_parameter("b2", torch::randn({8}) * 0.1, false);
  module.register_parameter("w3", torch::randn({classes, 8}) * 0.5, false);
  module.register_parameter("b3", torch::randn({classes}) * 0.1, false);
  module.define(R"(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]))
    z = torch.conv2d(y, self.w2, self.b2, [1, 1], [1, 1])
    y = torch.relu(y + z)
    y = torch.max_pool2d(y, [2, 2])
    y = torch.adaptive_avg_pool2d(y, [1, 1])
    y = torch.flatten(y, 1)
    return torch.linear(y, self.w3, self.b3)
)");
  module.save(path);
}

class ArithCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(std::string("arith_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    save_residual_cnn(dir_ + "/cnn.pt", 4);
    make_image_folder(dir_ + "/data", {"a", "b", "c", "d"}, 6);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CommandResult run(const std::string& args, const std::string& model = "cnn.pt") const {
    return run_quant_sim("--model " + dir_ + "/" + model + " --data " + dir_ + "/data --resize 0 --crop 0 -b 5 " +
                         "--stats-dir " + dir_ + "/stats --results " + dir_ + "/results.jsonl " + args);
  }
  void collect(const std::string& model = "cnn.pt") const {
    const CommandResult r = run("-sm collect --act-sites inputs", model);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  nlohmann::json last_result(const std::string& name = "results.jsonl") const {
    std::ifstream in(dir_ + "/" + name);
    std::string line, last;
    while (std::getline(in, line)) last = line;
    return nlohmann::json::parse(last);
  }

  std::string dir_;
};

// Exit 2 and one line, "quant-sim: error: ..." holding `needle`.
::testing::AssertionResult one_line_error(const CommandResult& r, const std::string& needle) {
  const std::string& out = r.output;
  if (r.exit_code != 2 || out.empty() || out.back() != '\n' || out.find('\n') != out.size() - 1 ||
      out.find("error: ") == std::string::npos || out.find(needle) == std::string::npos) {
    return ::testing::AssertionFailure() << "exit " << r.exit_code << ", expected one line with '" << needle
                                         << "': " << out;
  }
  return ::testing::AssertionSuccess();
}

const std::string kDeploy = "--act-sites inputs -sm use --qtype int8 -qw int8 ";

TEST_F(ArithCli, FlagValuesAndReportFileRefused) {
  EXPECT_TRUE(one_line_error(run("--arith integer"), "flag --arith: 'integer' is not one of float, int"));
  EXPECT_TRUE(one_line_error(run(kDeploy + "--arith-report r.csv"), "flag --arith-report"));
  EXPECT_TRUE(one_line_error(run(kDeploy + "--arith-report r.csv"), "give --arith int"));
  EXPECT_TRUE(one_line_error(run(kDeploy + "--arith int --arith-report r.txt"), "does not end in .csv or .json"));
  EXPECT_TRUE(one_line_error(run("-sm collect --act-sites inputs --arith int --arith-report " + dir_ + "/r.csv"),
                             "-sm collect evaluates nothing"));
}

TEST_F(ArithCli, ConfigurationsWithoutIntegerFormRefused) {
  EXPECT_TRUE(one_line_error(run("--arith int"), "activations are float"));  // the FP32 baseline
  EXPECT_TRUE(one_line_error(run("-qw int8 --arith int"), "activations are float"));
  EXPECT_TRUE(one_line_error(run("--qtype int8 -qw f32 --arith int"), "weights are float (-qw f32)"));
  EXPECT_TRUE(one_line_error(run("--qtype int8 --act-sites inputs --arith int"), "-sm no computes each batch's"));
  EXPECT_TRUE(one_line_error(run(kDeploy + "-pcq_a -baa --arith int"), "flags --arith int and -baa do not combine"));
  EXPECT_TRUE(one_line_error(run(kDeploy + "--stability 2 --arith int"), "--stability do not combine"));
  EXPECT_TRUE(
      one_line_error(run(kDeploy + "--layer-report " + dir_ + "/l.csv --arith int"), "--layer-report do not combine"));
}

TEST_F(ArithCli, ModelDependentRefusalsNameTheLayerOrSite) {
  collect();
  // Paper mode: refused before its statistics are looked for (none were collected for it).
  EXPECT_TRUE(one_line_error(run("-sm use --qtype int8 -qw int8 --arith int"),
                             "--arith int needs --act-sites inputs: in paper mode (--act-sites outputs) the input of "
                             "layer 'conv2d_0' stays float"));
  const CommandResult per_channel = run(kDeploy + "-pcq_a --arith int");
  EXPECT_TRUE(one_line_error(per_channel, "gets a scale per channel (-pcq_a)"));
  EXPECT_TRUE(one_line_error(per_channel, "site 'input'"));  // the image is the first site
  for (const char* correction : {"-bcw", "-vcw"}) {
    EXPECT_TRUE(
        one_line_error(run("--act-sites inputs -sm use --qtype int8 -qw int3 --arith int " + std::string(correction)),
                       "layer 'conv2d_0' computes with weights off their integer grid"));
  }
  EXPECT_TRUE(
      one_line_error(run(kDeploy + "--first-last-bits f32 --arith int"), "layer 'conv2d_0' keeps float weights"));
}

TEST_F(ArithCli, EmptyRangeNamesTheSite) {
  save_residual_cnn(dir_ + "/dead.pt", 4, /*dead=*/true);
  collect("dead.pt");
  const CommandResult r = run(kDeploy + "--arith int", "dead.pt");
  EXPECT_TRUE(one_line_error(r, "--arith int: site '")) << r.output;
  EXPECT_NE(r.output.find("empty"), std::string::npos) << r.output;
}

TEST_F(ArithCli, IntegerRunRecordsBothPathsAndTheGap) {
  collect();
  const CommandResult r = run(kDeploy + "-pcq_w --arith int --arith-report " + dir_ + "/gap.csv");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("integer arithmetic"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("float path on the same images: top-1"), std::string::npos) << r.output;
  const nlohmann::json line = last_result();
  EXPECT_EQ(line["arith"], "int");
  EXPECT_EQ(line["config"]["arith"], "int");
  EXPECT_EQ(line["images"], 24);
  ASSERT_TRUE(line.contains("float_top1") && line.contains("float_top1_correct")) << line.dump();
  EXPECT_LE(line["float_top1_correct"].get<int64_t>(), 24);
  const nlohmann::json& gap = line["arith_gap"];
  EXPECT_GT(gap["codes_compared"].get<int64_t>(), 0);
  EXPECT_LE(gap["codes_differing"].get<int64_t>(), gap["codes_compared"].get<int64_t>());
  EXPECT_LE(gap["top1_differs"].get<int64_t>(), 24);
  EXPECT_TRUE(line["times"].contains("integer_forward_s"));
  // The line reads back through the checks every reader applies.
  EXPECT_NO_THROW(ResultRecord::from_json(line, "results.jsonl:1"));

  // One row per site the integer path reached, in graph order, then the logits; shares in [0, 1].
  std::istringstream csv(read_file(dir_ + "/gap.csv"));
  std::string header, row;
  std::getline(csv, header);
  EXPECT_EQ(header.substr(0, 38), "tensor,kind,elements,differing_share,m");
  std::vector<std::string> rows;
  while (std::getline(csv, row)) rows.push_back(row);
  ASSERT_EQ(rows.size(), 4u);  // input, the ReLU output (second conv's input), the pooled features, logits
  EXPECT_EQ(rows.front().substr(0, 11), "input,site,");
  EXPECT_EQ(rows.back().substr(0, 14), "logits,logits,");
  int64_t compared = 0;
  for (const std::string& text : rows) {
    std::vector<std::string> cells;
    std::stringstream fields(text);
    for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
    const double share = std::stod(cells.at(3));
    EXPECT_GE(share, 0.0);
    EXPECT_LE(share, 1.0);
    if (cells.at(1) == "site") compared += std::stoll(cells.at(2));
  }
  EXPECT_EQ(compared, gap["codes_compared"].get<int64_t>());

  // JSON form, same rows.
  const CommandResult json_run = run(kDeploy + "-pcq_w --arith int --arith-report " + dir_ + "/gap.json");
  ASSERT_EQ(json_run.exit_code, 0) << json_run.output;
  const nlohmann::json report = nlohmann::json::parse(read_file(dir_ + "/gap.json"));
  ASSERT_EQ(report["tensors"].size(), 4u);
  EXPECT_EQ(report["images"], 24);
  for (const nlohmann::json& tensor : report["tensors"]) {
    EXPECT_GE(tensor["differing_share"].get<double>(), 0.0);
    EXPECT_LE(tensor["differing_share"].get<double>(), 1.0);
  }
}

TEST_F(ArithCli, ReportShowsIntegerRunsApartAndMergeSumsTheFloatPath) {
  collect();
  ASSERT_EQ(run(kDeploy + "-pcq_w").exit_code, 0);
  ASSERT_EQ(run(kDeploy + "-pcq_w --arith int").exit_code, 0);
  const nlohmann::json whole = last_result();
  const CommandResult report = run_subcommand("report " + dir_ + "/results.jsonl --arith");
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_NE(report.output.find("W8A8 -pcq_w -c no --arith int"), std::string::npos) << report.output;
  EXPECT_NE(report.output.find("(float "), std::string::npos) << report.output;

  for (const char* shard : {"1/2", "2/2"}) {
    const CommandResult r = run(kDeploy + "-pcq_w --arith int --results " + dir_ + "/shards.jsonl --shard " + shard);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const CommandResult merge = run_subcommand("merge " + dir_ + "/shards.jsonl --out " + dir_ + "/merged.jsonl");
  ASSERT_EQ(merge.exit_code, 0) << merge.output;
  const nlohmann::json merged = last_result("merged.jsonl");
  EXPECT_EQ(merged["arith"], "int");
  EXPECT_EQ(merged["top1_correct"], whole["top1_correct"]);
  EXPECT_EQ(merged["float_top1_correct"], whole["float_top1_correct"]);
  EXPECT_EQ(merged["float_top5_correct"], whole["float_top5_correct"]);
  EXPECT_EQ(merged["float_top1"], whole["float_top1"]);
  EXPECT_EQ(merged["arith_gap"]["codes_compared"], whole["arith_gap"]["codes_compared"]);
  EXPECT_EQ(merged["arith_gap"]["top1_differs"], whole["arith_gap"]["top1_differs"]);
}

TEST_F(ArithCli, ExportAddsTheIntegerParameters) {
  collect();
  const CommandResult r = run(kDeploy + "-pcq_w --arith int --export " + dir_ + "/out/cnn_int.pt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("integer parameters in"), std::string::npos) << r.output;
  const nlohmann::json index = nlohmann::json::parse(read_file(dir_ + "/out/cnn_int.qweights.json"));
  ASSERT_TRUE(index.contains("integer")) << index.dump().substr(0, 400);
  EXPECT_EQ(index["integer"]["arithmetic"], "int");
  ASSERT_EQ(index["layers"].size(), 3u);
  for (const nlohmann::json& layer : index["layers"]) {
    ASSERT_TRUE(layer.contains("integer")) << layer.dump().substr(0, 400);
    EXPECT_EQ(layer["integer"]["bias_int32"].size(), layer["integer"]["weight_scale"].size());
  }
}

TEST(ArithSweep, MethodFlagListsCarryArith) {
  const nlohmann::ordered_json file = nlohmann::ordered_json::parse(R"({
    "models": [{"name": "net", "model": "net.pt", "data": "val"}], "fp32": false,
    "weight_bits": [8], "act_bits": [8],
    "methods": {"deploy": ["--act-sites", "inputs", "-pcq_w"],
                "deploy_int": ["--act-sites", "inputs", "-pcq_w", "--arith", "int"]}})");
  const SweepPlan plan = sweep_plan_from_json(file, "/sweeps", "s.json");
  ASSERT_EQ(plan.runs.size(), 2u);
  EXPECT_EQ(plan.runs[0].evaluation.arith, ArithChoice::kFloat);
  EXPECT_EQ(plan.runs[1].evaluation.arith, ArithChoice::kInt);
  ASSERT_TRUE(plan.runs[1].collect);
  EXPECT_EQ(plan.runs[1].collect->act_sites, ActSites::kInputs);
  // A method whose flags make the integer path impossible is refused when the plan is made, naming the method.
  nlohmann::ordered_json dynamic = file;
  dynamic["methods"]["deploy_int"].push_back("-sm");
  dynamic["methods"]["deploy_int"].push_back("no");
  try {
    sweep_plan_from_json(dynamic, "/sweeps", "s.json");
    ADD_FAILURE() << "-sm no with --arith int was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("-sm no"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("deploy_int"), std::string::npos) << e.what();
  }
}

TEST(ArithResultRecord, ImpossibleFieldsRefused) {
  const nlohmann::json base = {{"model_name", "m"},  {"precision", "W8A8"},    {"top1", 50.0},
                               {"top1_correct", 5},  {"images", 10},           {"config", nlohmann::json::object()},
                               {"arith", "int"},     {"float_top1", 60.0},     {"float_top1_correct", 6},
                               {"float_top5", 90.0}, {"float_top5_correct", 9}};
  EXPECT_NO_THROW(ResultRecord::from_json(base, "f:1"));
  const ResultRecord record = ResultRecord::from_json(base, "f:1");
  EXPECT_EQ(record.arith, "int");
  EXPECT_EQ(ResultRecord::from_json(record.to_json(), "f:1").float_top1_correct, 6);
  const auto refused = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json line = base;
    line[key] = value;
    try {
      ResultRecord::from_json(line, "f:1");
    } catch (const UserError&) {
      return true;
    }
    return false;
  };
  EXPECT_TRUE(refused("arith", "integer"));
  EXPECT_TRUE(refused("float_top1_correct", 11));              // more than images
  EXPECT_TRUE(refused("float_top1", 61.0));                    // not its count's percentage
  EXPECT_TRUE(refused("float_top5_correct", 4));               // fewer than top-1 hits
  EXPECT_TRUE(refused("arith_gap", {{"codes_compared", 3}}));  // counts missing
  EXPECT_TRUE(refused("arith_gap", {{"codes_compared", 3},
                                    {"codes_differing", 4},
                                    {"max_step_difference", 1},
                                    {"top1_differs", 0}}));  // more differing than compared
  nlohmann::json float_line = base;
  float_line.erase("arith");
  EXPECT_THROW(ResultRecord::from_json(float_line, "f:1"), UserError);  // float_top1 without arith int
}

}  // namespace
