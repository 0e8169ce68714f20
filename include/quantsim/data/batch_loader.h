#pragma once
// Batches of preprocessed images for the evaluation and calibration loops: decoded by worker threads ahead of the
// consumer (bounded prefetch), handed out strictly in input order whatever the thread timing.
//
//   quantsim::BatchLoaderOptions options;
//   options.batch_size = config.batch_size;
//   options.workers = config.workers;
//   quantsim::BatchLoader loader(images, spec, options);
//   while (auto batch = loader.next()) {
//     torch::Tensor logits = model.forward({batch->images}).toTensor();  // decoding of later batches goes on
//     ...batch->labels, batch->indices...
//   }
//   if (loader.bad_count() > max_share * loader.total()) throw UserError(...);
#include <torch/types.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "quantsim/data/dataset.h"
#include "quantsim/data/preprocess.h"
#include "quantsim/data/progress_bar.h"

namespace quantsim {

struct Batch {
  torch::Tensor images;          // float32 [N, 3, H, W] (uint8 pixels with PreprocessOutput::kPixels)
  torch::Tensor labels;          // int64 [N]
  std::vector<int64_t> indices;  // position of each image in the loader's input list
};

struct BadImage {
  std::string path;
  std::string reason;
};

// Anything that yields batches in order: the batch loader below, or a test's own batches.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual std::optional<Batch> next() = 0;  // std::nullopt once all batches were handed out
  virtual int64_t total() const = 0;        // images in the input list
  // Images of the input list left out because they could not be decoded, in input order (none by default).
  virtual std::vector<BadImage> bad_images() const { return {}; }
  virtual int64_t bad_count() const { return static_cast<int64_t>(bad_images().size()); }
};

struct BatchLoaderOptions {
  int batch_size = 32;
  int workers = 4;           // decode threads (-j); at least 1
  int prefetch_batches = 2;  // batches decoded ahead of the one the consumer waits for
  bool progress = true;      // progress bar on stderr (only when it is a terminal)
  std::string progress_label = "images";
  PreprocessOutput output = PreprocessOutput::kNormalized;  // kPixels: uint8 batches (what an image cache stores)
  std::string device = "cpu";  // where a source that normalises itself (image_cache.h) delivers; BatchLoader: cpu
};

class BatchLoader : public BatchSource {
 public:
  // Starts decoding at once. Throws UserError for batch_size < 1.
  BatchLoader(std::vector<LabeledImage> images, PreprocessSpec spec, BatchLoaderOptions options);
  ~BatchLoader() override;  // stops and joins the workers
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Batch k holds the decodable images among input positions [k * batch_size, (k + 1) * batch_size); images that
  // failed to decode are left out (so a batch may be short) and recorded in bad_images(). Batches with no good
  // image are skipped. Rethrows an unexpected worker error (e.g. UserError: images of different sizes in one
  // batch, which needs a center crop).
  std::optional<Batch> next() override;
  int64_t total() const override { return static_cast<int64_t>(images_.size()); }

  int64_t bad_count() const override;                 // images skipped so far
  std::vector<BadImage> bad_images() const override;  // in input order

 private:
  struct PendingBatch {
    std::vector<torch::Tensor> tensors;  // one per position; undefined when the image was bad
    int64_t remaining = 0;
    bool ready = false;
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  void worker_loop();
  bool take_next_image(int64_t* index);
  void store_result(int64_t index, torch::Tensor tensor, std::optional<BadImage> bad);
  void assemble(int64_t batch_index, PendingBatch* pending);
  int64_t batch_count() const;
  int64_t batch_length(int64_t batch_index) const;

  const std::vector<LabeledImage> images_;
  const PreprocessSpec spec_;
  const BatchLoaderOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable work_available_;
  std::condition_variable batch_ready_;
  int64_t next_image_ = 0;  // next input position a worker takes
  int64_t next_batch_ = 0;  // next batch the consumer gets
  bool stopping_ = false;
  std::map<int64_t, PendingBatch> pending_;
  std::map<int64_t, BadImage> bad_images_;  // by input position, so reports do not depend on thread timing
  ProgressBar progress_;
  std::vector<std::thread> workers_;
};

// Fails the run (UserError) when more than `max_share` of the loader's images could not be decoded; otherwise
// warns on stderr about the skipped ones.
void check_bad_images(const BatchSource& loader, double max_share);

}  // namespace quantsim
