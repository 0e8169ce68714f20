#pragma once
// Fixtures of test_archs: the torchvision classifiers of archs.txt exported by make_arch_fixtures.py (random weights,
// 10 classes) into <build>/arch_fixtures/, an image folder of 2 images there, and a reader for the .npy logits that
// `quant-sim --save-logits` writes.
#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

namespace quantsim::testing {

struct ArchSpec {
  std::string name;       // torchvision.models name, also the fixture's file stem
  int size = 0;           // input size: --resize size --crop size
  bool folds_bn = false;  // has a conv -> BatchNorm pair that preparation folds into the conv
};

// The lines of tests/archs/archs.txt, in order.
const std::vector<ArchSpec>& arch_specs();

// <build>/arch_fixtures, made (once per build directory) by running make_arch_fixtures.py, which serializes its
// callers with an flock and returns at once when the fixtures are current. Every test process calls it once; the
// CTest fixture archs_fixtures has already made them under ctest. Returns the folder, or sets `unavailable` to the
// reason the fixtures cannot exist here (no /usr/bin/python3 or no torchvision): the tests skip with it. A failing
// export is a test failure (ADD_FAILURE with the script's output), not a skip.
std::string arch_fixture_dir(std::string* unavailable);

// The model file and image folder inside the fixture folder.
std::string arch_model(const std::string& dir, const std::string& arch);
std::string arch_images(const std::string& dir);

// Logits saved by --save-logits (a 2-D float32 .npy, read by fuzz::read_logits) as a CPU tensor [N, classes];
// throws std::runtime_error for anything else.
at::Tensor read_npy_float32(const std::string& path);

// max |a - b| / max |b| (0 when both are all zero): how far `a` is from the reference `b`, relative to its scale.
double relative_max_error(const at::Tensor& a, const at::Tensor& b);

}  // namespace quantsim::testing
