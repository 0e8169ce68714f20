#include "quantsim/data/image_set.h"

#include "quantsim/core/errors.h"
#include "quantsim/data/rgb_image.h"

namespace quantsim {

std::unique_ptr<BatchSource> read_batches(const ImageSet& set, const BatchLoaderOptions& options) {
  if (set.cache) return std::make_unique<ImageCacheBatches>(set.cache, set.images, set.spec, options);
  BatchLoaderOptions loader = options;
  loader.device = "cpu";  // the forward function moves decoded batches to its device
  return std::make_unique<BatchLoader>(set.images, set.spec, loader);
}

torch::Tensor first_decodable_image(const ImageSet& set) {
  for (const LabeledImage& image : set.images) {
    if (set.cache) {
      const int64_t index = set.cache->index_of(image.path);
      if (index < 0 || set.cache->info().bad[static_cast<size_t>(index)]) continue;
      const torch::Tensor pixels = torch::from_blob(const_cast<uint8_t*>(set.cache->pixels(index)),
                                                    {1, 3, set.cache->info().height, set.cache->info().width},
                                                    torch::kUInt8);
      return normalize_pixels(pixels, set.spec.mean, set.spec.std);
    }
    try {
      return preprocess_image(image.path, set.spec).unsqueeze(0);
    } catch (const ImageDecodeError&) {
      continue;  // counted and reported by the batch loader
    }
  }
  throw UserError("no image of the dataset could be decoded");
}

}  // namespace quantsim
