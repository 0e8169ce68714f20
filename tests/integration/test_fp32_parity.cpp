// FP32 parity with the reference evaluation of ../shared/data/README.md: quant-sim's top-1 and top-5 on each shared
// model must lie within 0.3 points of the published reference values.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/cli_runner.h"

namespace fs = std::filesystem;
using quantsim::testing::run_quant_sim;
using quantsim::testing::shared_data_dir;

namespace {

struct ParityCase {
  std::string model;
  std::string dataset;  // relative to the shared data folder, also the key of the sidecar's accuracy_fp32
};

std::string fmt_args(const fs::path& model, const fs::path& data, const fs::path& results) {
  return "--model " + model.string() + " --data " + data.string() + " --results " + results.string() + " -b 50 -j 2";
}

nlohmann::json last_result(const fs::path& results) {
  std::ifstream in(results);
  std::string line, last;
  while (std::getline(in, line)) last = line;
  return nlohmann::json::parse(last);
}

void PrintTo(const ParityCase& c, std::ostream* os) { *os << c.model << " on " << c.dataset; }

class Fp32Parity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(Fp32Parity, TopOneAndTopFiveWithinPointThreeOfTheReference) {
  const fs::path data = shared_data_dir();
  if (!fs::exists(data / "models")) GTEST_SKIP() << "shared data not found at " << data << ": parity test skipped";
  const ParityCase& c = GetParam();
  const fs::path model = data / "models" / (c.model + ".pt");
  const nlohmann::json sidecar = nlohmann::json::parse(std::ifstream(data / "models" / (c.model + ".json")));
  const nlohmann::json& reference = sidecar["accuracy_fp32"][c.dataset];

  const fs::path results = fs::temp_directory_path() / ("quantsim_parity_" + c.model + ".jsonl");
  fs::remove(results);
  const auto run = run_quant_sim(fmt_args(model, data / c.dataset, results));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const nlohmann::json result = last_result(results);
  EXPECT_EQ(result["images"].get<int64_t>(), reference["images"].get<int64_t>());
  EXPECT_NEAR(result["top1"].get<double>(), reference["top1"].get<double>(), 0.3) << run.output;
  EXPECT_NEAR(result["top5"].get<double>(), reference["top5"].get<double>(), 0.3) << run.output;
  fs::remove(results);
}

INSTANTIATE_TEST_SUITE_P(SharedModels, Fp32Parity,
                         ::testing::Values(ParityCase{"tiny_darknet", "imagenet/val1300"},
                                           ParityCase{"mobilenet_v2_q", "imagenet/val1300"},
                                           ParityCase{"resnet8_cifar10", "cifar10/test"}),
                         [](const auto& info) { return info.param.model; });

}  // namespace
