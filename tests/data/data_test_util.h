#pragma once
// Helpers shared by the data tests: a temporary folder and synthetic images.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#ifdef QUANTSIM_WITH_OPENCV  // synthetic images need an encoder; without OpenCV those tests are left out
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace quantsim::testing {

// A fresh folder under the system temp dir, removed with its contents at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "quantsim_data_XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

#ifdef QUANTSIM_WITH_OPENCV
// A BGR image whose pixels are a deterministic function of (seed, position): noisy enough to make every resize
// coefficient matter.
inline cv::Mat random_bgr(int width, int height, uint32_t seed) {
  cv::Mat image(height, width, CV_8UC3);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(byte(rng), byte(rng), byte(rng));
    }
  }
  return image;
}

inline void write_image(const std::string& path, const cv::Mat& image) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  ASSERT_TRUE(cv::imwrite(path, image)) << path;
}

#endif

inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// The shared real data (../shared/data, or $QUANTSIM_DATA), or "" when absent.
inline std::string shared_data_dir() {
  const char* env = std::getenv("QUANTSIM_DATA");
  const std::string dir = env && *env ? env : QUANTSIM_DATA_DEFAULT;
  return std::filesystem::is_directory(dir) ? dir : "";
}

}  // namespace quantsim::testing
