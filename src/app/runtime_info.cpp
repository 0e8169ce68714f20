#include "quantsim/app/runtime_info.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <link.h>

#include <cstring>
#include <filesystem>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace quantsim {
namespace {

// The first loaded object whose file name starts with "libblas.so": Debian's alternatives symlink, resolved to the
// library it points to (reference, OpenBLAS, BLIS, MKL...).
std::string loaded_blas_path() {
  std::string found;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        auto* result = static_cast<std::string*>(data);
        const char* name = info->dlpi_name;
        if (name == nullptr || *name == '\0' || !result->empty()) return 0;
        const char* base = std::strrchr(name, '/');
        base = base != nullptr ? base + 1 : name;
        if (std::strncmp(base, "libblas.so", 10) == 0) *result = name;
        return 0;
      },
      &found);
  if (found.empty()) return found;
  std::error_code ec;
  const std::filesystem::path real = std::filesystem::canonical(found, ec);
  return ec ? found : real.string();
}

// OpenBLAS's configuration string "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ... USE_OPENMP Cooperlake MAX_THREADS=64"
// shortened to its version, threading model and the kernel set it chose for this processor.
std::string openblas_name(const char* config) {
  std::istringstream words(config);
  std::string name, version, word;
  words >> name >> version;
  std::vector<std::string> details;
  while (words >> word) {
    if (word == "USE_OPENMP") details.push_back(word);
    if (word.find('=') == std::string::npos && word.find('_') == std::string::npos) details.push_back(word);
  }
  std::string joined;
  for (const std::string& detail : details) joined += (joined.empty() ? "" : ", ") + detail;
  return joined.empty() ? name + " " + version : fmt::format("{} {} ({})", name, version, joined);
}

// A symbol of the loaded BLAS itself: not looked up process-wide, because liblapack.so.3 may be OpenBLAS while
// libblas.so.3 is the reference library, and then the process has OpenBLAS's symbols without using its matmul.
void* blas_symbol(const std::string& path, const char* name) {
  void* handle = dlopen(path.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  if (handle == nullptr) return nullptr;
  void* symbol = dlsym(handle, name);
  dlclose(handle);  // only drops the reference RTLD_NOLOAD took: the library stays loaded
  return symbol;
}

}  // namespace

RuntimeInfo runtime_info() {
  RuntimeInfo info;
  info.blas_path = loaded_blas_path();
  using ConfigFn = const char* (*)();
  using ThreadsFn = int (*)();
  const auto openblas_config = reinterpret_cast<ConfigFn>(blas_symbol(info.blas_path, "openblas_get_config"));
  const auto openblas_threads = reinterpret_cast<ThreadsFn>(blas_symbol(info.blas_path, "openblas_get_num_threads"));
  if (info.blas_path.empty()) {
    info.blas = "none loaded";
  } else if (openblas_config != nullptr) {
    info.blas = openblas_name(openblas_config());
    if (openblas_threads != nullptr) info.blas_threads = openblas_threads();
  } else if (info.blas_path.find("/blas/") != std::string::npos) {
    info.blas = "reference BLAS (netlib, untuned)";  // Debian's libblas3 lives in .../blas/
  } else {
    info.blas = "unknown BLAS";
  }
  // LibTorch defaults to one thread per physical core (hyperthreads not counted); OMP_NUM_THREADS overrides it.
  info.intra_op_threads = at::get_num_threads();
  info.inter_op_threads = at::get_num_interop_threads();
  return info;
}

std::string describe(const RuntimeInfo& info) {
  std::string blas = "BLAS " + info.blas;
  if (!info.blas_path.empty()) blas += " at " + info.blas_path;
  if (info.blas_threads > 0) blas += fmt::format(", {} BLAS threads", info.blas_threads);
  return fmt::format("{}; LibTorch {} intra-op / {} inter-op threads", blas, info.intra_op_threads,
                     info.inter_op_threads);
}

std::string describe_briefly(const RuntimeInfo& info) {
  // The BLAS's name up to its details in parentheses: "OpenBLAS 0.3.21", "reference BLAS".
  const std::string name = info.blas.substr(0, info.blas.find(" ("));
  return fmt::format("BLAS {}, {} LibTorch thread{}", name, info.intra_op_threads,
                     info.intra_op_threads == 1 ? "" : "s");
}

}  // namespace quantsim
