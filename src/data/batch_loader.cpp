#include "quantsim/data/batch_loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>

#include "quantsim/core/errors.h"
#include "quantsim/data/rgb_image.h"

namespace quantsim {

BatchLoader::BatchLoader(std::vector<LabeledImage> images, PreprocessSpec spec, BatchLoaderOptions options)
    : images_(std::move(images)),
      spec_(spec),
      options_(options),
      progress_(options.progress_label, static_cast<int64_t>(images_.size()), options.progress) {
  if (options_.batch_size < 1)
    throw UserError(fmt::format("batch size must be at least 1, got {}", options_.batch_size));
  const int workers = std::max(1, options_.workers);
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_available_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

int64_t BatchLoader::batch_count() const { return (total() + options_.batch_size - 1) / options_.batch_size; }

int64_t BatchLoader::batch_length(int64_t batch_index) const {
  return std::min<int64_t>(options_.batch_size, total() - batch_index * options_.batch_size);
}

// Hands out input positions in order, but no further than `prefetch_batches` batches past the one the consumer
// waits for, so memory stays bounded however slow the consumer is.
bool BatchLoader::take_next_image(int64_t* index) {
  std::unique_lock<std::mutex> lock(mutex_);
  work_available_.wait(lock, [this] {
    const int64_t limit = (next_batch_ + 1 + std::max(0, options_.prefetch_batches)) * options_.batch_size;
    return stopping_ || next_image_ >= total() || next_image_ < limit;
  });
  if (stopping_ || next_image_ >= total()) return false;
  *index = next_image_++;
  return true;
}

void BatchLoader::worker_loop() {
  int64_t index = 0;
  while (take_next_image(&index)) {
    torch::Tensor tensor;
    std::optional<BadImage> bad;
    try {
      tensor = preprocess_image(images_[index].path, spec_, options_.output);
    } catch (const ImageDecodeError& e) {
      bad = BadImage{images_[index].path, e.what()};
    } catch (...) {
      // Unexpected (e.g. out of memory): surface it in the consumer with the batch it belongs to.
      std::lock_guard<std::mutex> lock(mutex_);
      PendingBatch& pending = pending_[index / options_.batch_size];
      if (!pending.error) pending.error = std::current_exception();
      bad = BadImage{images_[index].path, "internal error"};
    }
    store_result(index, std::move(tensor), std::move(bad));
  }
}

void BatchLoader::store_result(int64_t index, torch::Tensor tensor, std::optional<BadImage> bad) {
  const int64_t batch_index = index / options_.batch_size;
  PendingBatch* pending = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending = &pending_[batch_index];  // std::map: the reference stays valid while other batches come and go
    if (pending->tensors.empty()) {
      pending->tensors.resize(static_cast<size_t>(batch_length(batch_index)));
      pending->remaining = batch_length(batch_index);
    }
    pending->tensors[static_cast<size_t>(index % options_.batch_size)] = std::move(tensor);
    if (bad) bad_images_.emplace(index, std::move(*bad));
    if (--pending->remaining > 0) return;
  }
  // The worker that completes a batch stacks it, outside the lock, so the consumer thread only runs the model.
  assemble(batch_index, pending);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending->ready = true;
  }
  batch_ready_.notify_all();
}

namespace {

std::string shape_text(const torch::Tensor& t) {
  std::string text;
  for (int64_t d : t.sizes()) text += (text.empty() ? "" : "x") + std::to_string(d);
  return text;
}

// Copies same-shaped tensors into one [N, ...] tensor. Plain memcpy rather than torch::stack: this runs on a
// worker thread, where ATen's intra-op thread pool would only oversubscribe the cores.
torch::Tensor stack_on_this_thread(const std::vector<torch::Tensor>& tensors) {
  std::vector<int64_t> shape{static_cast<int64_t>(tensors.size())};
  for (int64_t d : tensors.front().sizes()) shape.push_back(d);
  torch::Tensor out = torch::empty(shape, tensors.front().scalar_type());
  const size_t bytes = tensors.front().numel() * tensors.front().element_size();
  auto* dst = static_cast<char*>(out.data_ptr());
  for (size_t i = 0; i < tensors.size(); ++i) std::memcpy(dst + i * bytes, tensors[i].data_ptr(), bytes);
  return out;
}

// stack_on_this_thread, with running out of memory for the batch reported as the user's to fix.
torch::Tensor stack_batch(const std::vector<torch::Tensor>& tensors, const std::string& first_image) {
  try {
    return stack_on_this_thread(tensors);
  } catch (const std::bad_alloc&) {
  } catch (const c10::Error&) {  // the tensor allocator refusing the size
  }
  throw UserError(fmt::format("out of memory for a batch of {} images of {} (first: {}); lower -b/--batch-size or "
                              "--resize/--crop",
                              tensors.size(), shape_text(tensors.front()), first_image));
}

}  // namespace

void BatchLoader::assemble(int64_t batch_index, PendingBatch* pending) {
  if (pending->error) return;
  try {
    std::vector<torch::Tensor> good;
    std::vector<int64_t> labels;
    Batch batch;
    for (size_t i = 0; i < pending->tensors.size(); ++i) {
      if (!pending->tensors[i].defined()) continue;
      const int64_t position = batch_index * options_.batch_size + static_cast<int64_t>(i);
      if (!good.empty() && good.front().sizes() != pending->tensors[i].sizes()) {
        throw UserError(fmt::format("{}: preprocessed size {} differs from {} of {} in the same batch; set a center "
                                    "crop (--center-crop) so that all images have one size",
                                    images_[position].path, shape_text(pending->tensors[i]), shape_text(good.front()),
                                    images_[batch.indices.front()].path));
      }
      good.push_back(std::move(pending->tensors[i]));
      labels.push_back(images_[position].label);
      batch.indices.push_back(position);
    }
    pending->tensors.clear();
    if (good.empty()) return;  // every image of this batch was bad: next() skips it
    batch.images = stack_batch(good, images_[batch.indices.front()].path);
    batch.labels = torch::tensor(labels, torch::kInt64);
    pending->batch = std::move(batch);
  } catch (...) {
    pending->error = std::current_exception();
  }
}

std::optional<Batch> BatchLoader::next() {
  while (true) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (next_batch_ >= batch_count()) {
      progress_.finish();
      return std::nullopt;
    }
    batch_ready_.wait(lock, [this] {
      const auto it = pending_.find(next_batch_);
      return it != pending_.end() && it->second.ready;
    });
    PendingBatch pending = std::move(pending_.at(next_batch_));
    pending_.erase(next_batch_);
    const int64_t handed = batch_length(next_batch_);
    ++next_batch_;
    lock.unlock();
    work_available_.notify_all();  // the prefetch window moved
    progress_.advance(handed);
    if (pending.error) std::rethrow_exception(pending.error);
    if (pending.batch) return std::move(pending.batch);
  }
}

int64_t BatchLoader::bad_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(bad_images_.size());
}

std::vector<BadImage> BatchLoader::bad_images() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<BadImage> bad;
  for (const auto& [index, image] : bad_images_) bad.push_back(image);
  return bad;
}

void check_bad_images(const BatchSource& loader, double max_share) {
  const int64_t bad = loader.bad_count();
  if (bad == 0) return;
  const BadImage first = loader.bad_images().front();
  // Decoders name the image in their reason, or not: name it once.
  const std::string what = first.reason.rfind(first.path, 0) == 0 ? first.reason : first.path + ": " + first.reason;
  const std::string summary = fmt::format("{} of {} images could not be decoded (first: {})", bad, loader.total(),
                                          what);
  if (static_cast<double>(bad) > max_share * static_cast<double>(loader.total())) {
    throw UserError(summary + fmt::format("; more than --max-bad-images {}", max_share));
  }
  std::fprintf(stderr, "quant-sim: warning: %s; they were skipped\n", summary.c_str());
}

}  // namespace quantsim
