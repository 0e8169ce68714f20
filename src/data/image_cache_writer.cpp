// write_image_cache: decodes a dataset once with the batch loader and writes the cache file (docs/CACHE.md).
#include <filesystem>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "image_cache_format.h"
#include "quantsim/core/atomic_file_writer.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/utc_timestamp.h"
#include "quantsim/data/image_cache.h"

namespace quantsim {
namespace fs = std::filesystem;

namespace {

// Absolute, normalised, without a trailing separator (as tools/build_cache.py writes it).
std::string absolute(const std::string& path) {
  if (path.empty()) return path;
  fs::path normal = fs::absolute(fs::path(path)).lexically_normal();
  if (!normal.has_filename() && normal.has_parent_path() && normal != normal.root_path()) normal = normal.parent_path();
  return normal.string();
}

void copy_hex(char (&out)[64], const std::string& hex) {
  for (size_t i = 0; i < sizeof out; ++i) out[i] = i < hex.size() ? hex[i] : '0';
}

}  // namespace

ImageCacheSummary write_image_cache(const std::string& path, const ImageCacheBuild& build) {
  const std::string root = absolute(build.dataset.root);
  const uint64_t count = build.images.size();
  if (count == 0) throw UserError(fmt::format("{}: no images to cache", root));

  // Source fingerprint first: an image changed while it is being decoded makes the cache stale, not silently wrong.
  std::vector<LabeledImage> dataset_images = build.dataset.images;
  for (LabeledImage& image : dataset_images) image.path = absolute(image.path);
  const std::vector<ImageCacheSourceFile> sources = stat_source_images(root, dataset_images);

  AtomicFileWriter out(path);
  const uint64_t labels_offset = detail::kCacheHeaderBytes;
  const uint64_t flags_offset = detail::flags_offset_for(count);
  const uint64_t pixels_offset = detail::pixels_offset_for(count);
  std::vector<int64_t> labels;
  for (const LabeledImage& image : build.images) labels.push_back(image.label);
  out.write_at(labels_offset, labels.data(), labels.size() * sizeof(int64_t));

  ImageCacheSummary summary;
  uint64_t image_bytes = 0;
  std::vector<uint8_t> bad(count, 1);  // cleared for each image the loader delivers
  BatchLoaderOptions options{build.batch_size, build.workers, 2, build.progress, "cache", PreprocessOutput::kPixels};
  BatchLoader loader(build.images, build.spec, options);
  while (auto batch = loader.next()) {
    const torch::Tensor& pixels = batch->images;  // uint8 [n, 3, H, W]
    if (image_bytes == 0) {
      summary.height = static_cast<int>(pixels.size(2));
      summary.width = static_cast<int>(pixels.size(3));
      image_bytes = 3ULL * summary.height * summary.width;
    } else if (pixels.size(2) != summary.height || pixels.size(3) != summary.width) {
      throw UserError(fmt::format("{}: preprocessed size {}x{} differs from {}x{} of the first image; a cache holds "
                                  "one size: set a center crop (--crop)",
                                  build.images[static_cast<size_t>(batch->indices.front())].path, pixels.size(3),
                                  pixels.size(2), summary.width, summary.height));
    }
    const auto* data = pixels.data_ptr<uint8_t>();
    for (size_t i = 0; i < batch->indices.size(); ++i) {
      const auto position = static_cast<uint64_t>(batch->indices[i]);
      // Slots of undecodable images are never written: the file's hole reads as zeros.
      out.write_at(pixels_offset + position * image_bytes, data + i * image_bytes, image_bytes);
      bad[position] = 0;
    }
  }
  if (image_bytes == 0) throw UserError(fmt::format("{}: no image could be decoded", root));
  const uint64_t metadata_offset = pixels_offset + count * image_bytes;

  nlohmann::json bad_images = nlohmann::json::array();
  const std::vector<BadImage> reasons = loader.bad_images();  // in input order, as `bad` is
  size_t next_reason = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (!bad[i]) continue;
    bad_images.push_back({{"index", i}, {"reason", next_reason < reasons.size() ? reasons[next_reason++].reason : ""}});
    ++summary.bad_images;
  }
  out.write_at(flags_offset, bad.data(), bad.size());

  nlohmann::json images = nlohmann::json::array();
  for (const LabeledImage& image : build.images) {
    images.push_back(fs::path(absolute(image.path)).lexically_relative(root).generic_string());
  }
  nlohmann::json source_list = nlohmann::json::array();
  for (const ImageCacheSourceFile& source : sources) {
    source_list.push_back({source.relative_path, source.label, source.size, source.mtime_ns});
  }
  const ImageCacheSelection& selection = build.selection;
  nlohmann::json metadata = {
      {"format", "quant-sim image cache"},
      {"created", utc_timestamp()},
      {"data_root", root},
      {"data_arg", absolute(build.data_arg)},
      {"layout", build.dataset.layout},
      {"class_order_file", absolute(build.dataset.class_order_file)},
      {"class_names", build.dataset.class_names},
      {"preprocess",
       {{"resize", build.spec.resize_shorter_side},
        {"crop", build.spec.center_crop},
        {"interpolation", interpolation_name(build.spec.interpolation)}}},
      {"selection",
       {{"dataset_images", selection.dataset_images},
        {"subset", selection.subset ? nlohmann::json(*selection.subset) : nlohmann::json(nullptr)},
        {"shuffle", selection.shuffle},
        {"seed", selection.seed}}},
      {"images", images},
      {"bad_images", bad_images},
      {"sources", source_list}};
  const std::string text = metadata.dump();
  out.write_at(metadata_offset, text.data(), text.size());

  detail::CacheHeader header{};
  std::memcpy(header.magic, kImageCacheMagic, sizeof header.magic);
  header.version = kImageCacheVersion;
  header.pixel_layout = detail::kCacheLayoutChw;
  header.image_count = count;
  header.channels = 3;
  header.height = static_cast<uint32_t>(summary.height);
  header.width = static_cast<uint32_t>(summary.width);
  header.labels_offset = labels_offset;
  header.flags_offset = flags_offset;
  header.pixels_offset = pixels_offset;
  header.metadata_offset = metadata_offset;
  header.metadata_bytes = text.size();
  copy_hex(header.sources_fingerprint, image_cache_sources_fingerprint(root, build.dataset.layout, sources));
  copy_hex(header.preprocess_fingerprint, image_cache_preprocess_fingerprint(build.spec));
  std::vector<char> block(detail::kCacheHeaderBytes, 0);
  std::memcpy(block.data(), &header, sizeof header);
  out.write_at(0, block.data(), block.size());
  out.commit();

  summary.images = static_cast<int64_t>(count);
  summary.bytes = metadata_offset + text.size();
  return summary;
}

}  // namespace quantsim
