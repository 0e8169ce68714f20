// ImageCacheBatches: a BatchSource over an image cache, normalising on the model's device.
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "quantsim/core/errors.h"
#include "quantsim/data/image_cache.h"

namespace quantsim {
namespace {

torch::Tensor per_channel(const std::array<double, 3>& values, const torch::Device& device) {
  // Rounded to float32 first, as to_normalized_tensor rounds mean and std.
  const std::vector<float> floats{static_cast<float>(values[0]), static_cast<float>(values[1]),
                                  static_cast<float>(values[2])};
  return torch::tensor(floats, torch::kFloat32).view({1, 3, 1, 1}).to(device);
}

}  // namespace

torch::Tensor normalize_pixels(const torch::Tensor& pixels, const std::array<double, 3>& mean,
                               const std::array<double, 3>& std) {
  // to_normalized_tensor computes ((float)p / 255.0f - m) / s per element: the same IEEE float32 divisions and
  // subtraction here, elementwise against [1, 3, 1, 1] tensors (a true division, never a multiplication by a
  // reciprocal), so the results are equal bit for bit on the CPU and on CUDA.
  const torch::Device device = pixels.device();
  const torch::Tensor scale = torch::full({1, 3, 1, 1}, 255.0f, torch::TensorOptions(torch::kFloat32).device(device));
  return pixels.to(torch::kFloat32).div_(scale).sub_(per_channel(mean, device)).div_(per_channel(std, device));
}

ImageCacheBatches::ImageCacheBatches(std::shared_ptr<const ImageCache> cache, const std::vector<LabeledImage>& images,
                                     const PreprocessSpec& spec, const BatchLoaderOptions& options)
    : cache_(std::move(cache)),
      options_(options),
      progress_(options.progress_label, static_cast<int64_t>(images.size()), options.progress) {
  if (options_.batch_size < 1) {
    throw UserError(fmt::format("batch size must be at least 1, got {}", options_.batch_size));
  }
  for (const LabeledImage& image : images) {
    const int64_t index = cache_->index_of(image.path);
    if (index < 0) throw UserError(fmt::format("{}: {} is not in the cache", cache_->path(), image.path));
    positions_.push_back(index);
    labels_.push_back(image.label);
  }
  const torch::Device device(options_.device);
  scale_ = torch::full({1, 3, 1, 1}, 255.0f, torch::TensorOptions(torch::kFloat32).device(device));
  mean_ = per_channel(spec.mean, device);
  std_ = per_channel(spec.std, device);
}

std::optional<Batch> ImageCacheBatches::next() {
  const ImageCacheInfo& info = cache_->info();
  const int64_t bytes = cache_->image_bytes();
  while (next_ < total()) {
    const int64_t begin = next_;
    const int64_t end = std::min<int64_t>(total(), begin + options_.batch_size);
    next_ = end;
    Batch batch;
    std::vector<int64_t> labels;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t index = positions_[static_cast<size_t>(i)];
      if (info.bad[static_cast<size_t>(index)]) {
        const std::string& path = info.relative_paths[static_cast<size_t>(index)];
        bad_.push_back(
            {(std::filesystem::path(info.data_root) / path).string(), info.bad_reasons[static_cast<size_t>(index)]});
        continue;
      }
      batch.indices.push_back(i);
      labels.push_back(labels_[static_cast<size_t>(i)]);
    }
    progress_.advance(end - begin);
    if (batch.indices.empty()) continue;  // every image of this batch was bad, as BatchLoader skips it
    const auto n = static_cast<int64_t>(batch.indices.size());
    torch::Tensor pixels = torch::empty({n, 3, info.height, info.width}, torch::kUInt8);
    auto* dst = pixels.data_ptr<uint8_t>();
    for (int64_t k = 0; k < n; ++k) {
      std::memcpy(dst + k * bytes, cache_->pixels(positions_[static_cast<size_t>(batch.indices[k])]),
                  static_cast<size_t>(bytes));
    }
    // uint8 crosses to the device (a quarter of the float bytes); the float arithmetic runs there.
    batch.images = pixels.to(torch::Device(options_.device)).to(torch::kFloat32).div_(scale_).sub_(mean_).div_(std_);
    batch.labels = torch::tensor(labels, torch::kInt64);
    return batch;
  }
  progress_.finish();
  return std::nullopt;
}

std::vector<BadImage> ImageCacheBatches::bad_images() const { return bad_; }

}  // namespace quantsim
