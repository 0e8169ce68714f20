// Capturing what layers read (layer_input_capture.h): the rows are the layer inputs the network really computes,
// the sampled patches do not depend on how images are batched, and the current weights are used.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <filesystem>

#include "quantsim/graph/prepared_model.h"
#include "quantsim/passes/layer_input_capture.h"
#include "quantsim/quant/layer_samples.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

class LayerInputCapture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir("layer_input_capture");
    save_small_cnn(dir_ + "/cnn.pt", 4);  // conv 3->8 (3x3, pad 1) -> relu -> conv 8->4 (3x3) -> pool -> mean
    at::manual_seed(3);
    images_ = at::rand({3, 3, 10, 10});
  }
  void TearDown() override { fs::remove_all(dir_); }

  PreparedModel model() const { return PreparedModel::load(dir_ + "/cnn.pt", {ActSites::kInputs}); }

  // The images split into batches of the given sizes, numbered in order.
  CalibrationBatches batches(const std::vector<int64_t>& sizes) const {
    CalibrationBatches b;
    int64_t next = 0;
    for (int64_t size : sizes) {
      b.images.push_back(images_.narrow(0, next, size));
      std::vector<int64_t> indices;
      for (int64_t i = 0; i < size; ++i) indices.push_back(next + i);
      b.image_indices.push_back(indices);
      next += size;
    }
    return b;
  }

  // What the second conv reads: relu(conv1(images)) with the given first-layer weight.
  at::Tensor second_layer_input(const PreparedModel& m, const at::Tensor& first_weight) const {
    const Layer& first = m.layers()[0];
    return at::relu(at::conv2d(images_, first_weight, first.bias, first.stride, first.padding, first.dilation));
  }

  std::string dir_;
  at::Tensor images_;
};

at::Tensor all_rows(const Layer& layer, const at::Tensor& input) {
  return layer_input_rows(layer, input, at::arange(input.size(0) * rows_per_image(layer, input.sizes()), at::kLong));
}

TEST_F(LayerInputCapture, RowsAreTheLayerInputsTheNetworkComputes) {
  const PreparedModel m = model();
  ASSERT_EQ(m.layers().size(), 2u);
  const std::vector<at::Tensor> rows = capture_layer_inputs(m, {0, 1}, batches({2, 1}), {1.0, 0});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(at::equal(rows[0], all_rows(m.layers()[0], images_)));
  const at::Tensor expected = all_rows(m.layers()[1], second_layer_input(m, m.layers()[0].original_weight));
  ASSERT_EQ(rows[1].sizes(), expected.sizes());
  EXPECT_TRUE(at::allclose(rows[1], expected, 1e-5, 1e-6));
}

TEST_F(LayerInputCapture, SampledRowsDoNotDependOnBatching) {
  const PreparedModel m = model();
  const RowSampling sampling{0.3, 11};
  const std::vector<at::Tensor> one_batch = capture_layer_inputs(m, {0, 1}, batches({3}), sampling);
  const std::vector<at::Tensor> three_batches = capture_layer_inputs(m, {0, 1}, batches({1, 1, 1}), sampling);
  EXPECT_TRUE(at::equal(one_batch[0], three_batches[0]));  // the images themselves: bit for bit
  ASSERT_EQ(one_batch[1].sizes(), three_batches[1].sizes());
  EXPECT_TRUE(at::allclose(one_batch[1], three_batches[1], 1e-5, 1e-6));  // conv kernels may vary with batch size
  int64_t expected_rows = 0;
  const int64_t per_image = rows_per_image(m.layers()[1], {1, 8, 10, 10});
  for (int64_t image = 0; image < 3; ++image) {
    expected_rows += static_cast<int64_t>(sampled_image_rows(per_image, 0.3, 11, 1, image).size());
  }
  EXPECT_EQ(one_batch[1].size(1), expected_rows);
  EXPECT_LT(expected_rows, 3 * per_image);
}

TEST_F(LayerInputCapture, UsesTheWeightsTheModelHoldsNow) {
  PreparedModel m = model();
  const at::Tensor halved = m.layers()[0].original_weight * 0.5;
  m.set_layer_weight(0, halved);
  const at::Tensor rows = capture_layer_inputs(m, {1}, batches({3}), {1.0, 0}).front();
  EXPECT_TRUE(at::allclose(rows, all_rows(m.layers()[1], second_layer_input(m, halved)), 1e-5, 1e-6));
}

TEST_F(LayerInputCapture, InputShapesOfEveryLayer) {
  const PreparedModel m = model();
  const auto shapes = layer_input_shapes(m, images_.narrow(0, 0, 1));
  EXPECT_EQ(shapes, (std::vector<std::vector<int64_t>>{{1, 3, 10, 10}, {1, 8, 10, 10}}));
}

TEST_F(LayerInputCapture, NeedsDeployModeSites) {
  const PreparedModel paper = PreparedModel::load(dir_ + "/cnn.pt", {ActSites::kOutputs});
  EXPECT_THROW(capture_layer_inputs(paper, {0}, batches({3}), {1.0, 0}), std::logic_error);
}

}  // namespace
