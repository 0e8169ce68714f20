// The evaluation transform against PIL / torchvision themselves (bit for bit), and normalization by hand.
#include "quantsim/data/preprocess.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data_test_util.h"
#include "quantsim/core/errors.h"
#include "quantsim/data/rgb_image.h"

#ifdef QUANTSIM_WITH_OPENCV  // these tests write images with OpenCV

namespace quantsim {
namespace {
using testing::TempDir;

const char* kPython = "/usr/bin/python3";

bool python_has(const std::string& module) {
  const std::string command = std::string(kPython) + " -c 'import " + module + "' > /dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

RgbImage read_reference_image(const std::string& path) {
  const std::string bytes = read_bytes(path);
  const size_t newline = bytes.find('\n');
  RgbImage image;
  std::istringstream(bytes.substr(0, newline)) >> image.width >> image.height;
  image.pixels.assign(bytes.begin() + static_cast<std::ptrdiff_t>(newline) + 1, bytes.end());
  return image;
}

struct Case {
  int width, height, resize, crop;
  std::string interpolation;
  std::string extension;  // .png: lossless; .jpg: also compares the JPEG decoders
  bool grayscale = false;
};

TEST(PreprocessMatchesPil, BitExactOnSyntheticImages) {
  if (!python_has("PIL") || !python_has("numpy")) GTEST_SKIP() << kPython << " with PIL and numpy not found";
  const bool with_torchvision = python_has("torchvision");
  const std::vector<Case> cases = {
      {500, 375, 256, 224, "bilinear", ".png"},   // downscale, landscape
      {375, 500, 256, 224, "bilinear", ".png"},   // portrait
      {227, 227, 224, 224, "bilinear", ".jpg"},   // val1300-like, slight downscale, JPEG decode
      {227, 227, 256, 224, "bilinear", ".jpg"},   // upscale (mobilenet on val1300)
      {61, 97, 256, 224, "bilinear", ".png"},     // strong upscale
      {1203, 801, 256, 224, "bilinear", ".png"},  // strong downscale
      {640, 427, 256, 0, "bilinear", ".jpg"},     // no crop
      {32, 32, 0, 0, "bilinear", ".jpg"},         // CIFAR: no resize, no crop
      {101, 77, 50, 49, "nearest", ".png"},
      {300, 199, 256, 224, "bilinear", ".jpg", true},  // grayscale JPEG expands to RGB
      {40, 30, 0, 36, "bilinear", ".png"},             // crop larger than image: zero padding
  };
  TempDir dir;
  nlohmann::json jobs = nlohmann::json::array();
  const PreprocessSpec imagenet;  // defaults: ImageNet mean/std
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    cv::Mat image = testing::random_bgr(c.width, c.height, static_cast<uint32_t>(100 + i));
    cv::GaussianBlur(image, image, cv::Size(5, 5), 1.5);  // natural-ish content, so JPEG is not all noise
    if (c.grayscale) cv::cvtColor(image, image, cv::COLOR_BGR2GRAY);
    const std::string input = dir / ("case" + std::to_string(i) + c.extension);
    testing::write_image(input, image);
    jobs.push_back({{"input", input},
                    {"resize", c.resize},
                    {"crop", c.crop},
                    {"interpolation", c.interpolation},
                    {"mean", imagenet.mean},
                    {"std", imagenet.std},
                    {"resized_out", dir / ("resized" + std::to_string(i))},
                    {"tensor_out", dir / ("tensor" + std::to_string(i))}});
  }
  testing::write_text(dir / "jobs.json", jobs.dump());
  const std::string command = std::string(kPython) + " " QUANTSIM_SOURCE_DIR "/tests/data/pil_reference.py " +
                              (dir / "jobs.json");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE("case " + std::to_string(i) + ": " + std::to_string(c.width) + "x" + std::to_string(c.height) + " " +
                 c.extension + " resize " + std::to_string(c.resize));
    PreprocessSpec spec;
    spec.resize_shorter_side = c.resize;
    spec.center_crop = c.crop;
    spec.interpolation = parse_interpolation(c.interpolation, "test");
    const RgbImage decoded = decode_image_rgb(jobs[i]["input"]);
    RgbImage resized = decoded;
    if (c.resize > 0) {
      const Size2D size = torchvision_resize_size(decoded.width, decoded.height, c.resize);
      resized = pil_resize(decoded, size.width, size.height, spec.interpolation);
    }
    const RgbImage expected = read_reference_image(jobs[i]["resized_out"]);
    ASSERT_EQ(resized.width, expected.width);
    ASSERT_EQ(resized.height, expected.height);
    EXPECT_TRUE(resized.pixels == expected.pixels) << "resized pixels differ from PIL";

    if (!with_torchvision) continue;
    const torch::Tensor ours = preprocess_image(jobs[i]["input"], spec);
    const std::string reference = read_bytes(jobs[i]["tensor_out"]);
    ASSERT_EQ(reference.size(), static_cast<size_t>(ours.numel()) * sizeof(float));
    EXPECT_EQ(std::memcmp(reference.data(), ours.data_ptr<float>(), reference.size()), 0)
        << "tensor differs from torchvision";
  }
  if (!with_torchvision) GTEST_SKIP() << "torchvision not found: compared the resize only";
}

TEST(Preprocess, ToTensorAndNormalizeInFloat32) {
  RgbImage image(2, 1);
  const uint8_t pixels[6] = {0, 128, 255, 10, 20, 30};
  std::memcpy(image.pixels.data(), pixels, 6);
  const torch::Tensor t = to_normalized_tensor(image, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5});
  ASSERT_EQ(t.sizes(), torch::IntArrayRef({3, 1, 2}));
  EXPECT_FLOAT_EQ(t[0][0][0].item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(t[2][0][0].item<float>(), 1.0f);
  EXPECT_EQ(t[1][0][0].item<float>(), (128.0f / 255.0f - 0.5f) / 0.5f);  // exact float32 order of operations
  EXPECT_EQ(t[0][0][1].item<float>(), (10.0f / 255.0f - 0.5f) / 0.5f);   // channel-major output
}

TEST(Preprocess, OverridesAndTheirErrors) {
  PreprocessOverrides overrides;
  overrides.resize_shorter_side = 0;
  overrides.mean = std::vector<double>{0.25};
  overrides.interpolation = "nearest";
  const PreprocessSpec spec = apply_overrides(PreprocessSpec{}, overrides);
  EXPECT_EQ(spec.resize_shorter_side, 0);
  EXPECT_EQ(spec.center_crop, 224);
  EXPECT_EQ(spec.mean[2], 0.25);
  EXPECT_EQ(spec.interpolation, Interpolation::kNearest);

  PreprocessOverrides bad_std;
  bad_std.std = std::vector<double>{1.0, 0.0, 1.0};
  EXPECT_THROW(apply_overrides(PreprocessSpec{}, bad_std), UserError);
  PreprocessOverrides two_means;
  two_means.mean = std::vector<double>{0.1, 0.2};
  EXPECT_THROW(apply_overrides(PreprocessSpec{}, two_means), UserError);
  PreprocessOverrides bicubic;
  bicubic.interpolation = "bicubic";
  EXPECT_THROW(apply_overrides(PreprocessSpec{}, bicubic), UserError);
}

TEST(Preprocess, CorruptFileThrowsImageDecodeError) {
  TempDir dir;
  testing::write_text(dir / "broken.jpg", "\xFF\xD8\xFF not really a jpeg");
  EXPECT_THROW(preprocess_image(dir / "broken.jpg", PreprocessSpec{}), ImageDecodeError);
  EXPECT_THROW(preprocess_image(dir / "missing.jpg", PreprocessSpec{}), ImageDecodeError);
}

}  // namespace
}  // namespace quantsim

#endif  // QUANTSIM_WITH_OPENCV
