// The two schedules of --weight-method gpfq (src/passes/gpfq_passes.h) on a small generated CNN: one forward of all
// calibration images that quantizes each layer at its input, and a forward per layer, give the same weights.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <filesystem>

#include "quantsim/app/cli.h"
#include "quantsim/app/run_inputs.h"
#include "quantsim/app/run_options.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/passes/gpfq_weights.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

class GpfqSchedules : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir("gpfq_schedules");
    save_small_cnn(dir_ + "/cnn.pt", 4);  // conv 3->8 (3x3, pad 1) -> relu -> conv 8->4 (3x3) -> pool -> mean
    make_image_folder(dir_ + "/data", {"a", "b", "c", "d"}, 3);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Config config(const std::string& first_last_bits) const {
    // 12 images: fewer than a capture batch, so both schedules run the convolutions on the same batch.
    return parse_command_line({"--model", dir_ + "/cnn.pt", "--data", dir_ + "/data", "--resize", "0", "--crop", "0",
                               "--no-progress", "-qw", "int3", "--first-last-bits", first_last_bits, "--weight-method",
                               "gpfq", "--gpfq-samples", "12", "--gpfq-patch-prob", "0.5"})
        .config;
  }

  // GPFQ's weights for the run `c` describes, as quant-sim computes them.
  static std::vector<QuantizedWeight> gpfq_weights(const Config& c, GpfqSchedule schedule = GpfqSchedule::kAuto) {
    const ModelFile model = resolve_model_file(c);
    return gpfq_quantized_weights(gpfq_options(c), calibration_images(c, model, c.gpfq_samples, "--gpfq-samples"),
                                  model, c10::kCPU, schedule);
  }

  std::string dir_;
};

TEST_F(GpfqSchedules, OnePassAndAPassPerLayerGiveTheSameWeights) {
  const Config c = config("3");
  const auto one_pass = gpfq_weights(c, GpfqSchedule::kOnePass);
  const auto per_layer = gpfq_weights(c, GpfqSchedule::kPassPerLayer);
  ASSERT_EQ(one_pass.size(), 2u);
  ASSERT_EQ(per_layer.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(one_pass[i].bits, 3);
    EXPECT_TRUE(at::equal(one_pass[i].weight, per_layer[i].weight)) << "layer " << i;
  }
}

TEST_F(GpfqSchedules, LayersLeftFloatKeepTheirWeights) {
  const Config c = config("f32");  // both layers of this model are first or last
  const ModelFile model = resolve_model_file(c);
  const PreparedModel prepared = PreparedModel::load(model.path);
  const auto weights = gpfq_weights(c);
  ASSERT_EQ(weights.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(weights[i].bits, 0);
    EXPECT_TRUE(at::equal(weights[i].weight, prepared.layers()[i].original_weight));
  }
}

}  // namespace
