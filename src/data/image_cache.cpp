#include "quantsim/data/image_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "image_cache_format.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/sha256.h"

namespace quantsim {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void invalid(const std::string& path, const std::string& why) {
  throw UserError(fmt::format("{}: not a valid image cache ({}); rebuild it with quant-sim cache build", path, why));
}

// A JSON field of the metadata, of the expected type, or invalid().
const nlohmann::json& field(const nlohmann::json& object, const char* name, nlohmann::json::value_t type,
                            const std::string& path) {
  const auto it = object.find(name);
  const bool number = type == nlohmann::json::value_t::number_integer;
  if (it == object.end() || (number ? !it->is_number_integer() : it->type() != type)) {
    invalid(path, fmt::format("metadata field '{}' missing or of the wrong type", name));
  }
  return *it;
}

std::vector<std::string> string_list(const nlohmann::json& array, const char* name, const std::string& path) {
  std::vector<std::string> out;
  for (const nlohmann::json& item : array) {
    if (!item.is_string()) invalid(path, fmt::format("metadata field '{}' holds a non-string", name));
    out.push_back(item.get<std::string>());
  }
  return out;
}

PreprocessSpec read_preprocess(const nlohmann::json& json, const std::string& path) {
  PreprocessSpec spec;
  const auto side = [&](const char* name) {
    const int64_t value = field(json, name, nlohmann::json::value_t::number_integer, path).get<int64_t>();
    if (value < 0 || value > kMaxImageSide) invalid(path, fmt::format("preprocess.{} out of range", name));
    return static_cast<int>(value);
  };
  spec.resize_shorter_side = side("resize");
  spec.center_crop = side("crop");
  const std::string interpolation = field(json, "interpolation", nlohmann::json::value_t::string, path);
  if (interpolation != "bilinear" && interpolation != "nearest") invalid(path, "unknown preprocess.interpolation");
  spec.interpolation = parse_interpolation(interpolation, path);
  return spec;
}

void read_metadata(const std::string& text, const std::string& path, ImageCacheInfo* info) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    invalid(path, "metadata is not JSON");
  }
  if (!json.is_object()) invalid(path, "metadata is not a JSON object");
  using T = nlohmann::json::value_t;
  info->data_root = field(json, "data_root", T::string, path);
  info->data_arg = field(json, "data_arg", T::string, path);
  info->layout = field(json, "layout", T::string, path);
  info->class_order_file = field(json, "class_order_file", T::string, path);
  info->class_names = string_list(field(json, "class_names", T::array, path), "class_names", path);
  info->relative_paths = string_list(field(json, "images", T::array, path), "images", path);
  info->spec = read_preprocess(field(json, "preprocess", T::object, path), path);

  const nlohmann::json& selection = field(json, "selection", T::object, path);
  info->selection.dataset_images = field(selection, "dataset_images", T::number_integer, path).get<int64_t>();
  const auto subset = selection.find("subset");
  if (subset != selection.end() && !subset->is_null()) {
    if (!subset->is_number_integer()) invalid(path, "selection.subset is not an integer");
    info->selection.subset = subset->get<int64_t>();
  }
  info->selection.shuffle = field(selection, "shuffle", T::boolean, path).get<bool>();
  const auto seed = selection.find("seed");
  if (seed == selection.end() || !seed->is_number_unsigned())
    invalid(path, "selection.seed is not an unsigned integer");
  info->selection.seed = seed->get<uint64_t>();

  info->bad_reasons.assign(info->relative_paths.size(), "");
  for (const nlohmann::json& bad : field(json, "bad_images", T::array, path)) {
    if (!bad.is_object()) invalid(path, "bad_images holds a non-object");
    const int64_t index = field(bad, "index", T::number_integer, path).get<int64_t>();
    if (index < 0 || index >= static_cast<int64_t>(info->bad_reasons.size())) invalid(path, "bad image index");
    info->bad_reasons[static_cast<size_t>(index)] = field(bad, "reason", T::string, path).get<std::string>();
  }
  for (const nlohmann::json& source : field(json, "sources", T::array, path)) {
    if (!source.is_array() || source.size() != 4 || !source[0].is_string() || !source[1].is_number_integer() ||
        !source[2].is_number_integer() || !source[3].is_number_integer()) {
      invalid(path, "a sources entry is not [path, label, size, mtime_ns]");
    }
    info->sources.push_back(
        {source[0].get<std::string>(), source[1].get<int64_t>(), source[2].get<int64_t>(), source[3].get<int64_t>()});
  }
}

// The mapping of a file, unmapped unless released.
struct Mapping {
  const uint8_t* data = nullptr;
  size_t bytes = 0;
  ~Mapping() {
    if (data != nullptr) ::munmap(const_cast<uint8_t*>(data), bytes);
  }
};

Mapping map_file(const std::string& path) {
  require_regular_file(path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UserError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    throw UserError(fmt::format("{}: cannot stat: {}", path, std::strerror(error)));
  }
  Mapping mapping;
  mapping.bytes = static_cast<size_t>(st.st_size);
  if (mapping.bytes < sizeof(detail::CacheHeader)) {
    ::close(fd);
    invalid(path, fmt::format("truncated: {} bytes, shorter than the header", mapping.bytes));
  }
  void* data = ::mmap(nullptr, mapping.bytes, PROT_READ, MAP_SHARED, fd, 0);
  const int error = errno;
  ::close(fd);  // the mapping stays valid
  if (data == MAP_FAILED) throw UserError(fmt::format("{}: cannot map: {}", path, std::strerror(error)));
  mapping.data = static_cast<const uint8_t*>(data);
  return mapping;
}

std::string relative_to(const std::string& root, const std::string& path) {
  return fs::path(path).lexically_relative(fs::path(root)).generic_string();
}

std::string rebuild_hint(const ImageCache& cache) {
  return fmt::format("rebuild it: quant-sim cache build --data {} (with the run's --model or --resize/--crop/"
                     "--interpolation) --out {}",
                     cache.info().data_arg, cache.path());
}

std::string describe_cached(const PreprocessSpec& spec) {
  const std::string resize = spec.resize_shorter_side > 0 ? fmt::format("resize {} {}", spec.resize_shorter_side,
                                                                        interpolation_name(spec.interpolation))
                                                          : std::string("no resize");
  return resize + ", " + (spec.center_crop > 0 ? fmt::format("crop {}", spec.center_crop) : "no crop");
}

}  // namespace

std::shared_ptr<const ImageCache> ImageCache::open(const std::string& path) {
  Mapping mapping = map_file(path);
  detail::CacheHeader header{};
  std::memcpy(&header, mapping.data, sizeof header);
  if (std::memcmp(header.magic, kImageCacheMagic, sizeof header.magic) != 0) invalid(path, "wrong magic bytes");
  if (header.version != kImageCacheVersion) {
    invalid(path, fmt::format("format version {}, this quant-sim reads {}", header.version, kImageCacheVersion));
  }
  if (header.pixel_layout != detail::kCacheLayoutChw || header.channels != 3) invalid(path, "unknown pixel layout");
  const uint64_t count = header.image_count;
  if (count < 1 || count > (uint64_t{1} << 40)) invalid(path, "image count out of range");
  if (header.height < 1 || header.width < 1 || header.height > kMaxImageSide || header.width > kMaxImageSide) {
    invalid(path, "image size out of range");
  }
  const uint64_t image_bytes = uint64_t{3} * header.height * header.width;
  const uint64_t pixels_offset = detail::pixels_offset_for(count);
  if (header.labels_offset != detail::kCacheHeaderBytes || header.flags_offset != detail::flags_offset_for(count) ||
      header.pixels_offset != pixels_offset) {
    invalid(path, "inconsistent section offsets");
  }
  if (count > (std::numeric_limits<uint64_t>::max() - pixels_offset) / image_bytes) invalid(path, "sizes overflow");
  const uint64_t metadata_offset = pixels_offset + count * image_bytes;
  if (header.metadata_offset != metadata_offset || header.metadata_bytes > (uint64_t{1} << 40)) {
    invalid(path, "inconsistent metadata offset");
  }
  const uint64_t expected = metadata_offset + header.metadata_bytes;
  if (mapping.bytes != expected) {
    invalid(path, fmt::format("{}: {} bytes, the header says {}", mapping.bytes < expected ? "truncated" : "too long",
                              mapping.bytes, expected));
  }

  auto cache = std::shared_ptr<ImageCache>(new ImageCache());
  cache->path_ = path;
  ImageCacheInfo& info = cache->info_;
  info.image_count = static_cast<int64_t>(count);
  info.height = static_cast<int>(header.height);
  info.width = static_cast<int>(header.width);
  read_metadata(std::string(reinterpret_cast<const char*>(mapping.data + metadata_offset), header.metadata_bytes), path,
                &info);
  if (info.relative_paths.size() != count) invalid(path, "the metadata lists another number of images");
  info.labels.resize(count);
  std::memcpy(info.labels.data(), mapping.data + header.labels_offset, count * sizeof(int64_t));
  info.bad.assign(mapping.data + header.flags_offset, mapping.data + header.flags_offset + count);
  const int64_t classes = static_cast<int64_t>(info.class_names.size());
  for (size_t i = 0; i < count; ++i) {
    if (info.labels[i] < 0 || (classes > 0 && info.labels[i] >= classes)) invalid(path, "a label out of range");
    if (info.bad[i] > 1) invalid(path, "an image flag out of range");
  }
  info.sources_fingerprint.assign(header.sources_fingerprint, sizeof header.sources_fingerprint);
  info.preprocess_fingerprint.assign(header.preprocess_fingerprint, sizeof header.preprocess_fingerprint);
  if (image_cache_sources_fingerprint(info.data_root, info.layout, info.sources) != info.sources_fingerprint ||
      image_cache_preprocess_fingerprint(info.spec) != info.preprocess_fingerprint) {
    invalid(path, "fingerprints do not match the metadata");
  }
  for (size_t i = 0; i < count; ++i) {
    cache->index_.emplace((fs::path(info.data_root) / info.relative_paths[i]).string(), static_cast<int64_t>(i));
  }
  cache->pixels_offset_ = pixels_offset;
  cache->map_ = mapping.data;
  cache->map_bytes_ = mapping.bytes;
  mapping.data = nullptr;  // owned by the cache now
  ::madvise(const_cast<uint8_t*>(cache->map_), cache->map_bytes_, MADV_SEQUENTIAL);
  return cache;
}

ImageCache::~ImageCache() {
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), map_bytes_);
}

const uint8_t* ImageCache::pixels(int64_t index) const {
  return map_ + pixels_offset_ + static_cast<uint64_t>(index) * static_cast<uint64_t>(image_bytes());
}

Dataset ImageCache::dataset() const {
  Dataset dataset;
  dataset.root = info_.data_root;
  dataset.layout = info_.layout;
  dataset.class_order_file = info_.class_order_file;
  dataset.class_names = info_.class_names;
  for (size_t i = 0; i < info_.relative_paths.size(); ++i) {
    dataset.images.push_back({(fs::path(info_.data_root) / info_.relative_paths[i]).string(), info_.labels[i]});
  }
  return dataset;
}

int64_t ImageCache::index_of(const std::string& image_path) const {
  const auto it = index_.find(image_path);
  return it == index_.end() ? -1 : it->second;
}

bool is_image_cache_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char magic[sizeof kImageCacheMagic] = {};
  const ssize_t n = ::read(fd, magic, sizeof magic);
  ::close(fd);
  return n == static_cast<ssize_t>(sizeof magic) && std::memcmp(magic, kImageCacheMagic, sizeof magic) == 0;
}

std::string image_cache_sources_fingerprint(const std::string& data_root, const std::string& layout,
                                            const std::vector<ImageCacheSourceFile>& sources) {
  std::string text = fmt::format("quant-sim image cache sources\n{}\n{}\n", data_root, layout);
  for (const ImageCacheSourceFile& source : sources) {
    text += fmt::format("{}\t{}\t{}\t{}\n", source.relative_path, source.label, source.size, source.mtime_ns);
  }
  return sha256_hex(text);
}

std::string image_cache_preprocess_fingerprint(const PreprocessSpec& spec) {
  return sha256_hex(fmt::format("resize={};crop={};interpolation={}", spec.resize_shorter_side, spec.center_crop,
                                interpolation_name(spec.interpolation)));
}

std::vector<ImageCacheSourceFile> stat_source_images(const std::string& root, const std::vector<LabeledImage>& images) {
  std::vector<ImageCacheSourceFile> sources;
  sources.reserve(images.size());
  for (const LabeledImage& image : images) {
    struct stat st {};
    ImageCacheSourceFile source{relative_to(root, image.path), image.label, -1, -1};
    if (::stat(image.path.c_str(), &st) == 0) {
      source.size = static_cast<int64_t>(st.st_size);
      source.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    }
    sources.push_back(std::move(source));
  }
  return sources;
}

void check_image_cache_preprocess(const ImageCache& cache, const PreprocessSpec& run) {
  const PreprocessSpec& cached = cache.info().spec;
  const bool same = cached.resize_shorter_side == run.resize_shorter_side && cached.center_crop == run.center_crop &&
                    (run.resize_shorter_side == 0 || cached.interpolation == run.interpolation);
  if (same) return;
  throw UserError(fmt::format("{}: the cache holds images preprocessed with {}, but this run's model sidecar and "
                              "flags ask for {}; {}",
                              cache.path(), describe_cached(cached), describe_cached(run), rebuild_hint(cache)));
}

SourceCheck check_image_cache_sources(const ImageCache& cache) {
  const ImageCacheInfo& info = cache.info();
  std::error_code ec;
  if (!fs::is_directory(info.data_root, ec)) return SourceCheck::kSourcesAbsent;
  std::vector<ImageCacheSourceFile> now;
  try {
    DatasetOptions options;
    if (!info.class_order_file.empty() && fs::exists(info.class_order_file, ec)) {
      options.class_order_file = info.class_order_file;
    }
    const Dataset dataset = load_dataset(info.data_arg, options);
    now = stat_source_images(info.data_root, dataset.images);
  } catch (const UserError& e) {
    throw UserError(fmt::format("{}: stale: its sources no longer read as a dataset ({}); {}", cache.path(), e.what(),
                                rebuild_hint(cache)));
  }
  if (image_cache_sources_fingerprint(info.data_root, info.layout, now) == info.sources_fingerprint) {
    return SourceCheck::kChecked;
  }
  // Say what differs: the first changed image, else the first added or removed one.
  std::set<std::string> before;
  for (const ImageCacheSourceFile& source : info.sources) before.insert(source.relative_path);
  std::set<std::string> after;
  std::string what;
  for (const ImageCacheSourceFile& source : now) after.insert(source.relative_path);
  for (size_t i = 0; i < now.size() && what.empty(); ++i) {
    if (!before.count(now[i].relative_path)) what = now[i].relative_path + " was added";
  }
  for (size_t i = 0; i < info.sources.size() && what.empty(); ++i) {
    if (!after.count(info.sources[i].relative_path)) what = info.sources[i].relative_path + " was removed";
  }
  if (what.empty()) {
    std::unordered_map<std::string, const ImageCacheSourceFile*> by_path;
    for (const ImageCacheSourceFile& source : info.sources) by_path[source.relative_path] = &source;
    for (const ImageCacheSourceFile& source : now) {
      const ImageCacheSourceFile& old = *by_path.at(source.relative_path);
      if (old.size != source.size || old.mtime_ns != source.mtime_ns) {
        what = source.relative_path + " changed (size or modification time)";
      } else if (old.label != source.label) {
        what = source.relative_path + " has another label (class order changed)";
      }
      if (!what.empty()) break;
    }
  }
  if (what.empty()) what = "the order of the images changed";
  throw UserError(fmt::format("{}: stale: {} in {} since the cache was built; {}", cache.path(), what, info.data_root,
                              rebuild_hint(cache)));
}

std::vector<LabeledImage> select_cached_images(const ImageCache& cache, std::optional<int64_t> count, bool shuffle,
                                               uint64_t seed, const std::string& what) {
  const ImageCacheInfo& info = cache.info();
  const Dataset dataset = cache.dataset();
  const bool whole = info.image_count >= info.selection.dataset_images;
  if (whole) return select_images(dataset.images, count, shuffle, seed, what);
  if (count && *count < 1) throw UserError(fmt::format("{}: must be at least 1, got {}", what, *count));
  const bool same_order = shuffle == info.selection.shuffle && (!shuffle || seed == info.selection.seed);
  if (!same_order || !count || *count > info.image_count) {
    const std::string built = fmt::format(
        "-ss {}{}", info.image_count, info.selection.shuffle ? fmt::format(" -sh --seed {}", info.selection.seed) : "");
    throw UserError(fmt::format("{}: holds {} of the {} images of {} (built with {}); this run needs {}{}{}: run with "
                                "{} or a smaller -ss, or rebuild the cache with a larger -ss or without it",
                                cache.path(), info.image_count, info.selection.dataset_images, info.data_root, built,
                                count ? fmt::format("{} ", what) + std::to_string(*count) : "all of them",
                                shuffle ? " -sh" : "", shuffle ? fmt::format(" --seed {}", seed) : "", built));
  }
  std::vector<LabeledImage> images = dataset.images;
  images.resize(static_cast<size_t>(*count));
  return images;
}

}  // namespace quantsim
