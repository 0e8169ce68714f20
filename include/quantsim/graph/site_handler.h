#pragma once
// What the `quantsim::site` op does when an instrumented model runs.
//
// PreparedModel inserts `quantsim::site(x, code)` calls into the model graph, one after every activation site
// tensor (see activation_site.h). The op forwards to the handler installed for the whole process: the collect pass
// installs an observer, the use/no passes a fake-quantizer. Without a handler the op returns its input unchanged,
// so an instrumented model computes exactly what the frozen model does.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace quantsim {

class SiteHandler {
 public:
  virtual ~SiteHandler() = default;

  // The site's tensor as the network computed it (for an unsigned site: the ReLU's output). The return value replaces
  // it for every later use. `site_id` is Site::id.
  virtual at::Tensor on_site(int64_t site_id, const at::Tensor& x) = 0;

  // Unsigned sites only: the tensor entering the ReLU-like op, called just before that op runs and so before
  // on_site(site_id, ...) of the same site. Observation only: the network continues with `x` unchanged. Do not keep a
  // reference to `x` past the call (later in-place ops may change it); copy what you need.
  virtual void on_pre_activation(int64_t site_id, const at::Tensor& x) {
    (void)site_id;
    (void)x;
  }
};

// Installs `handler` for the whole process while in scope and restores the previous one afterwards.
// Not for concurrent runs of different passes: there is one handler per process.
class ScopedSiteHandler {
 public:
  explicit ScopedSiteHandler(SiteHandler& handler);
  ~ScopedSiteHandler();
  ScopedSiteHandler(const ScopedSiteHandler&) = delete;
  ScopedSiteHandler& operator=(const ScopedSiteHandler&) = delete;

 private:
  SiteHandler* previous_;
};

// How the integer argument of `quantsim::site(Tensor x, int code) -> Tensor` encodes the call:
// code = 2 * site_id + role, role 0 = the site value (on_site), role 1 = a pre-activation observation.
enum class SiteRole : int64_t { kValue = 0, kPreActivation = 1 };
constexpr int64_t encode_site_call(int64_t site_id, SiteRole role) { return 2 * site_id + static_cast<int64_t>(role); }

// The qualified name of the registered op, for graph building and for tests.
extern const char* const kSiteOpName;  // "quantsim::site"

}  // namespace quantsim
