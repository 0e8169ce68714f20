#!/usr/bin/env bash
# Installs what quant-sim needs from Debian packages (only those missing) and builds it into build/.
# Usage: scripts/setup.sh [--no-build] [TARGET...]
#   no TARGET: everything (quant-sim, tools, tests, benchmarks), as README command 2 needs; README command 1 builds
#   only the quant-sim target. Environment: QUANTSIM_WERROR=ON makes compiler warnings errors (.ci/run sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

# libopenblas0-openmp: a tuned BLAS for LibTorch's CPU matmuls (Debian's alternatives make it libblas.so.3 as soon as it
# is installed; the OpenMP build shares LibTorch's OpenMP runtime instead of starting a second thread pool).
PACKAGES=(cmake ninja-build g++ pkg-config libtorch-dev libopencv-dev libspdlog-dev libfmt-dev libcxxopts-dev
          libgtest-dev libgmock-dev libbenchmark-dev libgemmlowp-dev nlohmann-json3-dev libssl-dev clang-format
          libopenblas0-openmp python3-torch python3-torchvision python3-matplotlib python3-pil python3-numpy
          dataset-fashion-mnist)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${1:-}" = "--no-build" ] && exit 0
# The tests are always configured (GoogleTest is installed above), so that building more targets later, as command 2
# after command 1 does, needs no reconfiguration; a QUANTSIM_WERROR left unset keeps what build/ has.
werror=()
[ -n "${QUANTSIM_WERROR:-}" ] && werror=(-DQUANTSIM_WERROR="$QUANTSIM_WERROR")
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${werror[@]}" >/dev/null
ninja -C build -j"$(nproc)" "$@"
