#pragma once
// Where the graph tests find models: the real ones in ../shared/data, and torchvision fixtures made by
// make_fixtures.py (cached in the build directory).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "quantsim/graph/activation_site.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/graph/site_handler.h"

namespace quantsim::graph_test {

// <data>/models/<name>.pt, or "" when absent (QUANTSIM_DATA overrides the configured data directory).
std::string real_model_path(const std::string& name);

// <build>/graph_fixtures/<name>.pt, generating all fixtures on first use; "" when no Python with torch+torchvision.
std::string fixture_path(const std::string& name);

// The site with this name, or nullptr.
const Site* find_site(const PreparedModel& model, const std::string& name);

// Records every site call (and returns the tensor unchanged): order, role, and the tensor's minimum.
class RecordingHandler : public SiteHandler {
 public:
  struct Call {
    int64_t site_id;
    bool pre_activation;
    double min;
  };
  std::vector<Call> calls;
  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override;
  void on_pre_activation(int64_t site_id, const at::Tensor& x) override;
};

// The site with this name; throws std::out_of_range (a test failure) when there is none.
const Site& site_named(const PreparedModel& model, const std::string& name);

// A fixed pseudo-random NCHW batch.
at::Tensor test_input(int64_t batch, int64_t channels, int64_t height, int64_t width, double scale = 1.0);

}  // namespace quantsim::graph_test

#define QUANTSIM_REQUIRE_PATH(var, expr, what) \
  const std::string var = (expr);              \
  if (var.empty()) GTEST_SKIP() << what << " not available; skipping"
