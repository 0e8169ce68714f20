#pragma once
// What the host side of a run computes with: the BLAS library that libblas.so.3 resolved to in this process (Debian's
// LibTorch calls it for every CPU matmul, and the reference BLAS is several times slower than a tuned one) and the
// thread counts in use. Printed by `quant-sim --version`, in short in the run header and by the benchmarks, so that
// timings can be compared knowing what produced them.
#include <string>

namespace quantsim {

struct RuntimeInfo {
  std::string blas;          // e.g. "OpenBLAS 0.3.21 (USE_OPENMP, Cooperlake)", "reference BLAS", "none loaded"
  std::string blas_path;     // the loaded library's real path; empty when none is loaded
  int blas_threads = 0;      // 0 when the library does not say
  int intra_op_threads = 0;  // LibTorch's (OpenMP) threads of one op
  int inter_op_threads = 0;  // LibTorch's pool for independent ops
};

RuntimeInfo runtime_info();

// One line, e.g. "BLAS OpenBLAS 0.3.21 (USE_OPENMP, Cooperlake) at /usr/lib/.../libblas.so.3, 2 BLAS threads;
// LibTorch 2 intra-op / 2 inter-op threads".
std::string describe(const RuntimeInfo& info);

// The run header's short form, e.g. "BLAS OpenBLAS 0.3.21, 1 LibTorch thread".
std::string describe_briefly(const RuntimeInfo& info);

}  // namespace quantsim
