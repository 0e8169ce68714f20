// `quant-sim inspect`: the layers, sites and float ops of a small CNN as text and as JSON (checked against
// PreparedModel itself), one mode only, and bad input (a missing file, a refused op, a bad flag) as one line, exit 2.
#include <gtest/gtest.h>

#include <torch/script.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantsim/graph/prepared_model.h"
#include "support/fixtures.h"
#include "support/subcommand_runner.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

class InspectCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    model_ = dir_ + "/small.pt";
    save_small_cnn(model_, 5);  // conv -> relu -> conv -> max_pool2d -> mean
  }
  void TearDown() override { fs::remove_all(dir_); }

  nlohmann::json inspect_json(const std::string& extra = "") const {
    const CommandResult r = run_subcommand("inspect " + model_ + " --json" + extra);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return nlohmann::json::parse(r.output);
  }

  std::string dir_;
  std::string model_;
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(InspectCommand, TextListsLayersSitesAndFloatOps) {
  const CommandResult r = run_subcommand("inspect " + model_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string& out = r.output;
  EXPECT_EQ(out.substr(0, out.find('\n')),
            model_ + ": 2 quantized layers (2 conv, 0 linear); sites: 3 in paper mode, 2 in deploy mode; "
                     "3 ops left in float");
  for (const std::string line :
       {"quantized layers (conv/linear), in execution order: 2\n",
        "  0      conv2d_0  aten::conv2d  conv  [8, 3, 3, 3]  1       first\n",
        "  1      conv2d_1  aten::conv2d  conv  [5, 8, 3, 3]  1       last\n",
        "sites, paper mode (--act-sites outputs): 3\n", "sites, deploy mode (--act-sites inputs): 2\n",
        "ops left in float: 3 (aten::relu x 1, aten::max_pool2d x 1, aten::mean x 1)\n"}) {
    EXPECT_TRUE(contains(out, line)) << line << "\n" << out;
  }
  // The paper-mode site of the first conv is quantized after its ReLU; the deploy-mode site that feeds the second
  // conv is the ReLU's output. Both are unsigned.
  EXPECT_TRUE(contains(out, "  0   conv2d_0      layer_output  unsigned  aten::conv2d + aten::relu  conv2d_0\n"))
      << out;
  EXPECT_TRUE(contains(out, "  1   relu_0  layer_input  unsigned  aten::relu  conv2d_1  yes\n")) << out;
  EXPECT_TRUE(contains(out, "  aten::max_pool2d  (top level)\n")) << out;
}

TEST_F(InspectCommand, JsonCountsTheSmallCnn) {
  const nlohmann::json j = inspect_json();
  EXPECT_EQ(j["model"], model_);
  EXPECT_EQ(j["summary"], nlohmann::json::parse(
                              R"({"layers": 2, "conv": 2, "linear": 0, "sites": {"outputs": 3, "inputs": 2},
                                  "float_ops": 3})"));
  ASSERT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["layers"][0]["weight_shape"], (std::vector<int64_t>{8, 3, 3, 3}));
  EXPECT_TRUE(j["layers"][0]["first"]);
  EXPECT_TRUE(j["layers"][1]["last"]);
  EXPECT_EQ(j["layers"][1]["kind"], "conv");

  const nlohmann::json& paper = j["sites"]["outputs"];
  ASSERT_EQ(paper.size(), 3u);
  EXPECT_TRUE(paper[0]["unsigned"]);
  EXPECT_EQ(paper[0]["activation"], "aten::relu");
  EXPECT_EQ(paper[0]["layer_names"], (std::vector<std::string>{"conv2d_0"}));
  const nlohmann::json& deploy = j["sites"]["inputs"];
  ASSERT_EQ(deploy.size(), 2u);
  EXPECT_FALSE(deploy[0]["unsigned"]);  // the image
  EXPECT_EQ(deploy[1]["producer"], "aten::relu");
  EXPECT_TRUE(deploy[1]["unsigned"]);
  EXPECT_EQ(deploy[1]["layers"], (std::vector<int64_t>{1}));

  std::set<std::string> ops;
  for (const auto& op : j["float_ops"]) ops.insert(op["op"].get<std::string>());
  EXPECT_EQ(ops, (std::set<std::string>{"aten::relu", "aten::max_pool2d", "aten::mean"}));
  EXPECT_EQ(j["float_op_counts"][0], nlohmann::json::parse(R"({"op": "aten::relu", "count": 1})"));
}

// The document says what PreparedModel says, site by site and op by op.
TEST_F(InspectCommand, JsonAgreesWithThePreparedModel) {
  const nlohmann::json j = inspect_json();
  for (ActSites mode : {ActSites::kOutputs, ActSites::kInputs}) {
    PrepareOptions options;
    options.act_sites = mode;
    const PreparedModel model = PreparedModel::load(model_, options);
    const nlohmann::json& sites = j["sites"][to_string(mode)];
    ASSERT_EQ(sites.size(), model.sites().size());
    for (const Site& site : model.sites()) {
      EXPECT_EQ(sites[site.id]["name"], site.name);
      EXPECT_EQ(sites[site.id]["kind"], to_string(site.kind));
      EXPECT_EQ(sites[site.id]["unsigned"], site.is_unsigned);
      EXPECT_EQ(sites[site.id]["first_last"], site.first_last);
      EXPECT_EQ(sites[site.id]["layers"], site.layers);
    }
    ASSERT_EQ(j["float_ops"].size(), model.float_ops().size());
    for (size_t i = 0; i < model.float_ops().size(); ++i) {
      EXPECT_EQ(j["float_ops"][i]["op"], model.float_ops()[i].op);
      EXPECT_EQ(j["float_ops"][i]["module_path"], model.float_ops()[i].module_path);
    }
  }
}

TEST_F(InspectCommand, OneModeListsOnlyItsSites) {
  const nlohmann::json j = inspect_json(" --act-sites inputs");
  EXPECT_EQ(j["summary"]["sites"], nlohmann::json::parse(R"({"inputs": 2})"));
  EXPECT_FALSE(j["sites"].contains("outputs"));
  const CommandResult text = run_subcommand("inspect " + model_ + " --act-sites outputs");
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_TRUE(contains(text.output, "sites: 3 in paper mode;")) << text.output;
  EXPECT_FALSE(contains(text.output, "deploy mode")) << text.output;
}

TEST_F(InspectCommand, MissingModelIsOneLineNamingIt) {
  const CommandResult r = run_subcommand("inspect " + dir_ + "/nope.pt --json");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, "quant-sim: error: model file not found: " + dir_ + "/nope.pt\n");
}

TEST_F(InspectCommand, RefusedOpIsOneLineNamingTheOp) {
  torch::jit::Module module("Matmul");  // a product of two activations: no quantizer would see either operand
  module.define("def forward(self, x):\n    return torch.mean(torch.matmul(x, x.transpose(2, 3)), [2, 3])\n");
  module.save(dir_ + "/matmul.pt");
  const CommandResult r = run_subcommand("inspect " + dir_ + "/matmul.pt");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "aten::matmul")) << r.output;
  EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << r.output;
}

TEST_F(InspectCommand, BadFlagsAreOneLineNamingTheFlag) {
  const CommandResult bad_mode = run_subcommand("inspect " + model_ + " --act-sites middle");
  EXPECT_EQ(bad_mode.exit_code, 2);
  EXPECT_EQ(bad_mode.output,
            "quant-sim: error: quant-sim inspect: flag --act-sites: 'middle' is not one of outputs, inputs, both\n");
  const CommandResult unknown = run_subcommand("inspect " + model_ + " --bogus");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_TRUE(contains(unknown.output, "quant-sim inspect: bad command line")) << unknown.output;
  EXPECT_TRUE(contains(unknown.output, "bogus")) << unknown.output;
  const CommandResult no_model = run_subcommand("inspect --json");
  EXPECT_EQ(no_model.exit_code, 2);
  EXPECT_EQ(no_model.output, "quant-sim: error: quant-sim inspect: missing model (see quant-sim inspect --help)\n");
}

TEST_F(InspectCommand, HelpNamesTheFlagsAndExitStatuses) {
  const CommandResult r = run_subcommand("inspect --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const std::string part : {"quant-sim inspect MODEL [--act-sites outputs|inputs|both] [--json]", "--act-sites",
                                 "--json", "Exit status:", "  2  bad input"}) {
    EXPECT_TRUE(contains(r.output, part)) << part << "\n" << r.output;
  }
}

}  // namespace
