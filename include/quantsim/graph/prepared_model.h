#pragma once
// A CNN ready for quantization experiments: loaded from TorchScript, frozen, BatchNorm folded, its conv/linear layers
// and activation sites found (docs/QUANTIZATION.md, section 4), and a `quantsim::site` op inserted at every site.
//
// Typical use by a statistics or quantization pass:
//
//   auto model = quantsim::PreparedModel::load(path, {quantsim::ActSites::kOutputs});
//   for (const quantsim::Layer& layer : model.layers())             // quantize weights once per run
//     model.set_layer_weight(layer.index, my_quantize(layer.original_weight, layer.first || layer.last));
//   MyObserver observer(model.sites());                               // a quantsim::SiteHandler
//   quantsim::ScopedSiteHandler scope(observer);                      // the site ops call it during forward
//   at::Tensor logits = model.forward(batch);                         // [N, classes]
//
// Keeps torch/script.h out: the graph lives behind a pointer.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quantsim/graph/activation_site.h"
#include "quantsim/graph/float_op.h"
#include "quantsim/graph/integer_execution.h"
#include "quantsim/graph/model_output.h"
#include "quantsim/quant/choices.h"
#include "quantsim/quant/model_layer.h"
#include "quantsim/quant/quant_params.h"

namespace quantsim {

// What cross-layer equalization did to a model (PrepareOptions::cross_layer_equalization).
struct CrossLayerEqualizationSummary {
  int64_t pairs = 0;                       // layer -> ReLU/ReLU6 -> layer pairs equalised
  int64_t sweeps = 0;                      // sweeps over the pairs until the scales converged
  int64_t absorbed_pairs = 0;              // pairs whose first layer's high bias moved into the second
  int64_t not_absorbed_no_batch_norm = 0;  // no BN folded into the first layer: no distribution to absorb from
  int64_t not_absorbed_padding = 0;        // the second layer pads: absorbing would change its border outputs
  int64_t per_channel_clamps = 0;          // ReLU6 turned into clamp(x, 0, 6 / s_i - c_i), exact
};

struct PrepareOptions {
  ActSites act_sites = ActSites::kOutputs;
  // false: sites are listed but no site op is inserted (the plain frozen, BN-folded model; for comparisons).
  bool instrument = true;
  // false: BatchNorm after a conv stays a float op instead of being folded into the conv (docs/QUANTIZATION.md,
  // section 4). Folding re-associates float arithmetic, so only an unfolded graph can equal the original module's
  // logits bit for bit; tests compare the two this way.
  bool fold_batch_norm = true;
  // Cross-layer equalization of the BN-folded FP32 weights (docs/QUANTIZATION.md, section 14.1): every Layer's
  // original_weight and bias are the equalised ones. Exact in FP32 (ReLU6 gets per-channel bounds).
  bool cross_layer_equalization = false;
  // With cross_layer_equalization: also absorb high biases (approximate: see docs/QUANTIZATION.md, section 14.1).
  bool high_bias_absorption = true;
  // Which element of a tuple, list or dict output is the logits (--output); forward() returns just that tensor.
  OutputChoice output = {};
};

class PreparedModel {
 public:
  // Throws UserError for a missing or unreadable file, a graph that cannot be frozen, or an op that cannot be
  // simulated (docs/QUANTIZATION.md, section 4).
  static PreparedModel load(const std::string& path, const PrepareOptions& options = {});

  PreparedModel(PreparedModel&&) noexcept;
  PreparedModel& operator=(PreparedModel&&) noexcept;
  ~PreparedModel();

  const std::string& path() const;
  const PrepareOptions& options() const;
  // Conv/linear layers in execution order; Layer::index is the position.
  const std::vector<Layer>& layers() const;
  // Activation sites for options().act_sites; Site::id is the position and what SiteHandler receives.
  const std::vector<Site>& sites() const;
  // The ops that run in float (everything but the layers), in graph order, before any site op was inserted.
  const std::vector<FloatOp>& float_ops() const;
  // What options().cross_layer_equalization did (all zero without it).
  const CrossLayerEqualizationSummary& equalization() const;

  // Makes layer `index` compute with `weight` (same shape as its original_weight; copied, converted to the
  // layer's dtype/device). Takes effect for every later forward, including already compiled ones.
  void set_layer_weight(int64_t index, const at::Tensor& weight);
  // The weight layer `index` currently computes with.
  at::Tensor layer_weight(int64_t index) const;
  // Whether layer `index` can take a bias (a conv or aten::linear; not a weight matmul).
  bool layer_takes_bias(int64_t index) const;
  // Makes layer `index` add `bias` ([out_channels]; copied, converted to the layer's dtype/device), also when it had
  // none; layers()[index].bias becomes it. Throws std::invalid_argument unless layer_takes_bias(index). Recompiles
  // the graph on the next forward: not for a hot loop.
  void set_layer_bias(int64_t index, const at::Tensor& bias);

  // Moves every constant of the graph (weights, biases, original_weight copies) to `device`; inputs must follow.
  void to(const c10::Device& device);
  c10::Device device() const;

  // Runs the graph without autograd, in the current thread, calling the installed SiteHandler at every site.
  // Returns the logits options().output selects (model_output.h); throws UserError when there are none.
  at::Tensor forward(const at::Tensor& input) const;

  // Runs the graph on integer codes (integer_execution.h; docs/QUANTIZATION.md, section 16) instead of float: layers
  // compute with program.layers, sites produce program.sites' codes (and report them to `observer`, if any); no
  // SiteHandler is called. Returns float32 logits [N, classes] as forward() does. Throws UserError naming the first
  // node integer hardware cannot run this way (an op with no integer form, a conv/linear whose input is not a site's
  // codes, as in paper mode) and what it is, before computing anything from it.
  at::Tensor forward_integer(const at::Tensor& input, const IntegerProgram& program,
                             IntegerCodeObserver* observer = nullptr) const;

  // Writes (atomically) a standalone TorchScript file that computes what forward() computes now under a static-range
  // fake-quantizing handler: the layers' current weights folded in as constants, and at every site the fake-quant op
  // (fake_quant.h) with `site_params[site.id]` as constants, or nothing where that is nullopt (the site stays float).
  // It runs in any program that links libquantsim_quant (which registers the ops), e.g. `quant-sim --model PATH`.
  // It returns just the logits forward() returns (of a model returning a tuple, list or dict, the element selected on
  // the last forward, which must have run), so that it evaluates as a plain classifier without --output.
  void save_fake_quantized(const std::string& path, const std::vector<std::optional<QuantParams>>& site_params) const;

  // How many nodes of a kind ("aten::batch_norm") the prepared graph holds, nested blocks included: what the
  // preparation left of the model (tests check the folding and rewriting with it).
  int64_t count_nodes(const std::string& kind) const;

 private:
  struct Impl;
  explicit PreparedModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether -pcq_a may quantize this site's tensor `x` per channel (axis 1): not a pooling site, and a tensor with
// spatial size > 1 (docs/QUANTIZATION.md, section 4). [N, C] tensors and [N, C, 1, 1] maps are per tensor.
bool site_allows_per_channel(const Site& site, const at::Tensor& x);

// Throws UserError "model output has shape [..]; expected [N, classes]" unless `output` is [batch, num_classes]
// (num_classes <= 0: any class count). Run it on the first batch.
void check_logits_shape(const at::Tensor& output, int64_t batch, int64_t num_classes);

}  // namespace quantsim
