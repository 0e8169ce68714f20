// quant-sim on a model that returns a tuple (a feature map, then the logits): FP32 and W8A8 (-sm collect, -sm use)
// runs evaluate its logits as those of the same model returning the logits alone, --output chooses the element and
// is recorded in the results line, the --export file returns just the logits, and bad choices are one-line errors.
#include <gtest/gtest.h>

#include <torch/script.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "quantsim/core/atomic_file.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim::testing;

namespace {

// conv 3->8 (3x3, pad 1) -> relu = features; conv 8->4 (3x3) -> mean over H, W = logits [N, 4]; forward returns
// `returned`. Same seed, same weights: the models differ only in what they return.
std::string save_model(const std::string& path, const std::string& returned) {
  torch::manual_seed(0);
  torch::jit::Module module("TupleNet");
  module.register_parameter("w1", torch::randn({8, 3, 3, 3}) * 0.3, false);
  module.register_parameter("b1", torch::randn({8}) * 0.1, false);
  module.register_parameter("w2", torch::randn({4, 8, 3, 3}) * 0.2, false);
  module.register_parameter("b2", torch::randn({4}) * 0.1, false);
  module.define("def forward(self, x):\n"
                "    features = torch.relu(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]))\n"
                "    logits = torch.mean(torch.conv2d(features, self.w2, self.b2), [2, 3])\n"
                "    return " +
                returned + "\n");
  module.save(path);
  return path;
}

class ModelOutputCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    data_ = dir_ + "/data";
    make_image_folder(data_, {"a", "b", "c", "d"}, 3);
    tuple_ = save_model(dir_ + "/tuple.pt", "(features, logits)");
    plain_ = save_model(dir_ + "/plain.pt", "logits");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string args(const std::string& model, const std::string& extra) const {
    return "--model " + model + " --data " + data_ + " --results " + dir_ + "/results.jsonl --stats-dir " + dir_ +
           "/stats -b 4 -j 1 --device cpu --resize 0 --crop 0 " + extra;
  }

  // Runs quant-sim, expecting success; returns the bytes of the --save-logits file it wrote.
  std::string logits_of(const std::string& model, const std::string& extra, const std::string& name) const {
    const std::string npy = dir_ + "/" + name + ".npy";
    const CommandResult r = run_quant_sim(args(model, extra + " --save-logits " + npy));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return fs::exists(npy) ? quantsim::read_file(npy) : "";
  }

  nlohmann::json last_config() const {
    std::ifstream in(dir_ + "/results.jsonl");
    std::string line, last;
    while (std::getline(in, line)) last = line;
    return nlohmann::json::parse(last).at("config");
  }

  static void expect_one_line_error(const CommandResult& r, const std::vector<std::string>& needles) {
    EXPECT_EQ(r.exit_code, 2) << r.output;
    const size_t error = r.output.find("quant-sim: error: ");
    ASSERT_NE(error, std::string::npos) << r.output;
    EXPECT_EQ(r.output.find('\n', error), r.output.size() - 1) << r.output;
    for (const std::string& needle : needles) EXPECT_NE(r.output.find(needle, error), std::string::npos) << r.output;
  }

  std::string dir_, data_, tuple_, plain_;
};

TEST_F(ModelOutputCli, Fp32TakesTheFirstTwoDimensionalElementOrTheChosenOne) {
  const std::string plain = logits_of(plain_, "", "plain");
  ASSERT_FALSE(plain.empty());
  EXPECT_EQ(logits_of(tuple_, "", "default"), plain);
  EXPECT_FALSE(last_config().contains("output")) << "recorded only when given";
  EXPECT_EQ(logits_of(tuple_, "--output 1", "chosen"), plain);
  EXPECT_EQ(last_config().at("output"), "1");
}

TEST_F(ModelOutputCli, QuantizedCollectUseAndExportOfATupleModel) {
  const std::string w8a8 = "--qtype int8 -qw int8";
  for (const std::string& model : {plain_, tuple_}) {
    const CommandResult collect = run_quant_sim(args(model, w8a8 + " -sm collect"));
    ASSERT_EQ(collect.exit_code, 0) << collect.output;
  }
  const std::string plain = logits_of(plain_, w8a8 + " -sm use", "plain_w8a8");
  ASSERT_FALSE(plain.empty());
  const std::string exported = dir_ + "/exported.pt";
  const std::string quantized = logits_of(tuple_, w8a8 + " -sm use --export " + exported, "tuple_w8a8");
  EXPECT_EQ(quantized, plain);  // same weights, same statistics: the tuple changes nothing
  EXPECT_NE(quantized, logits_of(plain_, "", "fp32")) << "the run did quantize";

  // The export returns just the logits: a plain classifier, no --output needed, the same logits as the run.
  torch::jit::Module module = torch::jit::load(exported);
  EXPECT_TRUE(module.forward({torch::rand({1, 3, 16, 16})}).isTensor());
  EXPECT_EQ(logits_of(exported, "", "exported"), quantized);
}

TEST_F(ModelOutputCli, BadChoicesAreOneLineErrors) {
  for (const char* mode : {"", "--qtype int8 -qw int8 -sm no"}) {
    SCOPED_TRACE(mode);
    expect_one_line_error(run_quant_sim(args(tuple_, std::string(mode) + " --output logits")),
                          {"tuple.pt returns a tuple of 2", "--output 'logits' is not a position (0..1)"});
    expect_one_line_error(run_quant_sim(args(tuple_, std::string(mode) + " --output 0")),
                          {"tuple.pt returns a tuple of 2", "--output '0' is tensor [1, 8, 16, 16], not a tensor"});
    expect_one_line_error(run_quant_sim(args(plain_, std::string(mode) + " --output 0")),
                          {"plain.pt returns a tensor [1, 4]", "applies only to a model returning a tuple"});
  }
  const std::string none = save_model(dir_ + "/no_logits.pt", "(features, torch.mean(features, [1, 2, 3]))");
  expect_one_line_error(
      run_quant_sim(args(none, "")),
      {"no_logits.pt returns a tuple of 2 (tensor [1, 8, 16, 16], tensor [1])", "expected a tensor [N, classes]"});
}

}  // namespace
