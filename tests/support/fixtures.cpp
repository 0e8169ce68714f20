#include "support/fixtures.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>

#include <torch/script.h>
// Image folders need an encoder: without OpenCV (the GPU machine's build) make_image_folder throws.
#ifdef QUANTSIM_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#endif

namespace quantsim::testing {
namespace fs = std::filesystem;

void save_tiny_classifier(const std::string& path, int classes, int seed) {
  torch::manual_seed(seed);
  torch::jit::Module module("TinyClassifier");
  module.register_parameter("weight", torch::randn({classes, 3, 3, 3}), false);
  module.register_parameter("bias", torch::randn({classes}), false);
  module.define(R"(
def forward(self, x):
    y = torch.conv2d(x, self.weight, self.bias)
    return torch.mean(y, [2, 3])
)");
  module.save(path);
}

void save_small_cnn(const std::string& path, int classes, int seed) {
  torch::manual_seed(seed);
  torch::jit::Module module("SmallCnn");
  module.register_parameter("w1", torch::randn({8, 3, 3, 3}) * 0.3, false);
  module.register_parameter("b1", torch::randn({8}) * 0.1, false);
  module.register_parameter("w2", torch::randn({classes, 8, 3, 3}) * 0.2, false);
  module.register_parameter("b2", torch::randn({classes}) * 0.1, false);
  module.define(R"(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.w1, self.b1, [1, 1], [1, 1]))
    y = torch.conv2d(y, self.w2, self.b2)
    y = torch.max_pool2d(y, [2, 2])
    return torch.mean(y, [2, 3])
)");
  module.save(path);
}

void save_identity_model(const std::string& path) {
  torch::jit::Module module("Identity");
  module.define(R"(
def forward(self, x):
    return x
)");
  module.save(path);
}

void make_image_folder(const std::string& root, const std::vector<std::string>& classes, int per_class, int seed) {
#ifndef QUANTSIM_WITH_OPENCV
  (void)classes;
  (void)per_class;
  (void)seed;
  throw std::runtime_error("make_image_folder(" + root + "): this build has no OpenCV to write images");
#else
  cv::RNG rng(seed);
  fs::create_directories(root);  // before classes.txt: a stream to a file in a missing folder fails silently
  std::ofstream order(fs::path(root) / "classes.txt");
  for (const auto& name : classes) {
    order << name << "\n";
    fs::create_directories(fs::path(root) / name);
    for (int k = 0; k < per_class; ++k) {
      cv::Mat image(16, 16, CV_8UC3);
      rng.fill(image, cv::RNG::UNIFORM, 0, 256);
      cv::imwrite((fs::path(root) / name / (std::to_string(k) + ".png")).string(), image);
    }
  }
#endif
}

std::string fresh_temp_dir(const std::string& name) {
  // The process id keeps tests that ctest runs in parallel (one process each) out of each other's folders.
  const fs::path dir = fs::temp_directory_path() / ("quantsim_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void save_tiny_classifier_with_nan(const std::string& path, int classes, const std::string& parameter) {
  save_tiny_classifier(path, classes);
  torch::jit::Module module = torch::jit::load(path);
  torch::Tensor values = module.attr(parameter).toTensor().clone();
  values.view(-1)[0] = std::numeric_limits<float>::quiet_NaN();
  module.setattr(parameter, values);
  module.save(path);
}

}  // namespace quantsim::testing
