#pragma once
// Reading a TorchScript file, with one-line UserErrors for the ways a user gets it wrong.
#include <torch/csrc/jit/api/module.h>

#include <string>

namespace quantsim::graph {

// torch::jit::load on CPU, or with every tensor mapped to `device`: graph constants too, which Module::to() leaves
// where they are (frozen models, --export files). Throws UserError (naming `path`) for a missing file, a directory,
// or a file that is not a TorchScript archive; LibTorch's C++ backtrace is dropped.
torch::jit::Module load_torchscript(const std::string& path, const c10::Device& device = c10::Device(c10::kCPU));

// First line of a c10::Error's message, without LibTorch's backtrace: fit for a one-line UserError.
std::string first_line(const c10::Error& error);

}  // namespace quantsim::graph
