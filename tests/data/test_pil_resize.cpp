// Pillow-exact resize, torchvision sizes and center crop: properties checked by hand.
#include "quantsim/data/pil_resize.h"

#include <gtest/gtest.h>

namespace quantsim {
namespace {

RgbImage constant_image(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  RgbImage image(w, h);
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    image.pixels[i] = r;
    image.pixels[i + 1] = g;
    image.pixels[i + 2] = b;
  }
  return image;
}

TEST(PilResize, ConstantImageStaysConstant) {
  for (auto [w, h] : {std::pair{37, 23}, std::pair{300, 451}, std::pair{5, 3}}) {
    const RgbImage image = constant_image(w, h, 7, 128, 255);
    for (auto [ow, oh] : {std::pair{16, 16}, std::pair{224, 301}, std::pair{1, 1}}) {
      const RgbImage out = pil_resize(image, ow, oh, Interpolation::kBilinear);
      ASSERT_EQ(out.width, ow);
      ASSERT_EQ(out.height, oh);
      for (size_t i = 0; i < out.pixels.size(); i += 3) {
        ASSERT_EQ(out.pixels[i], 7);
        ASSERT_EQ(out.pixels[i + 1], 128);
        ASSERT_EQ(out.pixels[i + 2], 255);
      }
    }
  }
}

TEST(PilResize, CheckerboardHalvedIsTheRoundedAverage) {
  // 2x2 checker of 0 and 255 -> 1x1: the antialiasing triangle spans both pixels with equal weight, so the result
  // is 127.5 rounded up by Pillow's +0.5 fixed-point rounding: 128.
  RgbImage image(2, 2);
  const uint8_t values[4] = {0, 255, 255, 0};
  for (int i = 0; i < 4; ++i) image.pixels[i * 3] = image.pixels[i * 3 + 1] = image.pixels[i * 3 + 2] = values[i];
  const RgbImage out = pil_resize(image, 1, 1, Interpolation::kBilinear);
  EXPECT_EQ(out.pixels[0], 128);
  // Horizontal pass first: each row [0,255] -> 128 and [255,0] -> 128; the vertical pass keeps 128.
}

TEST(PilResize, DownscaleByTwoOfARampAveragesThreeTaps) {
  // Scale 2: support 2, taps at offsets -1.5..1.5 around the centre with weights 1/8, 3/8, 3/8, 1/8 (interior).
  RgbImage image(8, 1);
  for (int x = 0; x < 8; ++x) image.pixels[x * 3] = static_cast<uint8_t>(x * 16);
  const RgbImage out = pil_resize(image, 4, 1, Interpolation::kBilinear);
  // Output 1 has centre 3.0: inputs 1..4 weigh 1/8, 3/8, 3/8, 1/8 -> (16 + 3*32 + 3*48 + 64) / 8 = 40.
  EXPECT_EQ(out.pixels[1 * 3], 40);
  // Output 0 at the border (centre 1.0): inputs 0..2 weigh 3/4, 3/4, 1/4, renormalised to 3/7, 3/7, 1/7
  // -> (0 * 3 + 16 * 3 + 32) / 7 = 11.4 -> 11.
  EXPECT_EQ(out.pixels[0], 11);
}

TEST(PilResize, SameSizeIsACopy) {
  RgbImage image(3, 2);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 13);
  EXPECT_EQ(pil_resize(image, 3, 2, Interpolation::kBilinear).pixels, image.pixels);
}

TEST(PilResize, NearestPicksPixelCentres) {
  RgbImage image(4, 1);
  for (int x = 0; x < 4; ++x) image.pixels[x * 3] = static_cast<uint8_t>(10 * (x + 1));
  const RgbImage out = pil_resize(image, 2, 1, Interpolation::kNearest);  // centres at 1.0 and 3.0
  EXPECT_EQ(out.pixels[0], 20);
  EXPECT_EQ(out.pixels[3], 40);
}

TEST(TorchvisionResizeSize, ShorterSideBecomesSizeLongerIsTruncated) {
  EXPECT_EQ(torchvision_resize_size(500, 375, 256).width, 341);  // int(256 * 500 / 375) = int(341.33)
  EXPECT_EQ(torchvision_resize_size(500, 375, 256).height, 256);
  EXPECT_EQ(torchvision_resize_size(375, 500, 256).height, 341);
  EXPECT_EQ(torchvision_resize_size(227, 227, 256).width, 256);
  EXPECT_EQ(torchvision_resize_size(300, 200, 224).width, 336);
  EXPECT_EQ(torchvision_resize_size(640, 427, 256).width, 383);  // int(383.70)
}

TEST(TorchvisionCenterCrop, OffsetsRoundHalfToEven) {
  // Width 7 -> 4: (7 - 4) / 2 = 1.5 rounds to 2; height 9 -> 4: 2.5 rounds to 2.
  RgbImage image(7, 9);
  for (int y = 0; y < 9; ++y) {
    for (int x = 0; x < 7; ++x) image.row(y)[x * 3] = static_cast<uint8_t>(y * 10 + x);
  }
  const RgbImage out = torchvision_center_crop(image, 4);
  EXPECT_EQ(out.row(0)[0], 2 * 10 + 2);
  EXPECT_EQ(out.row(3)[3 * 3], 5 * 10 + 5);
}

TEST(TorchvisionCenterCrop, SmallImageIsZeroPadded) {
  const RgbImage image = constant_image(2, 3, 9, 9, 9);
  const RgbImage out = torchvision_center_crop(image, 5);
  // Pads left 1, right 2, top 1, bottom 1 -> the image occupies columns 1..2 and rows 1..3.
  EXPECT_EQ(out.row(0)[1 * 3], 0);
  EXPECT_EQ(out.row(1)[0], 0);
  EXPECT_EQ(out.row(1)[1 * 3], 9);
  EXPECT_EQ(out.row(3)[2 * 3], 9);
  EXPECT_EQ(out.row(3)[3 * 3], 0);
  EXPECT_EQ(out.row(4)[1 * 3], 0);
}

}  // namespace
}  // namespace quantsim
