// GPFQ on a real network: on resnet8_cifar10 with 4-bit per-tensor weights, round to nearest loses
// most of the accuracy and GPFQ must win it back. Weights only, all 5000 images of cifar10/test (a few seconds).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/cli_runner.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using quantsim::testing::fresh_temp_dir;
using quantsim::testing::run_quant_sim;
using quantsim::testing::shared_data_dir;

namespace {

double top1(const std::string& results, const std::string& args) {
  const auto run = run_quant_sim(args + " --results " + results);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  std::ifstream in(results);
  std::string line, last;
  while (std::getline(in, line)) last = line;
  return nlohmann::json::parse(last).at("top1").get<double>();
}

TEST(GpfqRealModel, ResNet8AtFourBitsRecoversWhatRoundToNearestLoses) {
  const fs::path data = shared_data_dir();
  if (!fs::exists(data / "models")) GTEST_SKIP() << "shared data not found at " << data << ": GPFQ test skipped";
  const std::string dir = fresh_temp_dir("gpfq_real_model");
  const std::string common = "--model " + (data / "models" / "resnet8_cifar10.pt").string() + " --data " +
                             (data / "cifar10" / "test").string() + " -b 500 -j 2 --device cpu -sh ";
  const double fp32 = top1(dir + "/r.jsonl", common);
  const double rtn = top1(dir + "/r.jsonl", common + "-qw int4");
  const double gpfq = top1(
      dir + "/r.jsonl", common + "-qw int4 --weight-method gpfq --calib-data " + (data / "cifar10" / "calib").string());
  EXPECT_GT(fp32 - rtn, 20.0) << "round to nearest no longer loses much: the test proves nothing";
  EXPECT_GT(gpfq, rtn + 20.0);
  EXPECT_GT(gpfq, fp32 - 5.0);
  fs::remove_all(dir);
}

}  // namespace
