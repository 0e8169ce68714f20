#include "quantsim/passes/site_value_recorder.h"

#include <stdexcept>
#include <string>
#include <utility>

namespace quantsim {

SiteValueRecorder::SiteValueRecorder(size_t site_count) : values_(site_count) {}

at::Tensor SiteValueRecorder::on_site(int64_t site_id, const at::Tensor& x) {
  // A copy: the network may go on to reuse x's storage.
  values_.at(static_cast<size_t>(site_id)) = x.clone();
  return x;
}

at::Tensor SiteValueRecorder::take(int64_t site_id) {
  at::Tensor value = std::exchange(values_.at(static_cast<size_t>(site_id)), at::Tensor());
  if (!value.defined()) {
    throw std::logic_error("SiteValueRecorder: site " + std::to_string(site_id) + " was not reached");
  }
  return value;
}

void SiteValueRecorder::clear() {
  for (at::Tensor& value : values_) value = at::Tensor();
}

}  // namespace quantsim
