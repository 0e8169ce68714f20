// check_logits_shape and site_allows_per_channel: the run-time halves of the shape rules of
// docs/QUANTIZATION.md, section 4.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "graph_test_support.h"
#include "quantsim/core/errors.h"
#include "quantsim/graph/prepared_model.h"

namespace quantsim {
namespace {

TEST(LogitsShape, AcceptsBatchByClasses) {
  EXPECT_NO_THROW(check_logits_shape(at::zeros({4, 1000}), 4, 1000));
  EXPECT_NO_THROW(check_logits_shape(at::zeros({4, 10}), 4, 0));  // class count not known
}

TEST(LogitsShape, RefusesSpatialOutputWithItsShape) {
  try {
    check_logits_shape(at::zeros({4, 1000, 1, 1}), 4, 1000);
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "model output has shape [4, 1000, 1, 1]; expected [N, classes] = [4, 1000]");
  }
}

TEST(LogitsShape, RefusesWrongBatchOrClassCount) {
  EXPECT_THROW(check_logits_shape(at::zeros({3, 1000}), 4, 1000), UserError);
  EXPECT_THROW(check_logits_shape(at::zeros({4, 10}), 4, 1000), UserError);
}

TEST(LogitsShape, FixtureWithFeatureMapOutputIsRefused) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("spatial_output"), "torchvision fixtures");
  PreparedModel model = PreparedModel::load(path);
  const at::Tensor output = model.forward(graph_test::test_input(2, 3, 8, 8));
  EXPECT_THROW(check_logits_shape(output, 2, 0), UserError);
}

TEST(PerChannel, NeedsSpatialSizeAboveOneAndNoPool) {
  Site conv;
  Site pool;
  pool.kind = SiteKind::kPoolOutput;
  pool.per_channel_allowed = false;
  EXPECT_TRUE(site_allows_per_channel(conv, at::zeros({2, 8, 4, 4})));
  EXPECT_TRUE(site_allows_per_channel(conv, at::zeros({2, 8, 1, 2})));
  EXPECT_FALSE(site_allows_per_channel(conv, at::zeros({2, 8, 1, 1})));
  EXPECT_FALSE(site_allows_per_channel(conv, at::zeros({2, 8})));
  EXPECT_FALSE(site_allows_per_channel(pool, at::zeros({2, 8, 4, 4})));
}

}  // namespace
}  // namespace quantsim
