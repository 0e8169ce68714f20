// tools/export_model.py, as users run it before their first run: a torchvision model with random weights becomes a
// TorchScript file plus sidecar that quant-sim prepares with the expected layers and site names.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "graph_test_support.h"
#include "quantsim/core/sha256.h"
#include "quantsim/graph/prepared_model.h"

namespace quantsim {
namespace {
namespace fs = std::filesystem;

bool python_has_torchvision() { return std::system("/usr/bin/python3 -c 'import torchvision' >/dev/null 2>&1") == 0; }

// Exports `arch` with random weights into the build directory (once per `tag`, so that tests running in parallel
// never read a file another one is writing) and returns the .pt path.
std::string export_random(const std::string& arch, const std::string& tag, const std::string& extra_flags = "") {
  const fs::path out = fs::path(QUANTSIM_BINARY_DIR) / "export_fixtures" / tag / (arch + ".pt");
  if (fs::exists(out) && fs::exists(fs::path(out).replace_extension(".json"))) return out.string();
  const std::string command = std::string("/usr/bin/python3 ") + QUANTSIM_SOURCE_DIR +
                              "/tools/export_model.py --arch " + arch + " --seed 3 " + extra_flags + " --out " +
                              out.string() + " >/dev/null";
  return std::system(command.c_str()) == 0 ? out.string() : "";
}

class ExportModel : public ::testing::TestWithParam<std::string> {};

TEST_P(ExportModel, WritesTorchScriptAndSidecarThatQuantSimPrepares) {
  if (!python_has_torchvision()) GTEST_SKIP() << "/usr/bin/python3 has no torchvision: export test skipped";
  const std::string path = export_random(GetParam(), "prepare");
  ASSERT_FALSE(path.empty()) << "export_model.py failed for " << GetParam();
  const nlohmann::json sidecar = nlohmann::json::parse(std::ifstream(fs::path(path).replace_extension(".json")));
  EXPECT_EQ(sidecar["sha256"], sha256_file(path));
  EXPECT_EQ(sidecar["preprocess"]["resize_shorter_side"], 256);
  EXPECT_EQ(sidecar["preprocess"]["center_crop"], 224);
  EXPECT_EQ(sidecar["output"]["num_classes"], 1000);

  const PreparedModel model = PreparedModel::load(path, {ActSites::kOutputs});
  EXPECT_EQ(model.count_nodes("aten::batch_norm"), 0) << "BatchNorm not folded";
  ASSERT_FALSE(model.layers().empty());
  EXPECT_TRUE(model.layers().front().first);
  EXPECT_TRUE(model.layers().back().last);
  const at::Tensor logits = model.forward(graph_test::test_input(1, 3, 64, 64));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{1, 1000}));
}

TEST(ExportModel, ResNet18HasTorchvisionNames) {
  if (!python_has_torchvision()) GTEST_SKIP() << "/usr/bin/python3 has no torchvision: export test skipped";
  const std::string path = export_random("resnet18", "names");
  ASSERT_FALSE(path.empty());
  const PreparedModel model = PreparedModel::load(path, {ActSites::kOutputs});
  EXPECT_EQ(model.layers().size(), 21u);  // 17 convs + 3 downsample convs + fc
  EXPECT_TRUE(graph_test::find_site(model, "layer1.0.conv2") != nullptr);
  EXPECT_EQ(model.layers().back().name, "fc");
}

TEST(ExportModel, NumClassesSetsTheHeadAndTheSidecar) {
  if (!python_has_torchvision()) GTEST_SKIP() << "/usr/bin/python3 has no torchvision: export test skipped";
  const std::string path = export_random("resnet18", "num_classes", "--num-classes 7");
  ASSERT_FALSE(path.empty());
  const nlohmann::json sidecar = nlohmann::json::parse(std::ifstream(fs::path(path).replace_extension(".json")));
  EXPECT_EQ(sidecar["output"]["num_classes"], 7);
  EXPECT_FALSE(sidecar["output"].contains("class_order_file")) << "synsets.txt lists ImageNet's 1000 classes";
  const PreparedModel model = PreparedModel::load(path, {ActSites::kOutputs});
  EXPECT_EQ(model.forward(graph_test::test_input(2, 3, 64, 64)).sizes(), (std::vector<int64_t>{2, 7}));
}

// googlenet scripted returns GoogLeNetOutputs(logits, None, None): kept scripted, and quant-sim reads its logits.
TEST(ExportModel, GoogLeNetStaysScriptedAndItsLogitsAreRead) {
  if (!python_has_torchvision()) GTEST_SKIP() << "/usr/bin/python3 has no torchvision: export test skipped";
  const std::string path = export_random("googlenet", "googlenet", "--num-classes 10");
  ASSERT_FALSE(path.empty());
  const nlohmann::json sidecar = nlohmann::json::parse(std::ifstream(fs::path(path).replace_extension(".json")));
  const std::string format = sidecar["format"];
  EXPECT_EQ(format.rfind("TorchScript (torch.jit.script, returning GoogLeNetOutputs(logits, aux_logits2, "
                         "aux_logits1) whose first 2-D tensor (element [0]) is the logits",
                         0),
            0u)
      << format;
  const PreparedModel model = PreparedModel::load(path, {ActSites::kOutputs});
  EXPECT_EQ(model.forward(graph_test::test_input(1, 3, 64, 64)).sizes(), (std::vector<int64_t>{1, 10}));
}

TEST(ExportModel, UnknownArchIsAOneLineError) {
  if (!python_has_torchvision()) GTEST_SKIP() << "/usr/bin/python3 has no torchvision: export test skipped";
  const std::string command = std::string("/usr/bin/python3 ") + QUANTSIM_SOURCE_DIR +
                              "/tools/export_model.py --arch resnet9000 --out /tmp/quantsim_no.pt 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  EXPECT_NE(::pclose(pipe), 0);
  EXPECT_NE(output.find("resnet9000"), std::string::npos) << output;
  EXPECT_EQ(output.find("Traceback"), std::string::npos) << output;
}

INSTANTIATE_TEST_SUITE_P(Torchvision, ExportModel, ::testing::Values("resnet18", "mobilenet_v2"));

}  // namespace
}  // namespace quantsim
