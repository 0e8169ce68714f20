#pragma once
// An op that the simulated network runs in float: anything that is not a conv or linear layer (docs/QUANTIZATION.md,
// section 4). Listed by `quant-sim inspect`.
#include <string>

namespace quantsim {

struct FloatOp {
  std::string op;           // "aten::silu", "aten::batch_norm", "aten::max_pool2d", ...
  std::string module_path;  // "features.1.0.block.2"; empty for an op of the top-level forward
};

}  // namespace quantsim
