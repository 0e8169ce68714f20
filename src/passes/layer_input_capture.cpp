#include "quantsim/passes/layer_input_capture.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <map>
#include <stdexcept>

#include "quantsim/graph/site_handler.h"
#include "quantsim/quant/layer_samples.h"

namespace quantsim {
namespace {

// Thrown by the handler once a batch has given everything wanted: the rest of the forward is not needed.
struct InputsCaptured : std::exception {
  const char* what() const noexcept override { return "layer inputs captured"; }
};

// Site id of every layer's input.
std::vector<int64_t> input_site_of_layers(const PreparedModel& model) {
  if (model.options().act_sites != ActSites::kInputs || !model.options().instrument) {
    throw std::logic_error("capturing layer inputs needs a model instrumented with --act-sites inputs");
  }
  std::vector<int64_t> site_of(model.layers().size(), -1);
  for (const Site& site : model.sites()) {
    for (int64_t layer : site.layers) site_of.at(static_cast<size_t>(layer)) = site.id;
  }
  return site_of;
}

double row_probability(const Layer& layer, const RowSampling& sampling) {
  return layer.kind == LayerKind::kLinear ? 1.0 : sampling.patch_probability;
}

std::vector<int64_t> kept_image_rows(const Layer& layer, int64_t per_image, int64_t image_index,
                                     const RowSampling& sampling) {
  return sampled_image_rows(per_image, row_probability(layer, sampling), sampling.seed, layer.index, image_index);
}

// Indices into a batch's N * per_image rows: image by image, each image's kept rows in increasing order.
std::vector<int64_t> batch_row_indices(const Layer& layer, int64_t per_image, const std::vector<int64_t>& images,
                                       const RowSampling& sampling) {
  std::vector<int64_t> rows;
  for (size_t position = 0; position < images.size(); ++position) {
    for (int64_t row : kept_image_rows(layer, per_image, images[position], sampling)) {
      rows.push_back(static_cast<int64_t>(position) * per_image + row);
    }
  }
  return rows;
}

class LayerInputRecorder : public SiteHandler {
 public:
  LayerInputRecorder(const PreparedModel& model, const std::vector<int64_t>& layer_indices,
                     const CalibrationBatches& batches, const RowSampling& sampling)
      : batches_(batches), sampling_(sampling) {
    const std::vector<int64_t> site_of = input_site_of_layers(model);
    for (int64_t index : layer_indices) {
      slots_.emplace_back().layer = &model.layers().at(static_cast<size_t>(index));
      wanted_by_site_[site_of.at(static_cast<size_t>(index))].push_back(slots_.size() - 1);
    }
  }

  void start_batch(size_t batch) {
    batch_ = batch;
    captured_in_batch_ = 0;
  }

  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override {
    const auto it = wanted_by_site_.find(site_id);
    if (it == wanted_by_site_.end()) return x;
    for (size_t slot : it->second) record(slots_[slot], x);
    captured_in_batch_ += it->second.size();
    if (captured_in_batch_ == slots_.size()) throw InputsCaptured();
    return x;
  }

  std::vector<at::Tensor> take() {
    std::vector<at::Tensor> rows;
    for (Slot& slot : slots_) {
      if (slot.filled != (slot.buffer.defined() ? slot.buffer.size(1) : -1)) {
        throw std::logic_error(
            fmt::format("layer '{}': its input was not captured from every calibration batch", slot.layer->name));
      }
      rows.push_back(std::move(slot.buffer));
    }
    return rows;
  }

 private:
  struct Slot {
    const Layer* layer = nullptr;
    int64_t rows_per_image = -1;  // known once the layer's input is first seen
    at::Tensor buffer;            // [G, m, n] for all calibration images
    int64_t filled = 0;
  };

  // Sizes the buffer for every calibration image at once (the choice of rows is known in advance), so that the
  // samples are written in place rather than concatenated at twice the memory.
  void allocate(Slot& slot, const at::Tensor& x) {
    slot.rows_per_image = rows_per_image(*slot.layer, x.sizes());
    int64_t total = 0;
    for (const auto& batch : batches_.image_indices) {
      for (int64_t image : batch) {
        total += static_cast<int64_t>(kept_image_rows(*slot.layer, slot.rows_per_image, image, sampling_).size());
      }
    }
    const at::Tensor one_row = layer_input_rows(*slot.layer, x, at::zeros({1}, at::kLong));
    slot.buffer = at::empty({one_row.size(0), total, one_row.size(2)}, one_row.options());
  }

  void record(Slot& slot, const at::Tensor& x) {
    if (slot.rows_per_image < 0) allocate(slot, x);
    const std::vector<int64_t> rows = batch_row_indices(*slot.layer, slot.rows_per_image,
                                                        batches_.image_indices.at(batch_), sampling_);
    if (rows.empty()) return;
    const at::Tensor indices = at::tensor(rows, at::kLong);
    slot.buffer.narrow(1, slot.filled, indices.size(0)).copy_(layer_input_rows(*slot.layer, x, indices));
    slot.filled += indices.size(0);
  }

  const CalibrationBatches& batches_;
  const RowSampling sampling_;
  std::vector<Slot> slots_;
  std::map<int64_t, std::vector<size_t>> wanted_by_site_;
  size_t batch_ = 0;
  size_t captured_in_batch_ = 0;
};

class InputShapeRecorder : public SiteHandler {
 public:
  explicit InputShapeRecorder(size_t sites) : shapes_(sites) {}
  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override {
    shapes_.at(static_cast<size_t>(site_id)) = x.sizes().vec();
    return x;
  }
  const std::vector<std::vector<int64_t>>& shapes() const { return shapes_; }

 private:
  std::vector<std::vector<int64_t>> shapes_;
};

}  // namespace

int64_t CalibrationBatches::image_count() const {
  int64_t count = 0;
  for (const auto& batch : image_indices) count += static_cast<int64_t>(batch.size());
  return count;
}

std::vector<at::Tensor> capture_layer_inputs(const PreparedModel& model, const std::vector<int64_t>& layer_indices,
                                             const CalibrationBatches& batches, const RowSampling& sampling) {
  if (layer_indices.empty()) return {};
  LayerInputRecorder recorder(model, layer_indices, batches, sampling);
  ScopedSiteHandler scope(recorder);
  for (size_t batch = 0; batch < batches.images.size(); ++batch) {
    recorder.start_batch(batch);
    try {
      model.forward(batches.images[batch].to(model.device()));
    } catch (const InputsCaptured&) {
      // expected: everything wanted from this batch is in
    }
  }
  return recorder.take();
}

at::Tensor sampled_batch_rows(const Layer& layer, const at::Tensor& x, const std::vector<int64_t>& image_indices,
                              const RowSampling& sampling) {
  const std::vector<int64_t> rows = batch_row_indices(layer, rows_per_image(layer, x.sizes()), image_indices, sampling);
  return layer_input_rows(layer, x, at::tensor(rows, at::kLong));
}

std::vector<int64_t> sampled_rows_per_image(const Layer& layer, at::IntArrayRef input_shape,
                                            const CalibrationBatches& batches, const RowSampling& sampling) {
  const int64_t per_image = rows_per_image(layer, input_shape);
  std::vector<int64_t> counts;
  for (const auto& batch : batches.image_indices) {
    for (int64_t image : batch) {
      counts.push_back(static_cast<int64_t>(kept_image_rows(layer, per_image, image, sampling).size()));
    }
  }
  return counts;
}

std::vector<std::vector<int64_t>> layer_input_shapes(const PreparedModel& model, const at::Tensor& image) {
  const std::vector<int64_t> site_of = input_site_of_layers(model);
  InputShapeRecorder recorder(model.sites().size());
  {
    ScopedSiteHandler scope(recorder);
    model.forward(image.to(model.device()));
  }
  std::vector<std::vector<int64_t>> shapes;
  for (int64_t site : site_of) shapes.push_back(recorder.shapes().at(static_cast<size_t>(site)));
  return shapes;
}

}  // namespace quantsim
