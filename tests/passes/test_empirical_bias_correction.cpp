// --bias-correction empirical (docs/QUANTIZATION.md, section 14.2): after the correction each layer's per-channel mean
// output on the calibration images matches the FP32 model's, in both site modes, with activations quantized.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "quantsim/app/cli.h"
#include "quantsim/app/run_inputs.h"
#include "quantsim/app/run_options.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/passes/activation_quantizer.h"
#include "quantsim/passes/empirical_bias_correction.h"
#include "quantsim/quant/weight_quantization.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

class EmpiricalBiasCorrection : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir("bias_correction");
    save_small_cnn(dir_ + "/cnn.pt", 4, 3);  // conv 3->8 (3x3, pad 1) -> relu -> conv 8->4 (3x3) -> pool -> mean
    make_image_folder(dir_ + "/calib", {"a", "b", "c", "d"}, 4);
    make_image_folder(dir_ + "/data", {"a", "b", "c", "d"}, 1, 9);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Config config() const {
    // 3-bit weights everywhere (first and last layers too) and 4-bit activations: large mean shifts to remove.
    return parse_command_line({"--model",
                               dir_ + "/cnn.pt",
                               "--data",
                               dir_ + "/data",
                               "--calib-data",
                               dir_ + "/calib",
                               "--resize",
                               "0",
                               "--crop",
                               "0",
                               "--no-progress",
                               "-qw",
                               "int3",
                               "--qtype",
                               "int4",
                               "--first-last-bits",
                               "3",
                               "--act-sites",
                               GetParam(),
                               "--bias-correction",
                               "empirical",
                               "--bias-correction-samples",
                               "16"})
        .config;
  }

  std::string dir_;
};

// Per layer, the per-channel mean of the full output W x + b.
std::vector<at::Tensor> output_means(const PreparedModel& model, SiteHandler* handler,
                                     const std::vector<at::Tensor>& images) {
  std::vector<at::Tensor> means = layer_output_means(model, handler, images, {0, 1});
  for (const Layer& layer : model.layers()) {
    means[layer.index] = means[layer.index] + layer.bias.to(at::kDouble);
  }
  return means;
}

TEST_P(EmpiricalBiasCorrection, RemovesEachChannelsMeanOutputError) {
  const Config c = config();
  const ModelFile file = resolve_model_file(c);
  PreparedModel model = PreparedModel::load(file.path, prepare_options(c));
  const PreparedModel reference = PreparedModel::load(file.path, prepare_options(c));
  for (const Layer& layer : model.layers()) {
    model.set_layer_weight(layer.index, quantize_layer_weight(layer, weight_quant_options(c)).weight);
  }
  ActivationQuantizer quantizer(model.sites(), activation_quant_options(c), nullptr);
  const ImageSet calibration = calibration_images(c, file, c.bias_correction_samples, "--bias-correction-samples");
  ASSERT_EQ(calibration.images.size(), 16u);
  // The same batch the pass reads (16 images: one batch), so that dynamic activation ranges are the same.
  std::vector<at::Tensor> images;
  const auto loader = read_batches(calibration, {32, 1, 2, false, "test"});
  while (auto batch = loader->next()) images.push_back(batch->images);

  const std::vector<at::Tensor> want = output_means(reference, nullptr, images);
  const std::vector<at::Tensor> before = output_means(model, &quantizer, images);
  const EmpiricalBiasCorrectionSummary summary = correct_biases_empirically(model, quantizer, reference, calibration,
                                                                            {1, false, 0.0});
  EXPECT_EQ(summary.corrected_layers, 2);
  EXPECT_EQ(summary.images, 16);
  EXPECT_GT(summary.mean_relative_shift, 0.0);
  const std::vector<at::Tensor> after = output_means(model, &quantizer, images);
  for (size_t i = 0; i < 2; ++i) {
    const double error_before = (before[i] - want[i]).abs().max().item<double>();
    const double error_after = (after[i] - want[i]).abs().max().item<double>();
    EXPECT_GT(error_before, 1e-3) << "layer " << i << ": 3-bit weights should shift the mean";
    EXPECT_LT(error_after, 1e-3 * error_before) << "layer " << i;
  }
  // The reference kept its biases; the model's changed.
  EXPECT_FALSE(at::equal(model.layers()[1].bias, reference.layers()[1].bias));
}

INSTANTIATE_TEST_SUITE_P(SiteModes, EmpiricalBiasCorrection, ::testing::Values("outputs", "inputs"));

}  // namespace
