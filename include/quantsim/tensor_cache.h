#pragma once
// A dataset's preprocessed images and labels in one file, so that repeated experiments, and machines built
// without OpenCV (the GPU box), skip decoding. Written with torch::pickle_save (Python: torch.load(path) gives
// the tuple (images, labels, metadata_json)); written atomically.
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "quantsim/batch_loader.h"
#include "quantsim/dataset.h"
#include "quantsim/preprocess.h"

namespace quantsim {

struct TensorCache {
  torch::Tensor images;  // float32 [N, 3, H, W]
  torch::Tensor labels;  // int64 [N]
  std::string metadata;  // JSON: format version, preprocessing, image paths, anything the writer adds
};

// What a cache was made from; compared on load so that a stale cache is not silently used.
std::string tensor_cache_metadata(const std::vector<LabeledImage>& images, const PreprocessSpec& spec);

void save_tensor_cache(const std::string& path, const TensorCache& cache);

// Throws UserError naming the file when it is missing or not a tensor cache.
TensorCache load_tensor_cache(const std::string& path);

// Decodes all `images` with a BatchLoader and returns them as one cache (bad images are left out, as in the
// loader; their count is returned through `bad_count` when given).
TensorCache build_tensor_cache(const std::vector<LabeledImage>& images, const PreprocessSpec& spec,
                               const BatchLoaderOptions& options, int64_t* bad_count = nullptr);

// Batches of a loaded cache, in order; `indices` are positions in the cache.
class TensorCacheBatchSource : public BatchSource {
 public:
  TensorCacheBatchSource(TensorCache cache, int batch_size);
  std::optional<Batch> next() override;
  int64_t total() const override { return cache_.images.size(0); }

 private:
  TensorCache cache_;
  int batch_size_;
  int64_t next_ = 0;
};

}  // namespace quantsim
