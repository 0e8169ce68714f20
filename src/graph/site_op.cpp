// The `quantsim::site` op and the process-wide handler behind it (site_handler.h).
#include <torch/library.h>

#include <atomic>
#include <utility>

#include "quantsim/graph/site_handler.h"
#include "site_op.h"

namespace quantsim {
namespace {

std::atomic<SiteHandler*> g_handler{nullptr};
thread_local std::exception_ptr t_handler_error;

at::Tensor call_handler(SiteHandler& handler, const at::Tensor& x, int64_t code) {
  const int64_t site_id = code / 2;
  if (code % 2 == static_cast<int64_t>(SiteRole::kPreActivation)) {
    handler.on_pre_activation(site_id, x);
    return x;
  }
  return handler.on_site(site_id, x);
}

at::Tensor site_kernel(const at::Tensor& x, int64_t code) {
  SiteHandler* handler = g_handler.load(std::memory_order_acquire);
  if (handler == nullptr) return x;
  try {
    return call_handler(*handler, x, code);
  } catch (...) {
    t_handler_error = std::current_exception();
    throw;
  }
}

}  // namespace

namespace graph {
std::exception_ptr take_site_handler_error() { return std::exchange(t_handler_error, nullptr); }
}  // namespace graph

const char* const kSiteOpName = "quantsim::site";

ScopedSiteHandler::ScopedSiteHandler(SiteHandler& handler)
    : previous_(g_handler.exchange(&handler, std::memory_order_acq_rel)) {}

ScopedSiteHandler::~ScopedSiteHandler() { g_handler.store(previous_, std::memory_order_release); }

}  // namespace quantsim

// CONSERVATIVE alias analysis marks the op as having side effects and possibly aliasing its input: dead-code
// elimination keeps it even when its result is unused, no pass moves it, and returning `x` itself is legal.
// A catch-all kernel serves every device (the handler decides what runs where).
TORCH_LIBRARY_FRAGMENT(quantsim, m) {
  m.def(torch::schema("quantsim::site(Tensor x, int code) -> Tensor", c10::AliasAnalysisKind::CONSERVATIVE),
        &quantsim::site_kernel);
}
