#pragma once
// An activation site: one tensor of the network that quant-sim observes or fake-quantizes (docs/QUANTIZATION.md,
// section 4).
#include <cstdint>
#include <string>
#include <vector>

#include "quantsim/quant/choices.h"

namespace quantsim {

enum class SiteKind {
  kLayerOutput,  // paper mode: output of a conv/linear (after folded BN; after its ReLU when unsigned)
  kPoolOutput,   // paper mode: output of max/avg/adaptive pooling; per tensor, 8 bits, never clipped
  kLayerInput,   // deploy mode: a distinct tensor consumed by one or more conv/linear layers
};

struct Site {
  int64_t id = 0;    // index in PreparedModel::sites(); what SiteHandler receives
  std::string name;  // stable name, written to statistics files and reports
  SiteKind kind = SiteKind::kLayerOutput;
  // Unsigned sites are the output of a ReLU-like op (relu, relu6/hardtanh/clamp with min exactly 0): quantized with
  // lo = 0 and clipped with the pre-activation statistics, which SiteHandler::on_pre_activation delivers.
  bool is_unsigned = false;
  // Uses --first-last-bits: paper mode the logits site; deploy mode the inputs of the first and last layer.
  bool first_last = false;
  bool is_logits = false;  // paper mode: output of the last conv/linear
  // False for pooling sites and for the output or input of a linear layer, whose axis 1 is not a channel axis when
  // the tensor has more than 2 dimensions ([N, tokens, features]). Per-channel also needs spatial size > 1, known
  // only at run time: see site_allows_per_channel() in prepared_model.h.
  bool per_channel_allowed = true;
  std::string producer;         // graph op producing the quantized tensor ("aten::conv2d", "aten::relu", "input", ...)
  std::string activation;       // unsigned sites: the ReLU-like op ("aten::hardtanh"); empty otherwise
  std::vector<int64_t> layers;  // layers whose output (paper) or input (deploy) this site is
};

inline const char* to_string(SiteKind kind) {
  switch (kind) {
    case SiteKind::kLayerOutput: return "layer_output";
    case SiteKind::kPoolOutput: return "pool_output";
    case SiteKind::kLayerInput: return "layer_input";
  }
  return "?";
}

}  // namespace quantsim
