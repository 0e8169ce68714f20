#pragma once
// Writes a float32 matrix as a NumPy .npy file (format version 1.0), atomically, for --save-logits.
#include <string>

#include <ATen/core/Tensor.h>

namespace quantsim {

void write_npy_float32(const std::string& path, const at::Tensor& matrix);

}  // namespace quantsim
