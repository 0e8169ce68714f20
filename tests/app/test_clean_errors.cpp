// No input makes quant-sim print a stack dump or a TorchScript traceback: models that return a tuple or a dict without
// logits, or a number, take two inputs or raise inside forward fail with exactly one line naming the model, in FP32
// and in quantized runs; sizes that would exhaust memory fail naming the flag or the image.
#include <gtest/gtest.h>

#include <torch/script.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "quantsim/core/atomic_file.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim::testing;

namespace {

// A scripted `conv 3->4 (3x3) -> mean over H, W` model whose forward is `body` (it may use `logits`), saved to path.
void save_model(const std::string& path, const std::string& signature, const std::string& body) {
  torch::manual_seed(0);
  torch::jit::Module module("Misbehaving");
  module.register_parameter("weight", torch::randn({4, 3, 3, 3}), false);
  module.register_parameter("bias", torch::randn({4}), false);
  module.define("def forward(self, " + signature + "):\n" +
                "    logits = torch.mean(torch.conv2d(x, self.weight, self.bias), [2, 3])\n" + body);
  module.save(path);
}

class CleanErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    data_ = dir_ + "/data";
    make_image_folder(data_, {"a", "b", "c", "d"}, 2);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string run_args(const std::string& model, const std::string& extra) const {
    return "--model " + model + " --data " + data_ + " --results " + dir_ + "/results.jsonl -b 4 -j 1 --device cpu " +
           "--resize 0 --crop 0 " + extra;
  }

  // Exit 2 and exactly one line of output, "quant-sim: error: ..." holding every needle and no dump of any kind.
  static void expect_one_line_error(const CommandResult& r, const std::vector<std::string>& needles) {
    EXPECT_EQ(r.exit_code, 2) << r.output;
    ASSERT_FALSE(r.output.empty());
    EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << "more than one line:\n" << r.output;
    EXPECT_EQ(r.output.rfind("quant-sim: error: ", 0), 0u) << r.output;
    for (const std::string& needle : needles) EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
    for (const char* dump : {"Traceback", "frame #", "Exception raised from", "aten::", "internal error"}) {
      EXPECT_EQ(r.output.find(dump), std::string::npos) << "dump (" << dump << ") in:\n" << r.output;
    }
  }

  // An error met during evaluation, after the run's one-line banner: exit 2, the error as the last line, no dump.
  static void expect_error_after_banner(const CommandResult& r, const std::vector<std::string>& needles) {
    EXPECT_EQ(r.exit_code, 2) << r.output;
    const size_t error = r.output.find("quant-sim: error: ");
    ASSERT_NE(error, std::string::npos) << r.output;
    EXPECT_EQ(r.output.find('\n', error), r.output.size() - 1) << "lines after the error:\n" << r.output;
    EXPECT_LE(std::count(r.output.begin(), r.output.end(), '\n'), 2) << r.output;
    for (const std::string& needle : needles) EXPECT_NE(r.output.find(needle, error), std::string::npos) << r.output;
    for (const char* dump : {"Traceback", "frame #", "Exception raised from", "internal error"}) {
      EXPECT_EQ(r.output.find(dump), std::string::npos) << "dump (" << dump << ") in:\n" << r.output;
    }
  }

  // The model fails with one line naming it, in FP32 and with quantized weights and activations.
  void expect_fails_cleanly_in_every_mode(const std::string& model, const std::vector<std::string>& needles) const {
    std::vector<std::string> with_model = needles;
    with_model.push_back(fs::path(model).filename().string());
    for (const char* mode : {"", "--qtype int8 -qw int8 -sm no", "-qw int4"}) {
      SCOPED_TRACE(std::string("mode: '") + mode + "'");
      expect_one_line_error(run_quant_sim(run_args(model, mode)), with_model);
    }
  }

  std::string dir_, data_;
};

// A tuple or dict holding the logits is read (docs/QUANTIZATION.md, section 7); one without a 2-D tensor is refused.
TEST_F(CleanErrors, ModelReturningATupleWithoutLogits) {
  const std::string model = dir_ + "/tuple.pt";
  save_model(model, "x", "    return (torch.mean(logits, [1]), torch.mean(logits, [1]))\n");
  expect_fails_cleanly_in_every_mode(model, {"returns a tuple of 2 (tensor [1], tensor [1])", "expected a tensor"});
}

TEST_F(CleanErrors, ModelReturningADictWithoutLogits) {
  const std::string model = dir_ + "/dict.pt";
  save_model(model, "x", "    return {'scores': torch.mean(logits, [1])}\n");
  expect_fails_cleanly_in_every_mode(model, {"returns a dict {'scores': tensor [1]}", "expected a tensor"});
}

TEST_F(CleanErrors, ModelReturningANumber) {
  const std::string model = dir_ + "/number.pt";
  save_model(model, "x", "    return logits.size(0)\n");
  expect_fails_cleanly_in_every_mode(model, {"returns a int; expected a tensor [N, classes]"});
}

TEST_F(CleanErrors, ModelTakingTwoInputs) {
  const std::string model = dir_ + "/two_inputs.pt";
  save_model(model, "x, y", "    return logits + y\n");
  expect_fails_cleanly_in_every_mode(model, {"forward takes (x: Tensor, y: Tensor)", "one image batch"});
}

TEST_F(CleanErrors, ModelRaisingInsideForward) {
  const std::string model = dir_ + "/raising.pt";
  // `assert` is TorchScript's raise that define() can compile without Python's builtins.
  save_model(model, "x", "    assert x.size(0) == 0, 'refuses every input'\n    return logits\n");
  expect_fails_cleanly_in_every_mode(model, {"refuses every input"});
}

TEST_F(CleanErrors, ModelFailingOnTheInputShapeNamesTheShape) {
  const std::string model = dir_ + "/gray.pt";
  torch::jit::Module module("OneChannel");
  module.register_parameter("weight", torch::randn({4, 1, 3, 3}), false);
  module.define("def forward(self, x):\n    return torch.mean(torch.conv2d(x, self.weight), [2, 3])\n");
  module.save(model);
  expect_fails_cleanly_in_every_mode(model, {"failed on an input of shape [1, 3, 16, 16]"});
}

TEST_F(CleanErrors, ASidecarClassCountThatDiffersFromTheModelNamesTheSidecar) {
  save_tiny_classifier(dir_ + "/tiny.pt", 4);
  std::ofstream(dir_ + "/tiny.json") << R"({"output": {"num_classes": 3}})";
  for (const char* mode : {"", "-sm collect"}) {
    SCOPED_TRACE(mode);
    const std::string args = run_args(dir_ + "/tiny.pt", mode) + " --stats-dir " + dir_ + "/stats";
    expect_error_after_banner(run_quant_sim(args),
                              {dir_ + "/tiny.json: output.num_classes is 3, but model " + dir_ + "/tiny.pt gives 4"});
  }
}

TEST_F(CleanErrors, HugeCropOrResizeIsRefusedNamingTheFlag) {
  save_tiny_classifier(dir_ + "/tiny.pt", 4);
  expect_one_line_error(run_quant_sim(run_args(dir_ + "/tiny.pt", "--crop 100000")), {"--crop", "100000"});
  expect_one_line_error(run_quant_sim(run_args(dir_ + "/tiny.pt", "--resize 2147483648")), {"--resize"});
}

TEST_F(CleanErrors, ResizeThatWouldMakeAnImageTooLargeNamesTheImage) {
  save_tiny_classifier(dir_ + "/tiny.pt", 4);
  const std::string thin = data_ + "/a/thin.png";
  cv::imwrite(thin, cv::Mat(200, 1, CV_8UC3, cv::Scalar(1, 2, 3)));  // 1 wide, 200 high: resize 1000 -> 1000x200000
  expect_error_after_banner(run_quant_sim(run_args(dir_ + "/tiny.pt", "--resize 1000 --crop 8")),
                            {"thin.png", "65536"});
}

TEST_F(CleanErrors, PathBeyondTheSystemLimitReadsAsACleanError) {
  save_tiny_classifier(dir_ + "/tiny.pt", 4);
  std::string deep = dir_;  // accepted as a flag (below PATH_MAX), too long once the statistics file is appended
  while (deep.size() < 4080) deep += "/d";
  expect_error_after_banner(run_quant_sim(run_args(dir_ + "/tiny.pt", "-sm collect --stats-dir " + deep)),
                            {"File name too long"});
}

// Numbers out of range and fields of the wrong type in a sweep file: one line naming the file and the entry.
TEST_F(CleanErrors, SweepFileNumbersOutOfRangeAndWrongTypes) {
  const std::string sweep = dir_ + "/sweep.json";
  const auto expect_sweep_error = [&](const std::string& grid, const std::string& field) {
    quantsim::write_file_atomically(sweep, R"({"models": [{"name": "m", "model": "m.pt", "data": "d"}],
        "methods": {"rtn": []}, )" + grid + "}");
    SCOPED_TRACE(grid);
    expect_one_line_error(run_command(std::string(QUANTSIM_BINARY_DIR) + "/quant-sim sweep " + sweep + " --list"),
                          {"sweep.json", field});
  };
  for (const std::string bits : {"-1", "1099511627776", "4294967304", "8.0", "\"8\"", "null"}) {
    expect_sweep_error(R"("weight_bits": [)" + bits + R"(], "act_bits": [8])", "weight_bits[0]");
  }
  // The JSON reader refuses a number beyond double before any field is read: the message names the number.
  expect_sweep_error(R"("weight_bits": [1e400], "act_bits": [8])", "1e400");
  expect_sweep_error(R"("weight_bits": 8, "act_bits": [8])", "weight_bits");
  expect_sweep_error(R"("weight_bits": [8], "act_bits": [8], "common": ["-b", 1e300])", "-b/--batch-size");
  expect_sweep_error(R"("weight_bits": [8], "act_bits": [8], "common": "-b 8")", "common");
  expect_sweep_error(R"("weight_bits": [8], "act_bits": [8], "fp32": "yes")", "fp32");
  expect_sweep_error(R"("configurations": [{"method": "rtn", "weight_bits": 18446744073709551615, "act_bits": 8}])",
                     "configurations[0].weight_bits");
}

}  // namespace
