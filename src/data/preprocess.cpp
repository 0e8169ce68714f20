#include "quantsim/data/preprocess.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <new>

#include "quantsim/core/errors.h"
#include "quantsim/data/rgb_image.h"

namespace quantsim {
namespace {

std::array<double, 3> three_values(const std::vector<double>& values, const char* what) {
  if (values.size() == 1) return {values[0], values[0], values[0]};
  if (values.size() == 3) return {values[0], values[1], values[2]};
  throw UserError(fmt::format("--{}: expected 1 or 3 values (R,G,B), got {}", what, values.size()));
}

// The size torchvision's Resize(shorter_side) gives, refused when a side would exceed kMaxImageSide (an extreme
// aspect ratio can do that even for an accepted --resize).
Size2D checked_resize_size(const RgbImage& image, int shorter_side) {
  const double short_side = std::min(image.width, image.height);
  const double long_side = std::max(image.width, image.height);
  const double new_long = static_cast<double>(shorter_side) * long_side / short_side;
  if (!(new_long <= static_cast<double>(kMaxImageSide))) {
    throw UserError(fmt::format("resizing the {}x{} image to a shorter side of {} makes its longer side {:.0f}, "
                                "beyond the limit of {}",
                                image.width, image.height, shorter_side, new_long, kMaxImageSide));
  }
  return torchvision_resize_size(image.width, image.height, shorter_side);
}

}  // namespace

int checked_image_side(int64_t size, const std::string& what) {
  if (size < 0 || size > kMaxImageSide) {
    throw UserError(fmt::format("{}: must be in 0..{} (0: none), got {}", what, kMaxImageSide, size));
  }
  return static_cast<int>(size);
}

void check_mean_values(const std::vector<double>& mean, const std::string& what) {
  for (double m : mean) {
    // Normalisation subtracts in float32: a mean beyond its range would make the input infinite.
    if (!std::isfinite(static_cast<float>(m))) {
      throw UserError(fmt::format("{}: {} is not a finite number in float32", what, m));
    }
  }
}

void check_std_values(const std::vector<double>& std, const std::string& what) {
  for (double s : std) {
    // Normalisation divides in float32: a std below its smallest normal number would make the input infinite.
    if (!std::isfinite(s) || s <= 0.0 || !std::isnormal(static_cast<float>(s))) {
      throw UserError(fmt::format("{}: {} is not a positive finite standard deviation in float32", what, s));
    }
  }
}

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
    base.resize_shorter_side = checked_image_side(*overrides.resize_shorter_side, "flag --resize");
  }
  if (overrides.center_crop) base.center_crop = checked_image_side(*overrides.center_crop, "flag --crop");
  if (overrides.mean) {
    check_mean_values(*overrides.mean, "flag --mean");
    base.mean = three_values(*overrides.mean, "mean");
  }
  if (overrides.std) {
    check_std_values(*overrides.std, "flag --std");
    base.std = three_values(*overrides.std, "std");
  }
  if (overrides.interpolation) base.interpolation = parse_interpolation(*overrides.interpolation, "--interpolation");
  return base;
}

std::string describe(const PreprocessSpec& spec) {
  const std::string resize = spec.resize_shorter_side > 0 ? fmt::format("resize {} {}", spec.resize_shorter_side,
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

RgbImage resize_and_crop(const RgbImage& image, const PreprocessSpec& spec) {
  RgbImage resized;
  const RgbImage* current = &image;
  if (spec.resize_shorter_side > 0) {
    const Size2D size = checked_resize_size(image, spec.resize_shorter_side);
    resized = pil_resize(image, size.width, size.height, spec.interpolation);
    current = &resized;
  }
  if (spec.center_crop > 0) return torchvision_center_crop(*current, spec.center_crop);
  return current == &image ? image : resized;
}

torch::Tensor preprocess_decoded(const RgbImage& image, const PreprocessSpec& spec) {
  if (spec.resize_shorter_side <= 0 && spec.center_crop <= 0) return to_normalized_tensor(image, spec.mean, spec.std);
  return to_normalized_tensor(resize_and_crop(image, spec), spec.mean, spec.std);
}

static torch::Tensor pixels_tensor(const RgbImage& image) {  // uint8 HWC -> uint8 CHW
  const int64_t plane = static_cast<int64_t>(image.width) * image.height;
  torch::Tensor out = torch::empty({3, image.height, image.width}, torch::kUInt8);
  uint8_t* dst = out.data_ptr<uint8_t>();
  for (int c = 0; c < 3; ++c) {
    const uint8_t* src = image.pixels.data() + c;
    for (int64_t i = 0; i < plane; ++i) dst[c * plane + i] = src[i * 3];
  }
  return out;
}

torch::Tensor preprocess_image(const std::string& path, const PreprocessSpec& spec, PreprocessOutput output) {
  // ImageDecodeError passes through: the batch loader counts and skips undecodable files. Anything else about one
  // image (a size beyond the limit, memory running out for it) stops the run naming the image.
  try {
    const RgbImage image = decode_image_rgb(path);
    try {
      if (output == PreprocessOutput::kPixels) return pixels_tensor(resize_and_crop(image, spec));
      return preprocess_decoded(image, spec);
    } catch (const UserError& e) {
      throw UserError(fmt::format("{}: {}", path, e.what()));
    }
  } catch (const std::bad_alloc&) {
    throw UserError(
        fmt::format("{}: out of memory preprocessing the image ({}); lower --resize/--crop", path, describe(spec)));
  } catch (const c10::Error& e) {  // the tensor allocator refusing a size
    const std::string message = e.what_without_backtrace();
    throw UserError(fmt::format("{}: cannot preprocess the image ({}): {}", path, describe(spec),
                                message.substr(0, message.find('\n'))));
  }
}

}  // namespace quantsim
