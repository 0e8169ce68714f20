#include "quantsim/passes/empirical_bias_correction.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <chrono>
#include <map>
#include <stdexcept>

#include "quantsim/core/errors.h"
#include "quantsim/core/stopwatch.h"
#include "quantsim/data/batch_loader.h"
#include "quantsim/data/progress_bar.h"

namespace quantsim {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kBatchSize = 32;

// Where a layer's output can be measured: from its input site (deploy mode: the conv is recomputed on the tensor the
// layer reads, quantized as the run quantizes it), or from its output site (paper mode: the pre-activation of an
// unsigned site, else the site value, before it is quantized), less the bias.
enum class Role { kInput, kPreActivation, kValue };

struct Probe {
  int64_t layer;
  int64_t site;
  Role role;
};

bool has_conv_geometry(const Layer& layer) {
  return layer.kind == LayerKind::kLinear ||
         (!layer.transposed && !layer.stride.empty() && !layer.padding.empty() && !layer.dilation.empty());
}

std::optional<Probe> probe_of(const PreparedModel& model, int64_t layer) {
  for (const Site& site : model.sites()) {
    const bool reads = std::find(site.layers.begin(), site.layers.end(), layer) != site.layers.end();
    if (!reads) continue;
    if (site.kind == SiteKind::kLayerInput) {
      if (!has_conv_geometry(model.layers()[static_cast<size_t>(layer)])) return std::nullopt;
      return Probe{layer, site.id, Role::kInput};
    }
    if (site.kind == SiteKind::kLayerOutput) {
      return Probe{layer, site.id, site.is_unsigned ? Role::kPreActivation : Role::kValue};
    }
  }
  return std::nullopt;
}

// Thrown once every wanted layer of a batch is measured: the rest of the forward is not needed.
struct MeasurementDone : std::exception {
  const char* what() const noexcept override { return "layer outputs measured"; }
};

class OutputMeanRecorder : public SiteHandler {
 public:
  OutputMeanRecorder(const PreparedModel& model, SiteHandler* inner, std::vector<Probe> probes, bool stop_early)
      : model_(model), inner_(inner), probes_(std::move(probes)), stop_early_(stop_early) {
    sums_.resize(probes_.size());
    counts_.resize(probes_.size(), 0);
  }

  void start_batch() { seen_in_batch_ = 0; }

  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override {
    const at::Tensor y = inner_ ? inner_->on_site(site_id, x) : x;
    for (size_t i = 0; i < probes_.size(); ++i) {
      if (probes_[i].site != site_id || probes_[i].role == Role::kPreActivation) continue;
      record(i, probes_[i].role == Role::kInput ? y : x);
    }
    stop_when_done();
    return y;
  }

  void on_pre_activation(int64_t site_id, const at::Tensor& x) override {
    if (inner_) inner_->on_pre_activation(site_id, x);
    for (size_t i = 0; i < probes_.size(); ++i) {
      if (probes_[i].site == site_id && probes_[i].role == Role::kPreActivation) record(i, x);
    }
    stop_when_done();
  }

  std::vector<at::Tensor> means(size_t layer_count) const {
    std::vector<at::Tensor> result(layer_count);
    for (size_t i = 0; i < probes_.size(); ++i) {
      if (counts_[i] > 0) result[static_cast<size_t>(probes_[i].layer)] = sums_[i] / static_cast<double>(counts_[i]);
    }
    return result;
  }

 private:
  // W x without the bias, per output channel summed over everything else.
  void record(size_t i, const at::Tensor& x) {
    const Layer& layer = model_.layers()[static_cast<size_t>(probes_[i].layer)];
    at::Tensor out;
    if (probes_[i].role == Role::kInput) {
      const at::Tensor weight = model_.layer_weight(layer.index);
      if (layer.kind == LayerKind::kConv) {
        const std::vector<int64_t> output_padding(layer.stride.size(), 0);
        out = at::convolution(x, weight, {}, layer.stride, layer.padding, layer.dilation, false, output_padding,
                              layer.groups);
      } else {
        out = at::matmul(x, weight.t());  // aten::linear, or a weight matmul (x @ W, W = weight^T)
      }
    } else {
      out = x;
      if (layer.bias.defined()) {
        std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
        shape[layer.kind == LayerKind::kConv ? 1 : shape.size() - 1] = layer.bias.size(0);
        out = x - layer.bias.reshape(shape);
      }
    }
    const int64_t channel_dim = layer.kind == LayerKind::kConv ? 1 : out.dim() - 1;
    const at::Tensor per_channel = out.transpose(channel_dim, 0).reshape({out.size(channel_dim), -1});
    const at::Tensor sum = per_channel.to(at::kDouble).sum(1).to(at::kCPU);
    sums_[i] = sums_[i].defined() ? sums_[i] + sum : sum;
    counts_[i] += per_channel.size(1);
    ++seen_in_batch_;
  }

  void stop_when_done() const {
    if (stop_early_ && seen_in_batch_ == probes_.size()) throw MeasurementDone();
  }

  const PreparedModel& model_;
  SiteHandler* inner_;
  std::vector<Probe> probes_;
  bool stop_early_;
  std::vector<at::Tensor> sums_;
  std::vector<int64_t> counts_;
  size_t seen_in_batch_ = 0;
};

std::vector<at::Tensor> measure(const PreparedModel& model, SiteHandler* handler, const std::vector<at::Tensor>& images,
                                const std::vector<Probe>& probes, bool stop_early) {
  OutputMeanRecorder recorder(model, handler, probes, stop_early);
  ScopedSiteHandler scope(recorder);
  for (const at::Tensor& batch : images) {
    recorder.start_batch();
    try {
      model.forward(batch.to(model.device()));
    } catch (const MeasurementDone&) {
      // expected: the layers wanted from this batch are measured
    }
  }
  return recorder.means(model.layers().size());
}

std::vector<Probe> probes_for(const PreparedModel& model, const std::vector<int64_t>& layers) {
  std::vector<Probe> probes;
  for (int64_t layer : layers) {
    if (auto probe = probe_of(model, layer)) probes.push_back(*probe);
  }
  return probes;
}

std::vector<at::Tensor> load_images(const ImageSet& calibration, const EmpiricalBiasCorrectionOptions& options) {
  const std::unique_ptr<BatchSource> loader = read_batches(
      calibration, {kBatchSize, options.workers, 2, options.progress, "bias correction images"});
  std::vector<at::Tensor> images;
  while (auto batch = loader->next()) images.push_back(batch->images);
  check_bad_images(*loader, options.max_bad_image_share);
  if (images.empty()) {
    throw UserError(fmt::format("{}: no bias correction calibration image could be decoded", calibration.root));
  }
  return images;
}

}  // namespace

std::vector<at::Tensor> layer_output_means(const PreparedModel& model, SiteHandler* handler,
                                           const std::vector<at::Tensor>& images, const std::vector<int64_t>& layers) {
  return measure(model, handler, images, probes_for(model, layers), false);
}

EmpiricalBiasCorrectionSummary correct_biases_empirically(PreparedModel& model, SiteHandler& quantizer,
                                                          const PreparedModel& reference, const ImageSet& calibration,
                                                          const EmpiricalBiasCorrectionOptions& options) {
  const auto start = Clock::now();
  EmpiricalBiasCorrectionSummary summary;
  const std::vector<at::Tensor> images = load_images(calibration, options);
  for (const at::Tensor& batch : images) summary.images += batch.size(0);

  std::vector<int64_t> layers;
  for (const Layer& layer : model.layers()) {
    if (model.layer_takes_bias(layer.index) && probe_of(model, layer.index)) {
      layers.push_back(layer.index);
    } else {
      ++summary.skipped_layers;
    }
  }
  const std::vector<at::Tensor> expected = measure(reference, nullptr, images, probes_for(reference, layers), false);
  ProgressBar progress("bias correction layers", static_cast<int64_t>(layers.size()), options.progress);
  double relative_sum = 0.0;
  for (int64_t index : layers) {
    // Sequential: this layer's inputs already carry every earlier layer's correction.
    const at::Tensor got = measure(model, &quantizer, images, probes_for(model, {index}), true).at(index);
    const at::Tensor& want = expected.at(static_cast<size_t>(index));
    if (!got.defined() || !want.defined()) throw std::logic_error("bias correction: a layer was not measured");
    const at::Tensor shift = got - want;
    const Layer& layer = model.layers()[static_cast<size_t>(index)];
    const at::Tensor bias = layer.bias.defined() ? layer.bias.to(at::kCPU, at::kDouble) : at::zeros_like(shift);
    model.set_layer_bias(index, (bias - shift).to(at::kFloat));
    relative_sum += (shift.abs().mean() / want.abs().mean().clamp_min(1e-12)).item<double>();
    ++summary.corrected_layers;
    progress.advance(1);
  }
  progress.finish();
  if (summary.corrected_layers > 0) summary.mean_relative_shift = relative_sum / summary.corrected_layers;
  summary.seconds = seconds_since(start);
  return summary;
}

}  // namespace quantsim
