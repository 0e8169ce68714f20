// The real data sets of ../shared/data (skipped when absent): sizes, labels, and preprocessing of real JPEGs
// against torchvision.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data_test_util.h"
#include "quantsim/data/dataset.h"
#include "quantsim/data/model_sidecar.h"
#include "quantsim/data/preprocess.h"

#ifdef QUANTSIM_WITH_OPENCV  // these tests write images with OpenCV

namespace quantsim {
namespace {
namespace fs = std::filesystem;

class SharedDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = testing::shared_data_dir();
    if (data_.empty()) GTEST_SKIP() << "no shared data at " << QUANTSIM_DATA_DEFAULT << " (set QUANTSIM_DATA)";
  }
  std::string data_;
};

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(SharedDataTest, Val1300HasAllImagesLabelledByTheirFoldersSynsetLine) {
  const std::optional<ModelSidecar> sidecar = read_model_sidecar(data_ + "/models/tiny_darknet.pt");
  ASSERT_TRUE(sidecar);
  const std::string root = data_ + "/imagenet/val1300";
  DatasetOptions options;
  options.class_order_file = resolve_class_order_file(sidecar->class_order_file,
                                                      {root, fs::path(sidecar->path).parent_path().string()});
  ASSERT_EQ(options.class_order_file, fs::path(data_ + "/imagenet/synsets.txt").lexically_normal().string());
  const Dataset dataset = load_dataset(root, options);
  ASSERT_EQ(dataset.images.size(), 1300u);
  const std::vector<std::string> synsets = lines_of(data_ + "/imagenet/synsets.txt");
  ASSERT_EQ(synsets.size(), 1000u);
  std::set<int64_t> classes;
  for (const LabeledImage& image : dataset.images) {
    ASSERT_EQ(synsets.at(image.label), fs::path(image.path).parent_path().filename().string()) << image.path;
    classes.insert(image.label);
  }
  EXPECT_EQ(classes.size(), 725u);
  EXPECT_NO_THROW(check_labels_fit(dataset, *sidecar->num_classes));
  // Canonical order: labels never decrease, names increase within a class.
  for (size_t i = 1; i < dataset.images.size(); ++i) {
    const LabeledImage& a = dataset.images[i - 1];
    const LabeledImage& b = dataset.images[i];
    ASSERT_TRUE(a.label < b.label || (a.label == b.label && a.path < b.path)) << a.path << " then " << b.path;
  }
  // Without the class-order file, the default lookup finds imagenet/synsets.txt in the parent folder.
  EXPECT_EQ(load_dataset(root).images.back().label, dataset.images.back().label);
}

TEST_F(SharedDataTest, Cifar10TestHas5000Images) {
  const std::optional<ModelSidecar> sidecar = read_model_sidecar(data_ + "/models/resnet8_cifar10.pt");
  ASSERT_TRUE(sidecar);
  const std::string root = data_ + "/cifar10/test";
  DatasetOptions options;
  options.class_order_file = resolve_class_order_file(sidecar->class_order_file, {root});
  const Dataset dataset = load_dataset(root, options);
  ASSERT_EQ(dataset.images.size(), 5000u);
  EXPECT_EQ(dataset.class_names.size(), 10u);
  EXPECT_EQ(dataset.images.front().label, 0);
  EXPECT_EQ(fs::path(dataset.images[500].path).parent_path().filename(), "automobile");
  EXPECT_EQ(dataset.images[500].label, 1);
  EXPECT_NO_THROW(check_labels_fit(dataset, 10));
  EXPECT_EQ(sidecar->preprocess.resize_shorter_side, 0);
  EXPECT_EQ(sidecar->preprocess.center_crop, 0);
}

// Real JPEGs (including grayscale ones of calib1000) through our decoder + resize vs PIL + torchvision.
TEST_F(SharedDataTest, RealJpegsPreprocessBitExactlyAsTorchvision) {
  if (std::system("/usr/bin/python3 -c 'import torchvision, numpy' > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with torchvision not found";
  }
  const Dataset val = load_dataset(data_ + "/imagenet/val1300");
  const Dataset calib = load_dataset(data_ + "/imagenet/calib1000");
  std::vector<std::string> paths;
  for (size_t i = 0; i < val.images.size(); i += 260) paths.push_back(val.images[i].path);
  for (size_t i = 0; i < calib.images.size(); i += 100) paths.push_back(calib.images[i].path);
  // Three grayscale JPEGs of calib1000 (one colour component; they decode with R == G == B everywhere).
  int grayscale = 0;
  for (size_t i = 0; i < calib.images.size() && grayscale < 3; ++i) {
    const RgbImage rgb = decode_image_rgb(calib.images[i].path);
    bool gray = true;
    for (size_t p = 0; gray && p < rgb.pixels.size(); p += 3) {
      gray = rgb.pixels[p] == rgb.pixels[p + 1] && rgb.pixels[p] == rgb.pixels[p + 2];
    }
    if (gray) {
      paths.push_back(calib.images[i].path);
      ++grayscale;
    }
  }
  EXPECT_EQ(grayscale, 3);
  testing::TempDir dir;
  nlohmann::json jobs = nlohmann::json::array();
  const PreprocessSpec spec = read_model_sidecar(data_ + "/models/mobilenet_v2_q.pt")->preprocess;
  for (size_t i = 0; i < paths.size(); ++i) {
    jobs.push_back({{"input", paths[i]},
                    {"resize", spec.resize_shorter_side},
                    {"crop", spec.center_crop},
                    {"interpolation", "bilinear"},
                    {"mean", spec.mean},
                    {"std", spec.std},
                    {"resized_out", dir / ("r" + std::to_string(i))},
                    {"tensor_out", dir / ("t" + std::to_string(i))}});
  }
  testing::write_text(dir / "jobs.json", jobs.dump());
  const std::string command = "/usr/bin/python3 " QUANTSIM_SOURCE_DIR "/tests/data/pil_reference.py " +
                              (dir / "jobs.json");
  ASSERT_EQ(std::system(command.c_str()), 0);
  for (size_t i = 0; i < paths.size(); ++i) {
    const torch::Tensor ours = preprocess_image(paths[i], spec);
    std::ifstream in(dir / ("t" + std::to_string(i)), std::ios::binary);
    std::stringstream reference;
    reference << in.rdbuf();
    ASSERT_EQ(reference.str().size(), static_cast<size_t>(ours.numel()) * sizeof(float)) << paths[i];
    EXPECT_EQ(std::memcmp(reference.str().data(), ours.data_ptr<float>(), reference.str().size()), 0) << paths[i];
  }
}

}  // namespace
}  // namespace quantsim

#endif  // QUANTSIM_WITH_OPENCV
