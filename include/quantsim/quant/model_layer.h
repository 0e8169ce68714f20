#pragma once
// One conv or linear layer of a prepared model: the weights quant-sim quantizes (docs/QUANTIZATION.md, section 4).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace quantsim {

enum class LayerKind { kConv, kLinear };

struct Layer {
  int64_t index = 0;  // position in execution (graph) order, 0-based
  std::string name;   // stable: module path (`layer1.0.conv2`), else `<op>_<k>` (`conv2d_3`)
  LayerKind kind = LayerKind::kConv;
  std::string op;      // graph op, e.g. "aten::conv2d", "aten::linear"
  bool first = false;  // first conv-or-linear in execution order (keeps --first-last-bits)
  bool last = false;   // last conv-or-linear in execution order (keeps --first-last-bits)
  int64_t groups = 1;  // conv groups (depthwise: groups == in_channels); 1 for linear
  // Conv geometry, one entry per spatial dimension, as the graph gives them (for unfolding inputs into patches, as
  // GPFQ does). Empty for linear layers, and when the graph does not hold them as constant integer lists (e.g. a
  // string padding such as "same").
  std::vector<int64_t> stride;
  std::vector<int64_t> padding;
  std::vector<int64_t> dilation;
  bool transposed = false;  // aten::_convolution with transposed = true (a deconvolution)
  // FP32 weight after BN folding, never modified: quantize from this. Output channels on axis 0.
  at::Tensor original_weight;
  // Float bias after BN folding, or undefined when the layer has none. Biases stay float (docs/QUANTIZATION.md,
  // section 4).
  at::Tensor bias;
};

inline const char* to_string(LayerKind kind) { return kind == LayerKind::kConv ? "conv" : "linear"; }

}  // namespace quantsim
