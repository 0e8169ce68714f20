#!/usr/bin/env bash
# Run HERE (the Debian build machine), not on the GPU machine. Fills a git-ignored folder (default gpu_kit/) with
# everything the GPU machine lacks to build and test quant-sim (it has nvcc, CMake, ninja and python3 with a CUDA
# PyTorch, but no apt, no network and none of our C++ dev packages):
#   include/   header-only cxxopts, nlohmann-json, spdlog and fmt (used header-only: see CMakeLists.txt,
#              QUANTSIM_DEPS_DIR), OpenSSL's headers (libcrypto's EVP, src/core/sha256.cpp)
#   lib/       Debian's libcrypto.so.3 (OpenSSL 3.0 ABI, needs only glibc >= 2.34); linked by full path with the
#              kit's lib/ in the build RPATH, so the build never depends on what the GPU machine has installed
#   googletest/ GoogleTest + GoogleMock sources, built from source there
#   data/      a small fixed selection of the real models and images (../shared/data does not travel):
#              the three models with their sidecars, the first 50 cifar10/test images of each class, the first 100
#              imagenet/val1300 images (sorted by class folder, then file) and the class-order files
#   MANIFEST.txt what came from where (Debian package versions)
# Google Benchmark is not needed: bench/*.cpp are plain programs. OpenCV is not carried: the GPU build uses
# QUANTSIM_WITH_OPENCV=OFF and reads images from a preprocessed cache made there.
# Prints the folder's size and fails when it exceeds the budget (the working tree that travels is capped at 64 MiB,
# the repository itself included).
#
#   scripts/gpu/prepare.sh [--out DIR] [--data DIR | --no-data] [--budget-mib N]
# (--no-data: the dependencies alone, for scripts/gpu/rehearse_deps_build.sh where no shared data is)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=gpu_kit
data="${QUANTSIM_DATA:-../shared/data}"
budget_mib=48
with_data=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --budget-mib) budget_mib="$2"; shift 2 ;;
    --no-data) with_data=no; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "prepare: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
fail() { echo "prepare: $*" >&2; exit 1; }

need_path() { [ -e "$1" ] || fail "$1 is missing here (install $2: apt-get install $2)"; }
need_path /usr/include/cxxopts.hpp libcxxopts-dev
need_path /usr/include/nlohmann/json.hpp nlohmann-json3-dev
need_path /usr/include/spdlog/spdlog.h libspdlog-dev
need_path /usr/include/fmt/format-inl.h libfmt-dev
need_path /usr/include/openssl/evp.h libssl-dev
need_path /usr/include/x86_64-linux-gnu/openssl/configuration.h libssl-dev
need_path /usr/lib/x86_64-linux-gnu/libcrypto.so.3 libssl3
need_path /usr/src/googletest/CMakeLists.txt googletest
[ "$with_data" = no ] || [ -d "$data/models" ] ||
  fail "data folder '$data' has no models/ (give --data DIR or set QUANTSIM_DATA)"

# Debian's spdlog is built against an external fmt (its tweakme.h defines SPDLOG_FMT_EXTERNAL and it ships no bundled
# fmt); CMakeLists.txt relies on that when it makes spdlog header-only.
grep -q '^#define SPDLOG_FMT_EXTERNAL' /usr/include/spdlog/tweakme.h ||
  fail "/usr/include/spdlog/tweakme.h does not define SPDLOG_FMT_EXTERNAL: not Debian's spdlog;" \
    "update cmake/QuantsimDepsDir.cmake"

rm -rf "$out"
mkdir -p "$out/include/openssl" "$out/lib" "$out/data"
cp -a /usr/include/spdlog /usr/include/fmt /usr/include/nlohmann /usr/include/cxxopts.hpp "$out/include/"
cp -a /usr/include/openssl/. "$out/include/openssl/"
# Debian keeps the two architecture-specific OpenSSL headers in the multiarch folder.
cp -p /usr/include/x86_64-linux-gnu/openssl/configuration.h /usr/include/x86_64-linux-gnu/openssl/opensslconf.h \
  "$out/include/openssl/"
cp -p /usr/lib/x86_64-linux-gnu/libcrypto.so.3 "$out/lib/"
# GoogleTest and GoogleMock, without their own tests, docs and samples.
mkdir -p "$out/googletest"
cp -p /usr/src/googletest/CMakeLists.txt "$out/googletest/"
for part in googletest googlemock; do
  mkdir -p "$out/googletest/$part"
  cp -a /usr/src/googletest/$part/CMakeLists.txt /usr/src/googletest/$part/cmake /usr/src/googletest/$part/include \
    /usr/src/googletest/$part/src "$out/googletest/$part/"
done

# Data: fixed selections (sorted names), so that every run carries the same files.
if [ "$with_data" = yes ]; then
  cp -a "$data/models" "$out/data/"
  mkdir -p "$out/data/cifar10" "$out/data/imagenet"
  cp "$data/cifar10/classes.txt" "$out/data/cifar10/"
  for class_dir in "$data"/cifar10/test/*/; do
    class=$(basename "$class_dir")
    mkdir -p "$out/data/cifar10/test/$class"
    find "$class_dir" -maxdepth 1 -type f | LC_ALL=C sort | awk 'NR <= 50' |
      xargs -r cp -t "$out/data/cifar10/test/$class/"
  done
  cp "$data/imagenet/synsets.txt" "$data/imagenet/synset_words.txt" "$out/data/imagenet/"
  (cd "$data/imagenet" && find val1300 -type f | LC_ALL=C sort | awk 'NR <= 100') | while read -r file; do
    mkdir -p "$out/data/imagenet/$(dirname "$file")"
    cp "$data/imagenet/$file" "$out/data/imagenet/$file"
  done
fi
chmod -R u+w "$out"

{
  echo "quant-sim GPU kit, made by scripts/gpu/prepare.sh on $(date -u +%Y-%m-%dT%H:%MZ) from:"
  dpkg-query -W -f '  ${Package} ${Version}\n' libcxxopts-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libssl-dev \
    libssl3 googletest 2>/dev/null || echo "  (dpkg-query unavailable)"
  if [ "$with_data" = yes ]; then
    echo "data: $(cd "$data" && pwd): models/ (all), cifar10/test (50 per class), imagenet/val1300 (first 100)"
  else
    echo "data: none (--no-data)"
  fi
  echo "images: $(find "$out/data" -name '*.jpg' -o -name '*.JPEG' | wc -l)"
} >"$out/MANIFEST.txt"

bytes=$(du -sb "$out" | cut -f1)
repo_bytes=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
echo "prepare: $out is $(mib "$bytes") MiB ($(find "$out" -type f | wc -l) files; budget $budget_mib MiB);" \
  "with the repository's tracked files ($(mib "$repo_bytes") MiB) $(mib $((bytes + repo_bytes))) MiB of the 64 MiB" \
  "that travel"
if [ "$bytes" -gt $((budget_mib * 1048576)) ]; then
  fail "$out is over its budget of $budget_mib MiB: carry fewer images or models"
fi
