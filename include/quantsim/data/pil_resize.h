#pragma once
// Pillow 9.4's Image.resize for 8-bit images, bit for bit, plus the output sizes and crop offsets of torchvision
// 0.14's Resize(int) and CenterCrop on PIL images. Reproducing the reference pipeline exactly matters: accuracy
// tables (and parity with the Python tools) move by tenths of a point with a different resampler.
#include "quantsim/data/rgb_image.h"

namespace quantsim {

enum class Interpolation { kBilinear, kNearest };

// Pillow's separable convolution resampler with the triangle filter (Image.BILINEAR, antialiased: the support
// grows with the downscale factor), fixed-point coefficients with 22 fraction bits, rounded and clipped to uint8
// after the horizontal pass and again after the vertical pass. kNearest is Image.NEAREST. Same size: a copy.
RgbImage pil_resize(const RgbImage& image, int out_width, int out_height, Interpolation interpolation);

struct Size2D {
  int width = 0;
  int height = 0;
};

// torchvision.transforms.Resize(shorter_side) on a width x height image: the shorter side becomes
// `shorter_side` and the longer int(shorter_side * long / short) (truncated).
Size2D torchvision_resize_size(int width, int height, int shorter_side);

// torchvision.transforms.CenterCrop(size): zero-pads when the image is smaller than the crop (as torchvision
// does), then crops at top = round((h - size) / 2), left = round((w - size) / 2) with round half to even.
RgbImage torchvision_center_crop(const RgbImage& image, int size);

}  // namespace quantsim
