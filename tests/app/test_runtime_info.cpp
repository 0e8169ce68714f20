// `quant-sim --version` and the benchmarks name the BLAS that LibTorch's matmuls really run on: the library mapped
// into the process, read here independently from /proc/self/maps, and its threads.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "quantsim/app/runtime_info.h"
#include "support/cli_runner.h"

using namespace quantsim;
using namespace quantsim::testing;

namespace {

// The canonical path of the mapped file whose name starts with "libblas.so", or "" when none is mapped.
std::string mapped_blas_from_proc_maps() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::filesystem::path path = line.substr(slash);
    if (path.filename().string().rfind("libblas.so", 0) == 0) return std::filesystem::canonical(path).string();
  }
  return "";
}

}  // namespace

TEST(RuntimeInfo, NamesTheBlasLibraryMappedIntoTheProcess) {
  const RuntimeInfo info = runtime_info();
  const std::string mapped = mapped_blas_from_proc_maps();
  ASSERT_FALSE(mapped.empty()) << "LibTorch links libblas.so.3, so it must be mapped";
  EXPECT_EQ(info.blas_path, mapped);
  const bool is_openblas = mapped.find("openblas") != std::string::npos;
  EXPECT_EQ(info.blas.rfind("OpenBLAS", 0) == 0, is_openblas) << info.blas;
  if (is_openblas) {
    EXPECT_GE(info.blas_threads, 1);
  }
  if (mapped.find("/blas/") != std::string::npos) {
    EXPECT_NE(info.blas.find("reference"), std::string::npos);
  }
}

TEST(RuntimeInfo, ReportsLibTorchsThreadCounts) {
  const RuntimeInfo info = runtime_info();
  EXPECT_EQ(info.intra_op_threads, at::get_num_threads());
  EXPECT_GE(info.inter_op_threads, 1);
  const std::string line = describe(info);
  EXPECT_NE(line.find("BLAS " + info.blas + " at " + info.blas_path), std::string::npos) << line;
  EXPECT_NE(line.find(std::to_string(info.intra_op_threads) + " intra-op"), std::string::npos) << line;
}

TEST(RuntimeInfo, BriefFormDropsTheDetails) {
  RuntimeInfo info;
  info.blas = "OpenBLAS 0.3.21 (USE_OPENMP, Cooperlake)";
  info.intra_op_threads = 1;
  EXPECT_EQ(describe_briefly(info), "BLAS OpenBLAS 0.3.21, 1 LibTorch thread");
  info.blas = "reference BLAS (netlib, untuned)";
  info.intra_op_threads = 4;
  EXPECT_EQ(describe_briefly(info), "BLAS reference BLAS, 4 LibTorch threads");
}

TEST(RuntimeInfo, VersionPrintsTheBlasAndThreadsAndFollowsOmpNumThreads) {
  const CommandResult result =
      run_command("OMP_NUM_THREADS=3 " + std::string(QUANTSIM_BINARY_DIR) + "/quant-sim --version");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("quant-sim "), std::string::npos);
  EXPECT_NE(result.output.find("BLAS " + runtime_info().blas), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("LibTorch 3 intra-op"), std::string::npos) << result.output;
}
