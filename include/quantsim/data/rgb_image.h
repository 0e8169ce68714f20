#pragma once
// An 8-bit RGB image in memory (row-major, interleaved R,G,B), and decoding one from a file the way torchvision's
// ImageFolder loader sees it: PIL.Image.open(path).convert("RGB").
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace quantsim {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // height * width * 3 bytes, RGB

  RgbImage() = default;
  RgbImage(int w, int h) : width(w), height(h), pixels(static_cast<size_t>(w) * h * 3) {}
  uint8_t* row(int y) { return pixels.data() + static_cast<size_t>(y) * width * 3; }
  const uint8_t* row(int y) const { return pixels.data() + static_cast<size_t>(y) * width * 3; }
};

// A file that exists in the dataset but cannot be decoded as an image (corrupt, truncated, not an image).
// Not a UserError: the batch loader counts and skips these, and the caller decides whether too many went bad.
class ImageDecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Decodes JPEG/PNG/... to 8-bit RGB. Grayscale expands to three equal channels, alpha is dropped and the EXIF
// orientation is ignored (as PIL does). Throws ImageDecodeError naming the file. Without OpenCV in the build,
// throws UserError: such a build can run the kernels and quantizers, not evaluate images.
RgbImage decode_image_rgb(const std::string& path);

}  // namespace quantsim
