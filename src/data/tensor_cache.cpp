#include "quantsim/tensor_cache.h"

#include <fmt/format.h>
#include <torch/serialize.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "quantsim/atomic_file.h"
#include "quantsim/errors.h"

namespace quantsim {

namespace {
constexpr int kFormatVersion = 1;
}

std::string tensor_cache_metadata(const std::vector<LabeledImage>& images, const PreprocessSpec& spec) {
  nlohmann::json paths = nlohmann::json::array();
  for (const LabeledImage& image : images) paths.push_back(image.path);
  nlohmann::json preprocess = {{"resize_shorter_side", spec.resize_shorter_side},
                               {"center_crop", spec.center_crop},
                               {"interpolation", interpolation_name(spec.interpolation)},
                               {"mean", spec.mean},
                               {"std", spec.std}};
  return nlohmann::json{{"format", "quant-sim tensor cache"}, {"version", kFormatVersion},
                        {"preprocess", preprocess}, {"paths", paths}}
      .dump();
}

void save_tensor_cache(const std::string& path, const TensorCache& cache) {
  const std::vector<char> bytes = torch::pickle_save(
      c10::ivalue::Tuple::create({cache.images.contiguous(), cache.labels.contiguous(), cache.metadata}));
  write_file_atomically(path, std::string(bytes.begin(), bytes.end()));
}

TensorCache load_tensor_cache(const std::string& path) {
  if (!std::filesystem::exists(path)) throw UserError(path + ": tensor cache does not exist");
  const std::string contents = read_file(path);
  torch::IValue value;
  try {
    value = torch::pickle_load(std::vector<char>(contents.begin(), contents.end()));
  } catch (const std::exception& e) {
    throw UserError(fmt::format("{}: not a tensor cache ({})", path, std::string(e.what()).substr(0, 200)));
  }
  const bool well_formed = value.isTuple() && value.toTupleRef().elements().size() == 3 &&
                           value.toTupleRef().elements()[0].isTensor() &&
                           value.toTupleRef().elements()[1].isTensor() && value.toTupleRef().elements()[2].isString();
  if (!well_formed) throw UserError(path + ": not a tensor cache (expected (images, labels, metadata))");
  const auto& elements = value.toTupleRef().elements();
  TensorCache cache{elements[0].toTensor(), elements[1].toTensor(), elements[2].toStringRef()};
  if (cache.images.dim() != 4 || cache.labels.dim() != 1 || cache.images.size(0) != cache.labels.size(0)) {
    throw UserError(path + ": tensor cache has inconsistent shapes");
  }
  return cache;
}

TensorCache build_tensor_cache(const std::vector<LabeledImage>& images, const PreprocessSpec& spec,
                               const BatchLoaderOptions& options, int64_t* bad_count) {
  BatchLoader loader(images, spec, options);
  std::vector<torch::Tensor> image_batches;
  std::vector<torch::Tensor> label_batches;
  std::vector<LabeledImage> kept;
  while (std::optional<Batch> batch = loader.next()) {
    image_batches.push_back(batch->images);
    label_batches.push_back(batch->labels);
    for (int64_t index : batch->indices) kept.push_back(images[static_cast<size_t>(index)]);
  }
  if (bad_count) *bad_count = loader.bad_count();
  if (image_batches.empty()) throw UserError("no image could be decoded for the tensor cache");
  return TensorCache{torch::cat(image_batches), torch::cat(label_batches), tensor_cache_metadata(kept, spec)};
}

TensorCacheBatchSource::TensorCacheBatchSource(TensorCache cache, int batch_size)
    : cache_(std::move(cache)), batch_size_(batch_size) {
  if (batch_size_ < 1) throw UserError(fmt::format("batch size must be at least 1, got {}", batch_size_));
}

std::optional<Batch> TensorCacheBatchSource::next() {
  if (next_ >= total()) return std::nullopt;
  const int64_t end = std::min<int64_t>(next_ + batch_size_, total());
  Batch batch;
  batch.images = cache_.images.slice(0, next_, end);
  batch.labels = cache_.labels.slice(0, next_, end);
  for (int64_t i = next_; i < end; ++i) batch.indices.push_back(i);
  next_ = end;
  return batch;
}

}  // namespace quantsim
