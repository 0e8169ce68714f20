#include "bench_support.h"

#include <algorithm>
#include <chrono>

#include "quantsim/data/batch_loader.h"
#include "quantsim/data/dataset.h"
#include "quantsim/data/model_sidecar.h"

namespace quantsim::bench_support {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double time_seconds(const std::function<void()>& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<at::Tensor> decode(const std::string& model, const std::string& data, int64_t count, int batch_size) {
  const auto sidecar = read_model_sidecar(model);
  DatasetOptions options;
  if (sidecar && !sidecar->class_order_file.empty()) {
    options.class_order_file = resolve_class_order_file(sidecar->class_order_file, {data});
  }
  const Dataset dataset = load_dataset(data, options);
  BatchLoader loader(select_images(dataset.images, count, false, 0), resolve_preprocess(sidecar, {}),
                     {batch_size, 2, 2, false, "decode"});
  std::vector<at::Tensor> batches;
  while (auto batch = loader.next()) batches.push_back(batch->images);
  return batches;
}

}  // namespace quantsim::bench_support
