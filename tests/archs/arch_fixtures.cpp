#include "archs/arch_fixtures.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "quantsim/core/atomic_file.h"
#include "support/cli_runner.h"
#include "support/fuzz_support.h"

namespace fs = std::filesystem;

namespace quantsim::testing {

const std::vector<ArchSpec>& arch_specs() {
  static const std::vector<ArchSpec> specs = [] {
    std::vector<ArchSpec> out;
    std::ifstream in(std::string(QUANTSIM_SOURCE_DIR) + "/tests/archs/archs.txt");
    std::string line;
    while (std::getline(in, line)) {
      line = line.substr(0, line.find('#'));
      std::istringstream fields(line);
      ArchSpec spec;
      std::string bn;
      if (fields >> spec.name >> spec.size >> bn) {
        spec.folds_bn = bn == "bn";
        out.push_back(spec);
      }
    }
    if (out.empty()) throw std::runtime_error("tests/archs/archs.txt lists no architecture");
    return out;
  }();
  return specs;
}

namespace {

struct FixtureState {
  std::string dir;
  std::string unavailable;
  std::string failure;  // the script's output when it failed
};

const FixtureState& fixture_state() {
  static const FixtureState state = [] {
    FixtureState s;
    s.dir = std::string(QUANTSIM_BINARY_DIR) + "/arch_fixtures";
    if (!fs::exists("/usr/bin/python3")) {
      s.unavailable = "/usr/bin/python3 does not exist: cannot export the torchvision fixtures";
      return s;
    }
    const CommandResult r = run_command("/usr/bin/python3 " + std::string(QUANTSIM_SOURCE_DIR) +
                                        "/tests/archs/make_arch_fixtures.py --out " + s.dir);
    if (r.exit_code != 0) {
      s.failure = "make_arch_fixtures.py exited with " + std::to_string(r.exit_code) + ":\n" + r.output;
    } else if (fs::exists(s.dir + "/UNAVAILABLE")) {
      s.unavailable = read_file(s.dir + "/UNAVAILABLE");
    } else if (!fs::exists(s.dir + "/READY")) {
      s.failure = "make_arch_fixtures.py exited with 0 but wrote no READY file:\n" + r.output;
    }
    return s;
  }();
  return state;
}

}  // namespace

std::string arch_fixture_dir(std::string* unavailable) {
  const FixtureState& s = fixture_state();
  if (!s.failure.empty()) ADD_FAILURE() << s.failure;
  *unavailable = !s.failure.empty() ? "the fixtures could not be made (see the failure above)" : s.unavailable;
  return s.dir;
}

std::string arch_model(const std::string& dir, const std::string& arch) { return dir + "/" + arch + ".pt"; }
std::string arch_images(const std::string& dir) { return dir + "/images"; }

at::Tensor read_npy_float32(const std::string& path) {
  const std::optional<fuzz::Logits> logits = fuzz::read_logits(path);
  if (!logits) throw std::runtime_error(path + ": not a 2-D little-endian float32 .npy file");
  std::vector<float> values = logits->values;
  return torch::from_blob(values.data(), {logits->rows, logits->cols}, torch::kFloat32).clone();
}

double relative_max_error(const at::Tensor& a, const at::Tensor& b) {
  const double scale = b.abs().max().item<double>();
  const double diff = (a - b).abs().max().item<double>();
  if (scale == 0) return diff == 0 ? 0 : INFINITY;
  return diff / scale;
}

}  // namespace quantsim::testing
