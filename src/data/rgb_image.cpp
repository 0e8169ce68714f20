#include "quantsim/data/rgb_image.h"

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"

#ifdef QUANTSIM_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace quantsim {

#ifdef QUANTSIM_WITH_OPENCV

RgbImage decode_image_rgb(const std::string& path) {
  // IMREAD_COLOR expands grayscale with libjpeg's own conversion (three equal channels, as PIL's convert("RGB"))
  // and drops alpha; IMREAD_IGNORE_ORIENTATION because PIL does not apply EXIF rotation either.
  // Checked first because OpenCV logs its own warning for a missing file.
  // A FIFO would also block imread forever.
  const std::string problem = regular_file_problem(path);
  if (!problem.empty()) throw ImageDecodeError(path + ": cannot read image (" + problem + ")");
  cv::Mat bgr;
  try {
    bgr = cv::imread(path, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const cv::Exception& e) {
    throw ImageDecodeError(path + ": cannot decode image (" + e.what() + ")");
  }
  if (bgr.empty()) throw ImageDecodeError(path + ": cannot decode image (missing, corrupt or unknown format)");
  if (bgr.depth() != CV_8U || bgr.channels() != 3) {
    throw ImageDecodeError(path + ": unexpected decoded pixel format");
  }
  RgbImage image(bgr.cols, bgr.rows);
  cv::Mat rgb(bgr.rows, bgr.cols, CV_8UC3, image.pixels.data());
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);  // writes into image.pixels
  return image;
}

#else

RgbImage decode_image_rgb(const std::string& path) {
  throw UserError(path + ": this build of quant-sim has no image decoder (built without OpenCV)");
}

#endif

}  // namespace quantsim
