// The image cache (data/image_cache.h, docs/CACHE.md): same pixels and same normalised batches as decoding the
// files, staleness and preprocessing checks, damaged files refused with one line, atomic writes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "quantsim/core/errors.h"
#include "quantsim/data/image_cache.h"
#include "quantsim/data/image_set.h"
#include "support/fixtures.h"

namespace quantsim {
namespace {

namespace fs = std::filesystem;

PreprocessSpec small_spec() {
  PreprocessSpec spec;
  spec.resize_shorter_side = 20;  // 16x16 -> 20x20 -> 12x12: both resize and crop take part
  spec.center_crop = 12;
  spec.mean = {0.485, 0.456, 0.406};
  spec.std = {0.229, 0.224, 0.225};
  return spec;
}

ImageCacheBuild build_of(const std::string& root, const PreprocessSpec& spec) {
  ImageCacheBuild build;
  build.data_arg = root;
  build.dataset = load_dataset(root);
  build.images = build.dataset.images;
  build.selection.dataset_images = static_cast<int64_t>(build.images.size());
  build.spec = spec;
  build.batch_size = 4;
  build.workers = 2;
  build.progress = false;
  return build;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

class ImageCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_temp_dir("image_cache");
    root_ = dir_ + "/data";
    testing::make_image_folder(root_, {"cat", "dog", "eel"}, 5, 7);
    cache_ = dir_ + "/images.qsc";
  }
  std::string dir_, root_, cache_;
};

TEST(ImageCacheNormalize, EqualsToNormalizedTensorBitForBit) {
  RgbImage image(37, 23);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>((i * 131 + 7) % 256);
  for (const auto& [mean, std] :
       {std::pair<std::array<double, 3>, std::array<double, 3>>{{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}},
        {{0.0, 0.0, 0.0}, {1.0 / 255, 1.0 / 255, 1.0 / 255}},
        {{0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}}}) {
    const torch::Tensor expected = to_normalized_tensor(image, mean, std);
    torch::Tensor chw = torch::from_blob(image.pixels.data(), {image.height, image.width, 3}, torch::kUInt8)
                            .permute({2, 0, 1})
                            .contiguous()
                            .unsqueeze(0);
    const torch::Tensor got = normalize_pixels(chw, mean, std);
    ASSERT_EQ(got.sizes(), expected.unsqueeze(0).sizes());
    EXPECT_TRUE(torch::equal(got.squeeze(0), expected)) << "mean " << mean[0] << " std " << std[0];
  }
}

TEST_F(ImageCacheTest, PixelsAndBatchesEqualThoseDecodedFromTheFiles) {
  const ImageCacheBuild build = build_of(root_, small_spec());
  const ImageCacheSummary summary = write_image_cache(cache_, build);
  EXPECT_EQ(summary.images, 15);
  EXPECT_EQ(summary.height, 12);
  EXPECT_EQ(summary.bytes, fs::file_size(cache_));
  EXPECT_TRUE(is_image_cache_file(cache_));
  EXPECT_FALSE(is_image_cache_file(root_));

  const auto cache = ImageCache::open(cache_);
  ASSERT_EQ(cache->info().image_count, 15);
  EXPECT_EQ(cache->info().class_names, (std::vector<std::string>{"cat", "dog", "eel"}));
  const Dataset dataset = cache->dataset();
  for (size_t i = 0; i < build.images.size(); ++i) {
    EXPECT_EQ(dataset.images[i].label, build.images[i].label);
    const torch::Tensor pixels = preprocess_image(build.images[i].path, build.spec, PreprocessOutput::kPixels);
    EXPECT_EQ(std::memcmp(pixels.data_ptr<uint8_t>(), cache->pixels(static_cast<int64_t>(i)), 3 * 12 * 12), 0) << i;
  }

  // Every batch, over an -ss/-sh-like selection: the same images, labels, positions and float32 values.
  const std::vector<LabeledImage> selected = select_cached_images(*cache, 11, true, 5);
  const std::vector<LabeledImage> from_files = select_images(build.dataset.images, 11, true, 5);
  ImageSet files{root_, from_files, build.spec, nullptr};
  ImageSet cached{root_, selected, build.spec, cache};
  const auto a = read_batches(files, {4, 2, 2, false, "files"});
  const auto b = read_batches(cached, {4, 2, 2, false, "cache"});
  int batches = 0;
  while (auto x = a->next()) {
    auto y = b->next();
    ASSERT_TRUE(y.has_value());
    EXPECT_TRUE(torch::equal(x->images, y->images));
    EXPECT_TRUE(torch::equal(x->labels, y->labels));
    EXPECT_EQ(x->indices, y->indices);
    ++batches;
  }
  EXPECT_FALSE(b->next().has_value());
  EXPECT_EQ(batches, 3);
  EXPECT_TRUE(torch::equal(first_decodable_image(files), first_decodable_image(cached)));
}

TEST_F(ImageCacheTest, ImagesThatDoNotDecodeAreRecordedAndSkippedAsTheLoaderSkipsThem) {
  std::ofstream(root_ + "/dog/broken.png") << "not a png";
  const ImageCacheBuild build = build_of(root_, small_spec());
  EXPECT_EQ(write_image_cache(cache_, build).bad_images, 1);
  const auto cache = ImageCache::open(cache_);
  ImageSet cached{root_, cache->dataset().images, build.spec, cache};
  ImageSet files{root_, build.images, build.spec, nullptr};
  const auto a = read_batches(files, {4, 1, 2, false, "files"});
  const auto b = read_batches(cached, {4, 1, 2, false, "cache"});
  while (auto x = a->next()) {
    auto y = b->next();
    ASSERT_TRUE(y.has_value());
    EXPECT_TRUE(torch::equal(x->images, y->images));
    EXPECT_EQ(x->indices, y->indices);
  }
  EXPECT_EQ(b->bad_count(), 1);
  EXPECT_EQ(b->bad_images().front().path, a->bad_images().front().path);
}

TEST_F(ImageCacheTest, ARunWithOtherPreprocessingIsRefusedSayingWhatDiffers) {
  write_image_cache(cache_, build_of(root_, small_spec()));
  const auto cache = ImageCache::open(cache_);
  PreprocessSpec run = small_spec();
  run.mean = {0.0, 0.0, 0.0};  // normalisation is the run's: no conflict
  EXPECT_NO_THROW(check_image_cache_preprocess(*cache, run));
  run.center_crop = 10;
  const std::string message = error_of([&] { check_image_cache_preprocess(*cache, run); });
  EXPECT_NE(message.find("crop 12"), std::string::npos) << message;
  EXPECT_NE(message.find("crop 10"), std::string::npos) << message;
  EXPECT_NE(message.find("quant-sim cache build"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  run = small_spec();
  run.interpolation = Interpolation::kNearest;
  EXPECT_NE(error_of([&] { check_image_cache_preprocess(*cache, run); }).find("nearest"), std::string::npos);
}

TEST_F(ImageCacheTest, ChangedAddedOrRemovedSourcesMakeTheCacheStale) {
  write_image_cache(cache_, build_of(root_, small_spec()));
  EXPECT_EQ(check_image_cache_sources(*ImageCache::open(cache_)), SourceCheck::kChecked);

  const std::string image = root_ + "/dog/1.png";
  struct utimbuf times {
    100000, 100000
  };  // same bytes, another modification time
  ASSERT_EQ(::utime(image.c_str(), &times), 0);
  std::string message = error_of([&] { check_image_cache_sources(*ImageCache::open(cache_)); });
  EXPECT_NE(message.find("dog/1.png changed"), std::string::npos) << message;
  EXPECT_NE(message.find("stale"), std::string::npos) << message;

  write_image_cache(cache_, build_of(root_, small_spec()));  // rebuilt: fresh again
  EXPECT_EQ(check_image_cache_sources(*ImageCache::open(cache_)), SourceCheck::kChecked);
  fs::copy_file(root_ + "/cat/0.png", root_ + "/cat/9.png");
  message = error_of([&] { check_image_cache_sources(*ImageCache::open(cache_)); });
  EXPECT_NE(message.find("cat/9.png was added"), std::string::npos) << message;

  write_image_cache(cache_, build_of(root_, small_spec()));
  fs::remove(root_ + "/eel/2.png");
  message = error_of([&] { check_image_cache_sources(*ImageCache::open(cache_)); });
  EXPECT_NE(message.find("eel/2.png was removed"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);

  // Carried to a machine without the sources: used, unchecked.
  fs::rename(root_, dir_ + "/elsewhere");
  EXPECT_EQ(check_image_cache_sources(*ImageCache::open(cache_)), SourceCheck::kSourcesAbsent);
}

TEST_F(ImageCacheTest, TruncatedOrCorruptFilesAreRefusedWithOneLineNamingTheFile) {
  write_image_cache(cache_, build_of(root_, small_spec()));
  const std::string bytes = [&] {
    std::ifstream in(cache_, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  const std::string damaged = dir_ + "/damaged.qsc";
  const auto refused = [&](const std::string& contents, const std::string& why) {
    std::ofstream(damaged, std::ios::binary | std::ios::trunc) << contents;
    const std::string message = error_of([&] { ImageCache::open(damaged); });
    EXPECT_NE(message.find(damaged + ": not a valid image cache"), std::string::npos) << why << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << why;
  };
  refused(bytes.substr(0, bytes.size() - 1), "last byte cut");
  refused(bytes.substr(0, 5000), "pixels cut");
  refused(bytes.substr(0, 100), "header cut");
  refused("", "empty");
  refused(bytes + "x", "byte appended");
  std::string wrong = bytes;
  wrong[0] = 'X';
  refused(wrong, "magic");
  wrong = bytes;
  wrong[8] = 9;
  refused(wrong, "version");
  wrong = bytes;
  wrong[16] = static_cast<char>(wrong[16] + 1);
  refused(wrong, "image count");
  wrong = bytes;
  wrong[bytes.size() - 3] = '#';
  refused(wrong, "metadata");
  wrong = bytes;
  wrong[90] = static_cast<char>(wrong[90] == 'a' ? 'b' : 'a');
  refused(wrong, "fingerprint");
  // Flipping any single header byte never crashes: the file is refused or still reads.
  for (size_t i = 0; i < 208; ++i) {
    wrong = bytes;
    wrong[i] = static_cast<char>(wrong[i] ^ 0x5a);
    std::ofstream(damaged, std::ios::binary | std::ios::trunc) << wrong;
    try {
      ImageCache::open(damaged);
    } catch (const UserError&) {
    }
  }
}

TEST_F(ImageCacheTest, AFailedBuildLeavesNoFileBehind) {
  PreprocessSpec spec = small_spec();
  spec.resize_shorter_side = 0;
  spec.center_crop = 0;
  // Sizes differ: an 18-pixel-wide image among 16-pixel ones.
  {
    RgbImage wide(18, 16);
    std::ofstream(root_ + "/eel/wide.ppm") << "P6\n18 16\n255\n" << std::string(wide.pixels.begin(), wide.pixels.end());
  }
  std::ofstream(cache_, std::ios::trunc) << "old";
  const std::string message = error_of([&] { write_image_cache(cache_, build_of(root_, spec)); });
  EXPECT_NE(message.find("differs"), std::string::npos) << message;
  std::ifstream in(cache_);
  std::string contents((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(contents, "old");  // the old file untouched
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
  }
}

TEST_F(ImageCacheTest, APartialCacheServesOnlyAHeadOfItsSelection) {
  ImageCacheBuild build = build_of(root_, small_spec());
  build.images = select_images(build.dataset.images, 6, true, 3);
  build.selection.subset = 6;
  build.selection.shuffle = true;
  build.selection.seed = 3;
  write_image_cache(cache_, build);
  const auto cache = ImageCache::open(cache_);
  const std::vector<LabeledImage> four = select_cached_images(*cache, 4, true, 3);
  const std::vector<LabeledImage> expected = select_images(build.dataset.images, 4, true, 3);
  ASSERT_EQ(four.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(four[i].path, expected[i].path);
  EXPECT_NE(error_of([&] { select_cached_images(*cache, 7, true, 3); }).find("holds 6 of the 15"), std::string::npos);
  EXPECT_NE(error_of([&] { select_cached_images(*cache, 4, true, 4); }), "");             // another seed
  EXPECT_NE(error_of([&] { select_cached_images(*cache, 4, false, 3); }), "");            // no shuffle
  EXPECT_NE(error_of([&] { select_cached_images(*cache, std::nullopt, true, 3); }), "");  // all images
}

}  // namespace
}  // namespace quantsim
