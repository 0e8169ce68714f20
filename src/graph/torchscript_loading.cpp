#include "quantsim/torchscript_loading.h"

#include <torch/csrc/jit/serialization/import.h>

#include <algorithm>
#include <filesystem>

#include "quantsim/atomic_file.h"
#include "quantsim/errors.h"

namespace quantsim::graph {

std::string first_line(const c10::Error& error) {
  std::string message = error.what_without_backtrace();
  const auto end = message.find('\n');
  if (end != std::string::npos) message.resize(end);
  return message;
}

torch::jit::Module load_torchscript(const std::string& path, const c10::Device& device) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
    throw UserError("model file not found: " + path);
  }
  if (std::filesystem::is_directory(path, ec)) throw UserError("model path is a directory, not a file: " + path);
  require_regular_file(path);  // a FIFO would block the loader forever
  try {
    return torch::jit::load(path, device);
  } catch (const c10::Error& e) {
    throw UserError("cannot load model " + path + ": not a readable TorchScript file (" + first_line(e) + ")");
  } catch (const std::exception& e) {  // e.g. a pickle or zip reader error outside c10::Error
    std::string message = e.what();
    message.resize(std::min(message.find('\n'), message.size()));
    throw UserError("cannot load model " + path + ": not a readable TorchScript file (" + message + ")");
  }
}

}  // namespace quantsim::graph
