// Threaded batch loading: order, skipped bad images, errors.
#include "quantsim/data/batch_loader.h"

#include <gtest/gtest.h>

#include "data_test_util.h"
#include "quantsim/core/errors.h"

#ifdef QUANTSIM_WITH_OPENCV  // these tests write images with OpenCV

namespace quantsim {
namespace {
using testing::TempDir;

// 23 images whose top-left red value encodes their position, 8x8 each; `bad` positions hold garbage bytes.
std::vector<LabeledImage> make_images(const TempDir& dir, int n, const std::set<int>& bad) {
  std::vector<LabeledImage> images;
  for (int i = 0; i < n; ++i) {
    const std::string path = dir / ("img" + std::to_string(i) + ".png");
    if (bad.count(i)) {
      testing::write_text(path, "garbage");
    } else {
      cv::Mat image(8, 8, CV_8UC3, cv::Scalar(0, 0, 0));
      image.at<cv::Vec3b>(0, 0) = cv::Vec3b(0, 0, static_cast<uint8_t>(i));  // BGR: red = i
      testing::write_image(path, image);
    }
    images.push_back({path, 100 + i});
  }
  return images;
}

PreprocessSpec raw_pixels() {
  PreprocessSpec spec;
  spec.resize_shorter_side = 0;
  spec.center_crop = 0;
  spec.mean = {0, 0, 0};
  spec.std = {1.0 / 255, 1.0 / 255, 1.0 / 255};
  return spec;
}

BatchLoaderOptions options(int batch_size, int workers, int prefetch = 2) {
  BatchLoaderOptions o;
  o.batch_size = batch_size;
  o.workers = workers;
  o.prefetch_batches = prefetch;
  o.progress = false;
  return o;
}

TEST(BatchLoader, BatchesComeInInputOrderForAnyThreadCount) {
  TempDir dir;
  const std::vector<LabeledImage> images = make_images(dir, 23, {});
  for (int workers : {1, 3, 8}) {
    for (int prefetch : {0, 2}) {
      BatchLoader loader(images, raw_pixels(), options(5, workers, prefetch));
      std::vector<int64_t> seen;
      int batches = 0;
      while (std::optional<Batch> batch = loader.next()) {
        ++batches;
        ASSERT_EQ(batch->images.dim(), 4);
        EXPECT_EQ(batch->images.size(1), 3);
        EXPECT_EQ(batch->images.size(2), 8);
        EXPECT_EQ(batch->images.dtype(), torch::kFloat32);
        EXPECT_EQ(batch->labels.dtype(), torch::kInt64);
        for (int64_t k = 0; k < batch->images.size(0); ++k) {
          const int64_t position = batch->indices[k];
          EXPECT_NEAR(batch->images[k][0][0][0].item<float>(), position, 1e-3);  // red pixel encodes position
          EXPECT_EQ(batch->labels[k].item<int64_t>(), 100 + position);
          seen.push_back(position);
        }
      }
      EXPECT_EQ(batches, 5);  // 5+5+5+5+3
      std::vector<int64_t> expected(23);
      std::iota(expected.begin(), expected.end(), 0);
      EXPECT_EQ(seen, expected) << workers << " workers, prefetch " << prefetch;
      EXPECT_EQ(loader.bad_count(), 0);
      EXPECT_FALSE(loader.next().has_value());
    }
  }
}

TEST(BatchLoader, CorruptImagesAreSkippedCountedAndReported) {
  TempDir dir;
  // Positions 5..9 form a whole bad batch: it must be skipped, not returned empty.
  const std::vector<LabeledImage> images = make_images(dir, 12, {1, 5, 6, 7, 8, 9, 11});
  BatchLoader loader(images, raw_pixels(), options(5, 3));
  std::vector<int64_t> seen;
  while (std::optional<Batch> batch = loader.next()) {
    EXPECT_EQ(batch->images.size(0), static_cast<int64_t>(batch->indices.size()));
    EXPECT_EQ(batch->labels.size(0), static_cast<int64_t>(batch->indices.size()));
    seen.insert(seen.end(), batch->indices.begin(), batch->indices.end());
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 2, 3, 4, 10}));
  EXPECT_EQ(loader.bad_count(), 7);
  const std::vector<BadImage> bad = loader.bad_images();
  ASSERT_EQ(bad.size(), 7u);
  EXPECT_EQ(bad.front().path, images[1].path);  // reported in input order
  EXPECT_EQ(bad.back().path, images[11].path);
  EXPECT_NE(bad.front().reason.find("img1.png"), std::string::npos);
}

TEST(BatchLoader, DifferentSizesWithoutCropIsAUserError) {
  TempDir dir;
  testing::write_image(dir / "a.png", cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)));
  testing::write_image(dir / "b.png", cv::Mat(9, 8, CV_8UC3, cv::Scalar(1, 2, 3)));
  BatchLoader loader({{dir / "a.png", 0}, {dir / "b.png", 1}}, raw_pixels(), options(2, 2));
  EXPECT_THROW(loader.next(), UserError);
}

TEST(BatchLoader, StoppingEarlyJoinsWorkers) {
  TempDir dir;
  const std::vector<LabeledImage> images = make_images(dir, 40, {});
  BatchLoader loader(images, raw_pixels(), options(2, 4, 1));
  ASSERT_TRUE(loader.next().has_value());
  // The destructor must stop the workers blocked on the prefetch window without hanging.
}

TEST(BatchLoader, InvalidBatchSizeIsAUserError) {
  EXPECT_THROW(BatchLoader({}, raw_pixels(), options(0, 1)), UserError);
}

}  // namespace
}  // namespace quantsim

#endif  // QUANTSIM_WITH_OPENCV
