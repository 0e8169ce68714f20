#include "quantsim/preprocess.h"

#include <fmt/format.h>

#include "quantsim/errors.h"

namespace quantsim {
namespace {

std::array<double, 3> three_values(const std::vector<double>& values, const char* what) {
  if (values.size() == 1) return {values[0], values[0], values[0]};
  if (values.size() == 3) return {values[0], values[1], values[2]};
  throw UserError(fmt::format("--{}: expected 1 or 3 values (R,G,B), got {}", what, values.size()));
}

int non_negative_size(int value, const char* what) {
  if (value < 0) throw UserError(fmt::format("--{}: must be >= 0 (0 disables it), got {}", what, value));
  return value;
}

}  // namespace

Interpolation parse_interpolation(const std::string& name, const std::string& context) {
  if (name == "bilinear") return Interpolation::kBilinear;
  if (name == "nearest") return Interpolation::kNearest;
  throw UserError(fmt::format("{}: unknown interpolation '{}' (expected bilinear or nearest)", context, name));
}

std::string interpolation_name(Interpolation interpolation) {
  return interpolation == Interpolation::kNearest ? "nearest" : "bilinear";
}

PreprocessSpec apply_overrides(PreprocessSpec base, const PreprocessOverrides& overrides) {
  if (overrides.resize_shorter_side) {
    base.resize_shorter_side = non_negative_size(*overrides.resize_shorter_side, "resize");
  }
  if (overrides.center_crop) base.center_crop = non_negative_size(*overrides.center_crop, "center-crop");
  if (overrides.mean) base.mean = three_values(*overrides.mean, "mean");
  if (overrides.std) base.std = three_values(*overrides.std, "std");
  if (overrides.interpolation) base.interpolation = parse_interpolation(*overrides.interpolation, "--interpolation");
  for (double s : base.std) {
    if (s == 0.0) throw UserError("--std: a standard deviation of 0 would divide by zero");
  }
  return base;
}

std::string describe(const PreprocessSpec& spec) {
  const std::string resize = spec.resize_shorter_side > 0
                                 ? fmt::format("resize {} {}", spec.resize_shorter_side,
                                               interpolation_name(spec.interpolation))
                                 : std::string("no resize");
  const std::string crop = spec.center_crop > 0 ? fmt::format("crop {}", spec.center_crop) : "no crop";
  return fmt::format("{}, {}, mean [{}, {}, {}], std [{}, {}, {}]", resize, crop, spec.mean[0], spec.mean[1],
                     spec.mean[2], spec.std[0], spec.std[1], spec.std[2]);
}

torch::Tensor to_normalized_tensor(const RgbImage& image, const std::array<double, 3>& mean,
                                   const std::array<double, 3>& std) {
  const int64_t plane = static_cast<int64_t>(image.width) * image.height;
  torch::Tensor out = torch::empty({3, image.height, image.width}, torch::kFloat32);
  float* dst = out.data_ptr<float>();
  for (int c = 0; c < 3; ++c) {
    // torchvision: tensor.float().div(255), then sub_(mean).div_(std) with mean/std as float32 tensors.
    const float m = static_cast<float>(mean[c]);
    const float s = static_cast<float>(std[c]);
    float* channel = dst + c * plane;
    const uint8_t* src = image.pixels.data() + c;
    for (int64_t i = 0; i < plane; ++i) {
      const float x = static_cast<float>(src[i * 3]) / 255.0f;
      channel[i] = (x - m) / s;
    }
  }
  return out;
}

torch::Tensor preprocess_decoded(const RgbImage& image, const PreprocessSpec& spec) {
  RgbImage resized;
  const RgbImage* current = &image;
  if (spec.resize_shorter_side > 0) {
    const Size2D size = torchvision_resize_size(image.width, image.height, spec.resize_shorter_side);
    resized = pil_resize(image, size.width, size.height, spec.interpolation);
    current = &resized;
  }
  if (spec.center_crop > 0) {
    return to_normalized_tensor(torchvision_center_crop(*current, spec.center_crop), spec.mean, spec.std);
  }
  return to_normalized_tensor(*current, spec.mean, spec.std);
}

torch::Tensor preprocess_image(const std::string& path, const PreprocessSpec& spec) {
  return preprocess_decoded(decode_image_rgb(path), spec);
}

}  // namespace quantsim
