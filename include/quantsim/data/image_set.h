#pragma once
// The images one pass of a run reads, and how each becomes a tensor.
#include <memory>
#include <string>
#include <vector>

#include "quantsim/data/batch_loader.h"
#include "quantsim/data/dataset.h"
#include "quantsim/data/image_cache.h"
#include "quantsim/data/preprocess.h"

namespace quantsim {

struct ImageSet {
  std::string root;                  // the dataset folder, for messages
  std::vector<LabeledImage> images;  // in the order they are read
  PreprocessSpec spec;
  // Set when the images come from an image cache (image_cache.h) instead of their files; `images` are then images
  // of cache->dataset().
  std::shared_ptr<const ImageCache> cache;
};

// The batches of `set`: decoded by a BatchLoader, or read from the cache and normalised on options.device.
std::unique_ptr<BatchSource> read_batches(const ImageSet& set, const BatchLoaderOptions& options);

// The first decodable image of `set` as a float32 [1, 3, H, W] batch on the CPU; UserError when none decodes.
torch::Tensor first_decodable_image(const ImageSet& set);

}  // namespace quantsim
