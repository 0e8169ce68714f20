// Every kind of bad input a user can give gets a one-line error naming the thing and a non-zero exit,
// checked end to end on the quant-sim binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/cli_runner.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim::testing;

namespace {

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    model_ = dir_ + "/tiny.pt";
    save_tiny_classifier(model_, 4);
    data_ = dir_ + "/data";
    make_image_folder(data_, {"a", "b", "c", "d"}, 3);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string common() const { return " --results " + dir_ + "/results.jsonl --resize 0 --crop 0 -b 4 "; }

  // The run fails with exit code 2 and a single "quant-sim: error:" line containing every needle.
  void expect_error(const std::string& args, const std::vector<std::string>& needles) const {
    const CommandResult r = run_quant_sim(args + common());
    EXPECT_EQ(r.exit_code, 2) << r.output;
    const size_t at = r.output.find("quant-sim: error: ");
    ASSERT_NE(at, std::string::npos) << r.output;
    const std::string line = r.output.substr(at, r.output.find('\n', at) - at);
    for (const auto& needle : needles) EXPECT_NE(line.find(needle), std::string::npos) << line;
    EXPECT_EQ(r.output.find("Exception raised from"), std::string::npos) << "stack trace leaked: " << r.output;
  }

  std::string dir_, model_, data_;
};

TEST_F(BadInput, GoodFixtureRuns) {
  const CommandResult r = run_quant_sim("--model " + model_ + " --data " + data_ + common());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("top-1"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir_ + "/results.jsonl"));
}

TEST_F(BadInput, MissingModelFile) {
  expect_error("--model " + dir_ + "/nope.pt --data " + data_, {"nope.pt", "not found"});
}

TEST_F(BadInput, NoModelGiven) { expect_error("--data " + data_, {"no model"}); }

TEST_F(BadInput, CorruptModelFile) {
  std::ofstream(dir_ + "/corrupt.pt") << "this is not a TorchScript archive";
  expect_error("--model " + dir_ + "/corrupt.pt --data " + data_, {"corrupt.pt"});
}

TEST_F(BadInput, ModelOutputIsNotLogits) {
  save_identity_model(dir_ + "/identity.pt");
  expect_error("--model " + dir_ + "/identity.pt --data " + data_, {"output", "shape"});
}

TEST_F(BadInput, MoreClassesInTheDataThanModelOutputs) {
  save_tiny_classifier(model_, 3);
  expect_error("--model " + model_ + " --data " + data_, {"d"});
}

TEST_F(BadInput, MissingDataset) { expect_error("--model " + model_ + " --data " + dir_ + "/nowhere", {"nowhere"}); }

TEST_F(BadInput, EmptyDataset) {
  fs::create_directories(dir_ + "/empty");
  expect_error("--model " + model_ + " --data " + dir_ + "/empty", {"empty"});
}

TEST_F(BadInput, UnreadableImagesAreSkippedUpToAShare) {
  std::ofstream(data_ + "/a/broken.png") << "not a png";
  const CommandResult tolerated =
      run_quant_sim("--model " + model_ + " --data " + data_ + " --max-bad-images 0.2" + common());
  EXPECT_EQ(tolerated.exit_code, 0) << tolerated.output;
  EXPECT_NE(tolerated.output.find("broken.png"), std::string::npos) << tolerated.output;
  EXPECT_NE(tolerated.output.find("12 images"), std::string::npos) << tolerated.output;
  expect_error("--model " + model_ + " --data " + data_ + " --max-bad-images 0.01", {"1 of 13", "broken.png"});
}

TEST_F(BadInput, UnknownAndMalformedFlags) {
  expect_error("--model " + model_ + " --data " + data_ + " --frobnicate", {"frobnicate"});
  expect_error("--model " + model_ + " --data " + data_ + " --qtype int99", {"--qtype", "int99"});
  expect_error("--model " + model_ + " --data " + data_ + " -b many", {"many"});
}

}  // namespace
