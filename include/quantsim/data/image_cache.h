#pragma once
// The decode-once image cache (docs/CACHE.md): the uint8 pixels of a dataset after resize and center crop, before
// ToTensor and Normalize, with labels, class names and fingerprints of the source images and of the preprocessing.
// Built once (`quant-sim cache build`, or tools/build_cache.py), then read memory-mapped by every run that names it
// with --data: a sweep of many configurations decodes each JPEG once instead of once per configuration. The
// normalisation of a cached batch is the float32 arithmetic of to_normalized_tensor, so results equal those from the
// image files to the last image.
//
//   auto cache = quantsim::ImageCache::open(path);          // validates the file, maps it
//   quantsim::check_image_cache_preprocess(*cache, spec);   // the run's resize/crop/interpolation must be the cache's
//   quantsim::check_image_cache_sources(*cache);            // refuses a stale cache
//   quantsim::ImageCacheBatches batches(cache, images, spec, options);  // a BatchSource
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "quantsim/data/batch_loader.h"
#include "quantsim/data/dataset.h"
#include "quantsim/data/preprocess.h"

namespace quantsim {

// The first 8 bytes of every cache file.
constexpr char kImageCacheMagic[8] = {'Q', 'S', 'I', 'M', 'C', 'A', 'C', 'H'};
constexpr uint32_t kImageCacheVersion = 1;

// Which images of the dataset a cache holds: all of them in canonical order, or the first `subset` of the selection
// of -ss/-sh (select_images), in that order.
struct ImageCacheSelection {
  int64_t dataset_images = 0;     // images in the dataset when it was built
  std::optional<int64_t> subset;  // -ss when it was built (unset: all)
  bool shuffle = false;           // -sh
  uint64_t seed = 0;              // --seed
};

// One source image as the fingerprint sees it.
struct ImageCacheSourceFile {
  std::string relative_path;  // relative to the data root
  int64_t label = 0;
  int64_t size = 0;      // bytes
  int64_t mtime_ns = 0;  // modification time, nanoseconds since the epoch
};

// Everything but the pixels: the header and the metadata of docs/CACHE.md.
struct ImageCacheInfo {
  int64_t image_count = 0;
  int height = 0;
  int width = 0;
  PreprocessSpec spec;           // resize, crop and interpolation (mean and std are the run's, applied when reading)
  std::string data_root;         // absolute folder the images were read from (after the val/ rule)
  std::string data_arg;          // absolute --data folder given to the build
  std::string layout;            // Dataset::layout
  std::string class_order_file;  // absolute, or empty
  std::vector<std::string> class_names;
  std::vector<std::string> relative_paths;  // the cached images, in cache order
  std::vector<int64_t> labels;
  std::vector<uint8_t> bad;  // 1: the image could not be decoded when the cache was built (its pixels are zero)
  std::vector<std::string> bad_reasons;  // by cache position, empty for good images
  ImageCacheSelection selection;
  std::vector<ImageCacheSourceFile> sources;  // every image of the dataset, canonical order
  std::string sources_fingerprint;            // hex SHA-256 (image_cache_sources_fingerprint)
  std::string preprocess_fingerprint;         // hex SHA-256 of resize, crop and interpolation
};

// A cache file opened read-only and memory-mapped; the pixels are paged in as batches read them.
class ImageCache {
 public:
  // Maps and checks the file. Throws UserError "<path>: not a valid image cache (...)" for a file that is not one,
  // is truncated, of another version or inconsistent; never reads past the file's end.
  static std::shared_ptr<const ImageCache> open(const std::string& path);
  ~ImageCache();
  ImageCache(const ImageCache&) = delete;
  ImageCache& operator=(const ImageCache&) = delete;

  const std::string& path() const { return path_; }
  const ImageCacheInfo& info() const { return info_; }
  int64_t image_bytes() const { return 3LL * info_.height * info_.width; }
  const uint8_t* pixels(int64_t index) const;  // uint8 [3, H, W] (CHW, RGB) of cache position `index`
  // The cached images as a Dataset: images "<data_root>/<relative path>" with their labels, in cache order.
  Dataset dataset() const;
  // Cache position of an image of dataset(); -1 when it is not in the cache.
  int64_t index_of(const std::string& image_path) const;

 private:
  ImageCache() = default;
  std::string path_;
  ImageCacheInfo info_;
  const uint8_t* map_ = nullptr;
  size_t map_bytes_ = 0;
  uint64_t pixels_offset_ = 0;
  std::unordered_map<std::string, int64_t> index_;
};

// True when `path` is a regular file that starts with kImageCacheMagic (how --data tells a cache from a folder).
bool is_image_cache_file(const std::string& path);

// Hex SHA-256 over the data root, the layout and, per source image, its relative path, label, size and time.
std::string image_cache_sources_fingerprint(const std::string& data_root, const std::string& layout,
                                            const std::vector<ImageCacheSourceFile>& sources);

// Hex SHA-256 of the preprocessing a cache holds (resize, crop, interpolation; docs/CACHE.md).
std::string image_cache_preprocess_fingerprint(const PreprocessSpec& spec);

// The fingerprint entries of `images` (stat of each file), paths taken relative to `root`.
std::vector<ImageCacheSourceFile> stat_source_images(const std::string& root, const std::vector<LabeledImage>& images);

// Throws a one-line UserError saying what differs, and how to rebuild, unless the run's resize, crop and
// interpolation equal the cache's.
void check_image_cache_preprocess(const ImageCache& cache, const PreprocessSpec& run);

// Whether the sources were compared: kChecked (they equal the fingerprint), or kSourcesAbsent when the recorded data
// folder does not exist here (a cache carried to another machine). Throws UserError naming the first image that
// changed, was added or removed (a stale cache).
enum class SourceCheck { kChecked, kSourcesAbsent };
SourceCheck check_image_cache_sources(const ImageCache& cache);

// The images of a run from the cache: select_images (dataset.h) on the cached images when the cache holds the whole
// dataset. A cache of a selection (-ss when built) serves runs whose selection is a head of it: the same -sh/--seed
// and a count no larger; else UserError saying how to rebuild.
std::vector<LabeledImage> select_cached_images(const ImageCache& cache, std::optional<int64_t> count, bool shuffle,
                                               uint64_t seed, const std::string& what = "--subset");

// Batches of a cache, normalised (to_normalized_tensor's float32 arithmetic) on options.device: the uint8 pixels of
// each batch are gathered from the mapping, moved to the device, then converted there. Images bad at build time are
// skipped and reported as BatchLoader reports undecodable files.
class ImageCacheBatches : public BatchSource {
 public:
  // Throws UserError when an image is not in the cache or batch_size < 1.
  ImageCacheBatches(std::shared_ptr<const ImageCache> cache, const std::vector<LabeledImage>& images,
                    const PreprocessSpec& spec, const BatchLoaderOptions& options);
  std::optional<Batch> next() override;
  int64_t total() const override { return static_cast<int64_t>(positions_.size()); }
  std::vector<BadImage> bad_images() const override;

 private:
  std::shared_ptr<const ImageCache> cache_;
  std::vector<int64_t> positions_;  // cache position of each input image
  std::vector<int64_t> labels_;
  BatchLoaderOptions options_;
  torch::Tensor scale_, mean_, std_;  // [1, 3, 1, 1] float32 on the device
  int64_t next_ = 0;
  std::vector<BadImage> bad_;
  ProgressBar progress_;
};

// Normalises uint8 [N, 3, H, W] pixels as to_normalized_tensor does, on the pixels' device.
torch::Tensor normalize_pixels(const torch::Tensor& pixels, const std::array<double, 3>& mean,
                               const std::array<double, 3>& std);

// What `quant-sim cache build` writes.
struct ImageCacheBuild {
  std::string data_arg;              // the --data folder
  Dataset dataset;                   // as load_dataset read it
  std::vector<LabeledImage> images;  // the selection to cache (all of dataset.images, or -ss/-sh's)
  ImageCacheSelection selection;
  PreprocessSpec spec;
  int batch_size = 64;
  int workers = 4;
  bool progress = true;
};

struct ImageCacheSummary {
  int64_t images = 0;
  int64_t bad_images = 0;
  int height = 0;
  int width = 0;
  uint64_t bytes = 0;
};

// Decodes the images with the batch loader (PreprocessOutput::kPixels) and writes the cache atomically (no partial
// file is left when it fails). Throws UserError when no image decodes or the images differ in size (no crop).
ImageCacheSummary write_image_cache(const std::string& path, const ImageCacheBuild& build);

}  // namespace quantsim
