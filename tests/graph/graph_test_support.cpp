#include "graph_test_support.h"

#include <ATen/ATen.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>

namespace quantsim::graph_test {
namespace fs = std::filesystem;

namespace {

const char* kPython = "/usr/bin/python3";

// Generates into a private temp folder and renames it into place, so parallel test processes never see half a set.
std::string generate_fixtures() {
  const fs::path final_dir = fs::path(QUANTSIM_BINARY_DIR) / "graph_fixtures";
  const fs::path script = fs::path(QUANTSIM_SOURCE_DIR) / "tests/graph/make_fixtures.py";
  const fs::path stamp = final_dir / "complete";
  if (fs::exists(stamp) && fs::last_write_time(stamp) >= fs::last_write_time(script)) return final_dir.string();
  const std::string probe = std::string(kPython) + " -c 'import torch, torchvision' >/dev/null 2>&1";
  if (std::system(probe.c_str()) != 0) return "";
  const fs::path temp = final_dir.string() + ".tmp." + std::to_string(::getpid());
  const std::string command = std::string(kPython) + " " + script.string() + " " + temp.string() + " >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) return "";
  std::ofstream(temp / "complete").put('\n');
  std::error_code ec;
  fs::remove_all(final_dir, ec);
  fs::rename(temp, final_dir, ec);
  if (ec) fs::remove_all(temp, ec);  // another process won the race; its set is as good
  return fs::exists(stamp) ? final_dir.string() : "";
}

}  // namespace

std::string real_model_path(const std::string& name) {
  const char* env = std::getenv("QUANTSIM_DATA");
  const fs::path path = fs::path(env != nullptr ? env : QUANTSIM_DATA_DEFAULT) / "models" / (name + ".pt");
  return fs::exists(path) ? path.string() : "";
}

std::string fixture_path(const std::string& name) {
  static std::once_flag once;
  static std::string dir;
  std::call_once(once, [] { dir = generate_fixtures(); });
  if (dir.empty()) return "";
  const fs::path path = fs::path(dir) / (name + ".pt");
  return fs::exists(path) ? path.string() : "";
}

const Site* find_site(const PreparedModel& model, const std::string& name) {
  for (const Site& site : model.sites()) {
    if (site.name == name) return &site;
  }
  return nullptr;
}

const Site& site_named(const PreparedModel& model, const std::string& name) {
  if (const Site* site = find_site(model, name)) return *site;
  throw std::out_of_range("no site named " + name);
}

at::Tensor RecordingHandler::on_site(int64_t site_id, const at::Tensor& x) {
  calls.push_back({site_id, false, x.min().item<double>()});
  return x;
}

void RecordingHandler::on_pre_activation(int64_t site_id, const at::Tensor& x) {
  calls.push_back({site_id, true, x.min().item<double>()});
}

at::Tensor test_input(int64_t batch, int64_t channels, int64_t height, int64_t width, double scale) {
  at::manual_seed(1234);
  return at::randn({batch, channels, height, width}) * scale;
}

}  // namespace quantsim::graph_test
