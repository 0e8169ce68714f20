#pragma once
// Reading and running a TorchScript classifier, with one-line UserErrors for the ways a user gets it wrong: every
// LibTorch failure is cut down to the line that says what happened (no C++ backtrace, no TorchScript traceback).
#include <ATen/core/Tensor.h>
#include <torch/csrc/jit/api/module.h>

#include <exception>
#include <string>

#include "quantsim/graph/model_output.h"

namespace quantsim::graph {

// torch::jit::load on CPU, or with every tensor mapped to `device`: graph constants too, which Module::to() leaves
// where they are (frozen models, --export files). Throws UserError (naming `path`) for a missing file, a directory,
// a file that is not a TorchScript archive, or a model whose forward does not take one image batch
// (check_single_tensor_input).
torch::jit::Module load_torchscript(const std::string& path, const c10::Device& device = c10::Device(c10::kCPU));

// Throws UserError naming `path` unless `module` has a forward taking exactly one tensor (arguments with defaults
// aside): quant-sim feeds it a batch of images and nothing else.
void check_single_tensor_input(const torch::jit::Module& module, const std::string& path);

// First line of a c10::Error's message, without LibTorch's backtrace: fit for a one-line UserError.
std::string first_line(const c10::Error& error);

// The line of a LibTorch or TorchScript error that says what went wrong: after a TorchScript traceback, its
// exception line ("RuntimeError: ...", "builtins.ValueError: ..."), otherwise the first line. Never the C++
// backtrace of a c10::Error.
std::string error_summary(const std::exception& error);

// Throws UserError "model PATH failed on an input of shape [..]: <error_summary>".
[[noreturn]] void throw_forward_failure(const std::string& path, at::IntArrayRef input_shape,
                                        const std::exception& error);

// module.forward({input}) for a classifier, and the logits in what it returns (`output`, see model_output.h): its
// failures, and outputs without the logits, as one-line UserErrors naming `path`.
at::Tensor run_classifier(torch::jit::Module& module, const at::Tensor& input, const std::string& path,
                          const OutputChoice& output = {});

}  // namespace quantsim::graph
