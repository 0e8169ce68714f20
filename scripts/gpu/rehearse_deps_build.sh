#!/usr/bin/env bash
# CI rehearsal of the GPU machine's build (README, section "GPU machine"), on this machine: fills the dependency folder
# with scripts/gpu/prepare.sh, configures a second build directory with QUANTSIM_DEPS_DIR and QUANTSIM_WITH_OPENCV=OFF
# against Debian's LibTorch (CUDA arch 90 where nvcc is, as there), builds what scripts/gpu/check.sh builds and proves
# that no system header of a carried dependency was read: /usr/include is always on the compiler's search path, so
# it reads the compiler's own dependency records (`ninja -t deps`: every header each object read) and fails on any
# path under /usr/include/{spdlog,fmt,cxxopts.hpp,nlohmann,gtest,gmock,openssl,opencv4} (and the multiarch openssl
# folder). It also checks that each carried dependency WAS read from the folder (else the check proves nothing), that
# quant-sim loads the folder's libcrypto, and runs the fake-quant tests once.
#
#   scripts/gpu/rehearse_deps_build.sh [BUILD_DIR]      (default build-deps)
# The folder is gpu_kit/, the one that travels (prepare.sh keeps the files' times, so a rerun rebuilds nothing).
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS
build="${1:-build-deps}"
kit=gpu_kit
fail() { echo "rehearse: FAILED: $*" >&2; exit 1; }

data_args=()
data="${QUANTSIM_DATA:-../shared/data}"
if [ ! -d "$data/models" ]; then
  echo "rehearse: $data not found: the folder is made without its data (the build does not need it)"
  data_args=(--no-data)
fi
bash scripts/gpu/prepare.sh --out "$kit" "${data_args[@]}"

cuda_args=()
if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then cuda_args=(-DCMAKE_CUDA_ARCHITECTURES=90); fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
mkdir -p "$build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQUANTSIM_DEPS_DIR="$kit" -DQUANTSIM_WITH_OPENCV=OFF \
  -DQUANTSIM_WERROR="${QUANTSIM_WERROR:-ON}" "${cuda_args[@]}" "${launcher[@]}" >"$build/configure.log" 2>&1 ||
  { tail -n 30 "$build/configure.log"; fail "configure (log: $build/configure.log)"; }

# What scripts/gpu/check.sh builds there.
targets=(quant-sim test_quant)
if ninja -C "$build" -t targets all | grep -q '^tests/test_cuda_kernels:'; then
  targets+=(test_cuda_kernels bench_fake_quant_cuda)
fi
build_start=$SECONDS
ninja -C "$build" -j"$(nproc)" "${targets[@]}"
echo "rehearse: built ${targets[*]} in $((SECONDS - build_start)) s"

# Every header each object read, from the compiler's dependency records.
ninja -C "$build" -t deps >"$build/deps.txt"
objects=$(grep -c '^[^ ].*: #deps' "$build/deps.txt" || true)
[ "$objects" -gt 0 ] || fail "ninja -t deps lists no object: nothing to check"
system_dirs='spdlog/|fmt/|cxxopts\.hpp|nlohmann/|gtest/|gmock/|openssl/|opencv4/|x86_64-linux-gnu/openssl/'
forbidden="^\s*/usr/include/($system_dirs)"
if grep -Eq "$forbidden" "$build/deps.txt"; then
  grep -E "$forbidden" "$build/deps.txt" | sort | uniq -c | sort -rn | head -n 20 >&2
  fail "system headers of carried dependencies were read (above; full list: $build/deps.txt)"
fi
# ninja records headers inside the source tree relative to the build directory, others absolute: match the end.
kit_abs=$(cd "$kit" && pwd)
kit_name=$(basename "$kit_abs")
for header in include/spdlog/ include/fmt/ include/cxxopts.hpp include/nlohmann/ include/openssl/ \
  googletest/googletest/include/gtest/; do
  count=$(grep -Ec "^\s*(\S*/)?$kit_name/$header" "$build/deps.txt" || true)
  [ "$count" -gt 0 ] || fail "no object read $kit/$header: the check above would prove nothing"
  printf 'rehearse: %-40s read %5d times from the folder\n' "$header" "$count"
done
echo "rehearse: header check passed: $objects objects read no header under" \
  "/usr/include/{spdlog,fmt,cxxopts.hpp,nlohmann,gtest,gmock,openssl,opencv4} (nor x86_64-linux-gnu/openssl)"

crypto=$(ldd "$build/quant-sim" | awk '$1 == "libcrypto.so.3" { print $3 }')
[ "$crypto" = "$kit_abs/lib/libcrypto.so.3" ] || fail "quant-sim loads libcrypto from '$crypto', not from $kit/lib"
echo "rehearse: quant-sim loads $crypto; $("$build/quant-sim" --version | head -n 1)"
"$build/tests/test_quant" --gtest_filter='FakeQuant*' --gtest_brief=1 | tail -n 1
echo "rehearse: passed in $((SECONDS - started)) s"
