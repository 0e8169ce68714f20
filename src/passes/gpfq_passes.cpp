#include "gpfq_passes.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <exception>

#include "quantsim/graph/site_handler.h"

namespace quantsim::gpfq {
namespace {

// FP32 layer inputs are captured for as many upcoming layers at once as fit in this many bytes.
constexpr double kReferenceInputBytes = 1024.0 * 1024.0 * 1024.0;

// The one-pass schedule's handler: quantizes each layer at its input, before the layer runs.
class QuantizeAtLayerInputs : public SiteHandler {
 public:
  QuantizeAtLayerInputs(GpfqRun& run, std::vector<int64_t> image_indices)
      : run_(run), image_indices_(std::move(image_indices)) {
    std::vector<int64_t> site_of(run.partial.layers().size(), -1);
    for (const Site& site : run.partial.sites()) {
      for (int64_t layer : site.layers) site_of.at(static_cast<size_t>(layer)) = site.id;
    }
    for (int64_t layer : run.layers) layers_at_site_[site_of.at(static_cast<size_t>(layer))].push_back(layer);
  }

  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override {
    const auto it = layers_at_site_.find(site_id);
    if (it == layers_at_site_.end() || error_) return x;
    // Quantizing runs the reference network inside this forward. An exception thrown from here through the
    // interpreter after such a nested run crashes LibTorch 1.13's interpreter, so it is kept and rethrown by
    // rethrow_error() once the forward is over.
    try {
      for (int64_t index : it->second) {  // layers reading one tensor, in layer order
        const Layer& layer = run_.partial.layers().at(static_cast<size_t>(index));
        run_.quantize(index, sampled_batch_rows(layer, x, image_indices_, run_.sampling));
      }
    } catch (...) {
      error_ = std::current_exception();
    }
    return x;
  }

  void rethrow_error() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  GpfqRun& run_;
  const std::vector<int64_t> image_indices_;
  std::map<int64_t, std::vector<int64_t>> layers_at_site_;
  std::exception_ptr error_;
};

}  // namespace

ReferenceInputs::ReferenceInputs(const PreparedModel& model, const CalibrationBatches& batches,
                                 const RowSampling& sampling, std::vector<int64_t> layers, std::vector<double> bytes)
    : model_(model),
      batches_(batches),
      sampling_(sampling),
      layers_(std::move(layers)),
      bytes_(std::move(bytes)),
      taken_(layers_.size(), false) {}

at::Tensor ReferenceInputs::take(int64_t layer) {
  if (cached_.count(layer) == 0) capture_from(layer);
  const auto position = std::find(layers_.begin(), layers_.end(), layer) - layers_.begin();
  taken_.at(static_cast<size_t>(position)) = true;
  return cached_.extract(layer).mapped();
}

void ReferenceInputs::capture_from(int64_t layer) {
  std::vector<int64_t> chunk;
  double total = 0.0;
  const auto first = static_cast<size_t>(std::find(layers_.begin(), layers_.end(), layer) - layers_.begin());
  for (size_t i = first; i < layers_.size(); ++i) {
    if (taken_[i] || cached_.count(layers_[i]) > 0) continue;  // a layer quantized out of order (shared input)
    if (!chunk.empty() && total + bytes_[i] > kReferenceInputBytes) break;
    chunk.push_back(layers_[i]);
    total += bytes_[i];
  }
  std::vector<at::Tensor> rows = capture_layer_inputs(model_, chunk, batches_, sampling_);
  for (size_t i = 0; i < chunk.size(); ++i) cached_[chunk[i]] = std::move(rows[i]);
}

void GpfqRun::quantize(int64_t layer, const at::Tensor& x_tilde) {
  const auto i = static_cast<size_t>(layer);
  const at::Tensor x = reference.take(layer);
  weights.at(i) = quantize_layer(partial.layers().at(i), x, x_tilde.defined() ? x_tilde : x);
  partial.set_layer_weight(layer, weights[i].weight);
  progress.advance(1);
}

void quantize_in_one_pass(GpfqRun& run) {
  std::vector<int64_t> image_indices;
  for (const auto& batch : run.batches.image_indices) {
    image_indices.insert(image_indices.end(), batch.begin(), batch.end());
  }
  const at::Tensor images = at::cat(run.batches.images);
  QuantizeAtLayerInputs handler(run, std::move(image_indices));
  {
    ScopedSiteHandler scope(handler);
    run.partial.forward(images.to(run.partial.device()));
  }
  handler.rethrow_error();
}

void quantize_with_a_pass_per_layer(GpfqRun& run) {
  bool network_changed = false;  // until a layer changes, the partly quantized network's inputs are the FP32 ones
  for (int64_t layer : run.layers) {
    run.quantize(layer, network_changed ? capture_layer_inputs(run.partial, {layer}, run.batches, run.sampling).front()
                                        : at::Tensor());
    network_changed = true;
  }
}

}  // namespace quantsim::gpfq
