#pragma once
// The evaluation transform of a model: decode -> Resize(shorter side) -> CenterCrop -> ToTensor -> Normalize,
// equal to torchvision 0.14 on PIL images. Where it comes from: CLI overrides, else the model's sidecar JSON
// (see model_sidecar.h), else torchvision's ImageNet defaults.
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "quantsim/data/pil_resize.h"

namespace quantsim {

// Preprocessing; any field left empty is taken from the model's sidecar JSON, then from torchvision's defaults.
struct PreprocessOverrides {
  std::optional<int> resize_shorter_side;  // 0 means no resize
  std::optional<int> center_crop;          // 0 means no crop
  std::optional<std::vector<double>> mean;
  std::optional<std::vector<double>> std;
  std::optional<std::string> interpolation;  // "bilinear" (antialiased, as PIL) or "nearest"
};

struct PreprocessSpec {
  int resize_shorter_side = 256;  // 0: no resize
  int center_crop = 224;          // 0: no crop
  Interpolation interpolation = Interpolation::kBilinear;
  // x = (pixel / 255 - mean) / std per RGB channel, in float32 (the values are rounded to float32 as torch does).
  std::array<double, 3> mean{0.485, 0.456, 0.406};
  std::array<double, 3> std{0.229, 0.224, 0.225};
};

// The largest resize / crop size accepted from a flag or a sidecar. Far above any CNN input, and small enough that
// one preprocessed image (3 x N x N floats) is an allocation a machine can attempt.
constexpr int64_t kMaxImageSide = 65536;

// `size` as an image size, 0 meaning "none"; throws UserError "<what>: ..." unless 0 <= size <= kMaxImageSide.
int checked_image_side(int64_t size, const std::string& what);

// Throws UserError "<what>: ..." unless every value is finite (mean) or finite and positive (std).
void check_mean_values(const std::vector<double>& mean, const std::string& what);
void check_std_values(const std::vector<double>& std, const std::string& what);

// Parses "bilinear" / "nearest"; `context` names where the value came from for the error message.
Interpolation parse_interpolation(const std::string& name, const std::string& context);
std::string interpolation_name(Interpolation interpolation);

// Applies the fields the user set on the command line on top of `base`. Throws UserError naming the flag for
// invalid values (sizes outside 0..kMaxImageSide, mean/std not of 1 or 3 values or not finite, std <= 0, unknown
// interpolation).
PreprocessSpec apply_overrides(PreprocessSpec base, const PreprocessOverrides& overrides);

// One line for logs and results, e.g. "resize 256 bilinear, crop 224, mean [0.485,...], std [...]".
std::string describe(const PreprocessSpec& spec);

// What preprocess_image returns: the normalised float32 tensor the model reads, or the uint8 pixels after resize and
// crop that it is computed from (what an image cache stores, see image_cache.h).
enum class PreprocessOutput { kNormalized, kPixels };

// Decodes and transforms one image file into a float32 [3, H, W] tensor (uint8 [3, H, W] pixels, before ToTensor,
// with kPixels). Throws ImageDecodeError when the file cannot be decoded, and UserError naming the file when the
// transform would make an image larger than kMaxImageSide on a side or memory runs out.
torch::Tensor preprocess_image(const std::string& path, const PreprocessSpec& spec,
                               PreprocessOutput output = PreprocessOutput::kNormalized);

// Resize and center crop of `spec` on a decoded image (no ToTensor, no Normalize).
RgbImage resize_and_crop(const RgbImage& image, const PreprocessSpec& spec);

// The transform after decoding (resize, crop, ToTensor, Normalize).
torch::Tensor preprocess_decoded(const RgbImage& image, const PreprocessSpec& spec);

// ToTensor + Normalize: uint8 HWC RGB -> float32 CHW, ((float)p / 255 - mean) / std in float32 like torchvision.
torch::Tensor to_normalized_tensor(const RgbImage& image, const std::array<double, 3>& mean,
                                   const std::array<double, 3>& std);

}  // namespace quantsim
