#pragma once
// Reading a TorchScript file, with one-line UserErrors for the ways a user gets it wrong.
#include <torch/csrc/jit/api/module.h>

#include <string>

namespace quantsim::graph {

// torch::jit::load on CPU. Throws UserError (naming `path`) for a missing file, a directory, or a file that is not a
// TorchScript archive; LibTorch's C++ backtrace is dropped.
torch::jit::Module load_torchscript(const std::string& path);

// First line of a c10::Error's message, without LibTorch's backtrace: fit for a one-line UserError.
std::string first_line(const c10::Error& error);

}  // namespace quantsim::graph
