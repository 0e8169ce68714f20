#include "quantsim/graph/torchscript_loading.h"

#include <torch/csrc/jit/serialization/import.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <sstream>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"

namespace quantsim::graph {
namespace {

std::string shape_text(at::IntArrayRef sizes) { return fmt::format("[{}]", fmt::join(sizes, ", ")); }

// The error's text without LibTorch's C++ backtrace (c10::Error keeps it apart).
std::string message_of(const std::exception& error) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&error)) return c10_error->what_without_backtrace();
  return error.what();
}

}  // namespace

std::string first_line(const c10::Error& error) {
  std::string message = error.what_without_backtrace();
  const auto end = message.find('\n');
  if (end != std::string::npos) message.resize(end);
  return message;
}

std::string error_summary(const std::exception& error) {
  // After "Traceback of TorchScript ... (most recent call last):" come the frames (source lines, indented or not)
  // and then the exception: "RuntimeError: ...", "builtins.AssertionError: ...". Without a traceback the first
  // line says it all.
  static const std::regex kExceptionLine(R"(([A-Za-z_][A-Za-z0-9_]*\.)*[A-Za-z_][A-Za-z0-9_]*(Error|Exception): .*)");
  std::istringstream lines(message_of(error));
  std::string line;
  std::string first;
  std::string last;
  bool after_traceback = false;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (first.empty()) first = line;
    last = line;
    if (line.rfind("Traceback of TorchScript", 0) == 0) {
      after_traceback = true;
    } else if (after_traceback && std::regex_match(line, kExceptionLine)) {
      return line;
    }
  }
  return after_traceback ? last : first;
}

void check_single_tensor_input(const torch::jit::Module& module, const std::string& path) {
  const auto forward = module.find_method("forward");
  if (!forward) throw UserError(fmt::format("model {} has no forward method", path));
  const std::vector<c10::Argument>& arguments = forward->function().getSchema().arguments();
  std::vector<const c10::Argument*> required;  // without self and arguments that have defaults
  for (size_t i = 1; i < arguments.size(); ++i) {
    if (!arguments[i].default_value()) required.push_back(&arguments[i]);
  }
  const bool takes_a_tensor = required.size() == 1 && c10::TensorType::get()->isSubtypeOf(*required[0]->type());
  if (!takes_a_tensor) {
    std::vector<std::string> names;
    for (const c10::Argument* argument : required) names.push_back(argument->name() + ": " + argument->type()->str());
    throw UserError(fmt::format("model {}: forward takes ({}); quant-sim needs a forward taking one image batch "
                                "tensor",
                                path, fmt::join(names, ", ")));
  }
}

torch::jit::Module load_torchscript(const std::string& path, const c10::Device& device) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
    throw UserError("model file not found: " + path);
  }
  if (std::filesystem::is_directory(path, ec)) throw UserError("model path is a directory, not a file: " + path);
  require_regular_file(path);  // a FIFO would block the loader forever
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, device);
  } catch (const std::exception& e) {  // c10::Error, or a pickle or zip reader error outside it
    throw UserError("cannot load model " + path + ": not a readable TorchScript file (" + error_summary(e) + ")");
  }
  check_single_tensor_input(module, path);
  return module;
}

void throw_forward_failure(const std::string& path, at::IntArrayRef input_shape, const std::exception& error) {
  throw UserError(
      fmt::format("model {} failed on an input of shape {}: {}", path, shape_text(input_shape), error_summary(error)));
}

at::Tensor run_classifier(torch::jit::Module& module, const at::Tensor& input, const std::string& path,
                          const OutputChoice& choice) {
  c10::IValue output;
  try {
    const TupleOutputWarningFilter quiet;
    output = module.forward({input});
  } catch (const std::exception& e) {  // c10::Error from an op, torch::jit::JITException from a `raise`
    throw_forward_failure(path, input.sizes(), e);
  }
  return select_logits(output, choice, path).logits;
}

}  // namespace quantsim::graph
