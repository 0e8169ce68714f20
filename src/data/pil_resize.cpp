#include "quantsim/data/pil_resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace quantsim {
namespace {

// Pillow's fixed point: 8 bits for the result, 2 for overflow, the rest for the fraction.
constexpr int kPrecisionBits = 32 - 8 - 2;

double triangle_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// For each output pixel: the first input pixel it reads and its integer weights (Pillow's precompute_coeffs
// followed by normalize_coeffs_8bpc, for the box [0, in_size]).
struct Coefficients {
  std::vector<int> first;        // xmin per output pixel
  std::vector<int> count;        // number of taps per output pixel
  std::vector<int32_t> weights;  // out_size * taps_max, fixed point
  int taps_max = 0;
};

Coefficients precompute_coefficients(int in_size, int out_size) {
  const double scale = static_cast<double>(static_cast<float>(in_size) - 0.0f) / out_size;
  const double filter_scale = std::max(scale, 1.0);  // antialiasing: widen the filter when downscaling
  const double support = 1.0 * filter_scale;         // the triangle filter's support is 1
  Coefficients c;
  c.taps_max = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.taps_max, 0);
  std::vector<double> k(c.taps_max);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = 0.0 + (xx + 0.5) * scale;
    const double inv_filter_scale = 1.0 / filter_scale;
    int xmin = static_cast<int>(center - support + 0.5);  // truncation toward zero, as Pillow's (int) cast
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = triangle_filter((x + xmin - center + 0.5) * inv_filter_scale);
      total += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      if (total != 0.0) k[x] /= total;
      const double w = k[x] * (1 << kPrecisionBits);
      c.weights[static_cast<size_t>(xx) * c.taps_max + x] = static_cast<int32_t>(k[x] < 0 ? -0.5 + w : 0.5 + w);
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

// Pillow's clip8: drop the fraction (arithmetic shift, i.e. floor) and clamp to 0..255.
inline uint8_t clip8(int32_t accumulator) {
  const int32_t v = accumulator >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Horizontal pass over rows [row_begin, row_begin + out.height) of `in`.
void resample_horizontal(const RgbImage& in, int row_begin, const Coefficients& c, RgbImage* out) {
  for (int yy = 0; yy < out->height; ++yy) {
    const uint8_t* src = in.row(yy + row_begin);
    uint8_t* dst = out->row(yy);
    for (int xx = 0; xx < out->width; ++xx) {
      const int32_t* k = &c.weights[static_cast<size_t>(xx) * c.taps_max];
      const uint8_t* p = src + static_cast<size_t>(c.first[xx]) * 3;
      int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;  // +0.5 for rounding
      for (int x = 0; x < c.count[xx]; ++x, p += 3) {
        s0 += p[0] * k[x];
        s1 += p[1] * k[x];
        s2 += p[2] * k[x];
      }
      dst[xx * 3 + 0] = clip8(s0);
      dst[xx * 3 + 1] = clip8(s1);
      dst[xx * 3 + 2] = clip8(s2);
    }
  }
}

// Vertical pass; `c.first` is relative to the first row of `in`.
void resample_vertical(const RgbImage& in, const Coefficients& c, RgbImage* out) {
  const size_t stride = static_cast<size_t>(in.width) * 3;
  std::vector<int32_t> acc(stride);
  for (int yy = 0; yy < out->height; ++yy) {
    const int32_t* k = &c.weights[static_cast<size_t>(yy) * c.taps_max];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    // Row by row, so the inner loop runs over contiguous memory; integer sums are order independent.
    for (int y = 0; y < c.count[yy]; ++y) {
      const uint8_t* src = in.row(c.first[yy] + y);
      const int32_t w = k[y];
      for (size_t i = 0; i < stride; ++i) acc[i] += src[i] * w;
    }
    uint8_t* dst = out->row(yy);
    for (size_t i = 0; i < stride; ++i) dst[i] = clip8(acc[i]);
  }
}

RgbImage resize_bilinear(const RgbImage& image, int out_width, int out_height) {
  const bool need_horizontal = out_width != image.width;
  const bool need_vertical = out_height != image.height;
  Coefficients vertical = precompute_coefficients(image.height, out_height);
  // Only the input rows the vertical pass reads go through the horizontal pass (as Pillow does).
  const int row_first = vertical.first[0];
  const int row_last = vertical.first[out_height - 1] + vertical.count[out_height - 1];
  RgbImage current;
  const RgbImage* source = &image;
  if (need_horizontal) {
    const Coefficients horizontal = precompute_coefficients(image.width, out_width);
    for (int& first : vertical.first) first -= row_first;
    current = RgbImage(out_width, row_last - row_first);
    resample_horizontal(image, row_first, horizontal, &current);
    source = &current;
  }
  if (!need_vertical) return need_horizontal ? current : image;
  RgbImage out(source->width, out_height);
  resample_vertical(*source, vertical, &out);
  return out;
}

// Pillow resizes with NEAREST through ImagingScaleAffine: the source coordinate starts at scale / 2 and grows by
// `scale` per output pixel (accumulated, as Pillow does), truncated to an index.
std::vector<int> nearest_sources(int in_size, int out_size) {
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  std::vector<int> sources(out_size);
  double position = 0.0 + scale * 0.5;
  for (int i = 0; i < out_size; ++i, position += scale) {
    sources[i] = std::min(std::max(static_cast<int>(position), 0), in_size - 1);
  }
  return sources;
}

RgbImage resize_nearest(const RgbImage& image, int out_width, int out_height) {
  const std::vector<int> columns = nearest_sources(image.width, out_width);
  const std::vector<int> rows = nearest_sources(image.height, out_height);
  RgbImage out(out_width, out_height);
  for (int y = 0; y < out_height; ++y) {
    const uint8_t* src = image.row(rows[y]);
    uint8_t* dst = out.row(y);
    for (int x = 0; x < out_width; ++x) std::memcpy(dst + x * 3, src + columns[x] * 3, 3);
  }
  return out;
}

}  // namespace

RgbImage pil_resize(const RgbImage& image, int out_width, int out_height, Interpolation interpolation) {
  if (out_width <= 0 || out_height <= 0 || image.width <= 0 || image.height <= 0) {
    throw std::invalid_argument("pil_resize: empty image or output size");
  }
  if (out_width == image.width && out_height == image.height) return image;
  return interpolation == Interpolation::kNearest ? resize_nearest(image, out_width, out_height)
                                                  : resize_bilinear(image, out_width, out_height);
}

Size2D torchvision_resize_size(int width, int height, int shorter_side) {
  const bool width_is_short = width <= height;
  const int64_t short_side = width_is_short ? width : height;
  const int64_t long_side = width_is_short ? height : width;
  // Python: int(size * long / short), a true (correctly rounded) division then truncation.
  const int new_long =
      static_cast<int>(static_cast<double>(shorter_side * long_side) / static_cast<double>(short_side));
  return width_is_short ? Size2D{shorter_side, new_long} : Size2D{new_long, shorter_side};
}

RgbImage torchvision_center_crop(const RgbImage& image, int size) {
  const RgbImage* source = &image;
  RgbImage padded;
  if (size > image.width || size > image.height) {
    // torchvision pads with zeros: left/top get the floor half of the missing pixels, right/bottom the rest.
    const int pad_left = size > image.width ? (size - image.width) / 2 : 0;
    const int pad_top = size > image.height ? (size - image.height) / 2 : 0;
    padded = RgbImage(std::max(size, image.width), std::max(size, image.height));
    for (int y = 0; y < image.height; ++y) {
      std::memcpy(padded.row(y + pad_top) + pad_left * 3, image.row(y), static_cast<size_t>(image.width) * 3);
    }
    source = &padded;
  }
  // int(round((h - size) / 2.0)) with Python's round half to even: nearbyint in the default rounding mode.
  const int top = static_cast<int>(std::nearbyint((source->height - size) / 2.0));
  const int left = static_cast<int>(std::nearbyint((source->width - size) / 2.0));
  RgbImage out(size, size);
  for (int y = 0; y < size; ++y) {
    std::memcpy(out.row(y), source->row(y + top) + left * 3, static_cast<size_t>(size) * 3);
  }
  return out;
}

}  // namespace quantsim
