#pragma once
// A site handler that keeps a copy of every site's value during one forward pass and changes nothing: the FP32
// reference that --layer-report compares the quantized network's sites with.
#include <cstdint>
#include <vector>

#include "quantsim/graph/site_handler.h"

namespace quantsim {

class SiteValueRecorder : public SiteHandler {
 public:
  explicit SiteValueRecorder(size_t site_count);

  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override;

  // The value site `site_id` had in the last forward pass, handed over: the recorder forgets it, so that memory is
  // freed as the caller goes. std::logic_error when that pass did not reach the site.
  at::Tensor take(int64_t site_id);
  // Forgets every value not taken.
  void clear();

 private:
  std::vector<at::Tensor> values_;
};

}  // namespace quantsim
