#pragma once
// What the benchmark programs share: medians of repeated timings, timing one piece of work, and pre-decoding images
// of a dataset the way a run does (the model's sidecar preprocessing and class order), so that timings leave decoding
// out.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace quantsim::bench_support {

// The middle value (upper middle for an even count) of `v`, which must not be empty.
double median(std::vector<double> v);

// Wall seconds `work` takes.
double time_seconds(const std::function<void()>& work);

// The first `count` images of `data` (a folder quant-sim reads), preprocessed for `model`, in batches.
std::vector<at::Tensor> decode(const std::string& model, const std::string& data, int64_t count, int batch_size);

// A model with its pre-decoded images.
struct Workload {
  std::string label;
  std::string model;
  std::vector<at::Tensor> batches;
  int64_t images = 0;
};

}  // namespace quantsim::bench_support
