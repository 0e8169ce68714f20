// --weight-method gpfq end to end on the built-in default model (data/default/fashion_resnet.pt) and a few
// generated images: it runs, alone and with the activation flags, is deterministic, and records itself.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "quantsim/core/atomic_file.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim::testing;

namespace {

class GpfqRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    data_ = dir_ + "/data";
    make_image_folder(data_, {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}, 2);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string args(const std::string& extra) const {
    return "--model " + std::string(QUANTSIM_SOURCE_DIR) + "/data/default/fashion_resnet.pt --data " + data_ +
           " --results " + dir_ + "/results.jsonl -b 8 -j 1 --device cpu " + extra;
  }
  std::string gpfq_args(const std::string& extra) const {
    return args("--weight-method gpfq --gpfq-samples 12 " + extra);
  }

  nlohmann::json last_result() const {
    std::ifstream in(dir_ + "/results.jsonl");
    std::string line, last;
    while (std::getline(in, line)) last = line;
    return nlohmann::json::parse(last);
  }

  std::string dir_, data_;
};

TEST_F(GpfqRun, WeightsOnlyRunsAndRecordsTheMethod) {
  const CommandResult r = run_quant_sim(gpfq_args("-qw int4 --save-logits " + dir_ + "/a.npy"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("GPFQ weights of"), std::string::npos) << r.output;
  const nlohmann::json result = last_result();
  EXPECT_TRUE(std::isfinite(result.at("top1").get<double>()));
  EXPECT_EQ(result.at("images"), 20);
  EXPECT_EQ(result.at("config").at("weight_method"), "gpfq");
  EXPECT_EQ(result.at("config").at("gpfq_samples"), 12);
}

TEST_F(GpfqRun, IsDeterministicAndDiffersFromRoundToNearest) {
  ASSERT_EQ(run_quant_sim(gpfq_args("-qw int3 --save-logits " + dir_ + "/a.npy")).exit_code, 0);
  ASSERT_EQ(run_quant_sim(gpfq_args("-qw int3 --save-logits " + dir_ + "/b.npy")).exit_code, 0);
  ASSERT_EQ(run_quant_sim(args("-qw int3 --save-logits " + dir_ + "/rtn.npy")).exit_code, 0);
  ASSERT_EQ(run_quant_sim(gpfq_args("-qw int3 --seed 1 --save-logits " + dir_ + "/seed1.npy")).exit_code, 0);
  EXPECT_EQ(quantsim::read_file(dir_ + "/a.npy"), quantsim::read_file(dir_ + "/b.npy"));
  EXPECT_NE(quantsim::read_file(dir_ + "/a.npy"), quantsim::read_file(dir_ + "/rtn.npy"));
  EXPECT_NE(quantsim::read_file(dir_ + "/a.npy"), quantsim::read_file(dir_ + "/seed1.npy"))
      << "another seed samples other patches";
}

TEST_F(GpfqRun, CombinesWithActivationFlagsAndCorrections) {
  for (const std::string extra : {"--qtype int8 -qw int4 -sm no", "--qtype int4 -qw int4 -sm no --act-sites inputs "
                                                                  "-pcq_w -pcq_a -c laplace -bcw -vcw"}) {
    const CommandResult r = run_quant_sim(gpfq_args(extra + " --gpfq-patch-prob 1"));
    ASSERT_EQ(r.exit_code, 0) << extra << "\n" << r.output;
    EXPECT_TRUE(std::isfinite(last_result().at("top1").get<double>())) << extra;
  }
}

TEST_F(GpfqRun, CombinationGpfqDoesNotDefineIsAOneLineError) {
  const CommandResult r = run_quant_sim(gpfq_args("-qw int4 -pcq_w -baw"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("quant-sim: error: flags -baw and --weight-method gpfq"), std::string::npos) << r.output;
}

TEST_F(GpfqRun, CalibrationImagesOfDifferentSizesAreRefused) {
  // 32 images of 16 x 16 (classes c0-c7) fill the first capture batch, 8 of 24 x 24 (c8, c9) the second.
  make_image_folder(dir_ + "/calib", {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}, 4);
  for (const char* name : {"c8", "c9"}) {
    for (int k = 0; k < 4; ++k) {
      const std::string path = dir_ + "/calib/" + name + "/" + std::to_string(k) + ".png";
      cv::imwrite(path, cv::Mat(24, 24, CV_8UC3, cv::Scalar(10 * k, 20, 30)));
    }
  }
  const CommandResult r =
      run_quant_sim(args("-qw int4 --weight-method gpfq --gpfq-samples 40 --calib-data " + dir_ + "/calib"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("quant-sim: error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("differ in size"), std::string::npos) << r.output;
}

}  // namespace
