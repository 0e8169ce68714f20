// --export: the saved TorchScript computes the in-process quantized forward bit for bit (reloaded in process and run
// by the quant-sim binary), the weights file unpacks to the grid and folded weights, and the refusals.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/script.h>

#include <filesystem>
#include <memory>
#include <sstream>

#include "quantsim/app/config.h"
#include "quantsim/app/run_options.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/sha256.h"
#include "quantsim/data/model_sidecar.h"
#include "quantsim/export/model_export.h"
#include "quantsim/export/quantized_weights_file.h"
#include "quantsim/passes/activation_quantizer.h"
#include "quantsim/passes/statistics_collector.h"
#include "quantsim/quant/quant_options.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;

namespace quantsim {
namespace {

const std::string kDefaultModel = std::string(QUANTSIM_SOURCE_DIR) + "/data/default/fashion_resnet.pt";

// The quantized pipeline of a -sm use run, built in process: statistics collected on a calibration batch, weights
// quantized, a static-range ActivationQuantizer.
struct QuantizedRun {
  explicit QuantizedRun(const Config& run_config)
      : config(run_config), model(PreparedModel::load(kDefaultModel, {run_config.act_sites})) {
    const at::Tensor calibration = at::randn({8, 3, 28, 28}, at::TensorOptions().dtype(at::kFloat));
    StatisticsCollector collector(model.sites());
    {
      ScopedSiteHandler scope(collector);
      model.forward(calibration);
      collector.start_second_pass();
      model.forward(calibration);
    }
    statistics.sites = collector.finish();
    for (const Layer& layer : model.layers()) {
      weights.push_back(quantize_layer_weight(layer, weight_quant_options(config)));
      model.set_layer_weight(layer.index, weights.back().weight);
    }
    quantizer = std::make_unique<ActivationQuantizer>(model.sites(), activation_quant_options(config), &statistics);
  }

  at::Tensor forward(const at::Tensor& x) {
    ScopedSiteHandler scope(*quantizer);
    return model.forward(x);
  }

  std::vector<LayerSize> export_to(const std::string& path, const at::Tensor& probe) {
    const ModelFile source{kDefaultModel, "fashion_resnet", sha256_file(kDefaultModel),
                           read_model_sidecar(kDefaultModel)};
    const ExportInputs inputs{source, model,           *quantizer, weights, weight_quant_options(config).corrections,
                              probe,  {{"test", true}}};
    return export_quantized_model(path, inputs);
  }

  Config config;
  PreparedModel model;
  Statistics statistics;
  std::vector<QuantizedWeight> weights;
  std::unique_ptr<ActivationQuantizer> quantizer;
};

Config w4a4_paper_config() {  // -sm use --qtype int4 -qw int4 -pcq_w -pcq_a -c laplace -baa -baw -bcw
  Config c;
  c.stats_mode = StatsMode::kUse;
  c.act_bits = 4;
  c.weight_bits = 4;
  c.per_channel_weights = true;
  c.per_channel_activations = true;
  c.clipping.kind = Clipping::Kind::kLaplace;
  c.bit_alloc_activations = true;
  c.bit_alloc_weights = true;
  c.bias_correct_weights = true;
  return c;
}

Config w3a4_deploy_config() {  // per tensor, both corrections, deploy-mode sites, first and last layers left float
  Config c;
  c.stats_mode = StatsMode::kUse;
  c.act_bits = 4;
  c.weight_bits = 3;
  c.clipping.kind = Clipping::Kind::kGauss;
  c.variance_correct_weights = true;
  c.bias_correct_weights = true;
  c.act_sites = ActSites::kInputs;
  c.first_last_bits = 0;
  return c;
}

class ModelExport : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    at::manual_seed(3);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
  c10::InferenceMode inference_;
};

void expect_reload_reproduces(QuantizedRun& run, const std::string& path) {
  const at::Tensor batch = at::randn({6, 3, 28, 28}, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor expected = run.forward(batch);
  run.export_to(path, batch.slice(0, 0, 1));
  torch::jit::Module reloaded = torch::jit::load(path);
  reloaded.eval();
  // Several calls: the profiling executor optimizes the graph after the first ones.
  for (int call = 0; call < 4; ++call) {
    EXPECT_TRUE(at::equal(reloaded.forward({batch}).toTensor(), expected)) << "call " << call;
  }
  torch::jit::Module fp32 = torch::jit::load(kDefaultModel);
  EXPECT_FALSE(at::equal(fp32.forward({batch}).toTensor(), expected));  // the quantization really changed them
}

TEST_F(ModelExport, ReloadedModelGivesTheQuantizedLogitsBitForBit) {
  QuantizedRun run(w4a4_paper_config());
  expect_reload_reproduces(run, dir_ + "/w4a4.pt");
  const std::string graph = torch::jit::load(dir_ + "/w4a4.pt").get_method("forward").graph()->toString();
  EXPECT_NE(graph.find("quantsim::fake_quant_per_channel"), std::string::npos);
  EXPECT_NE(graph.find("quantsim::fake_quant_per_tensor"), std::string::npos);  // the pooling site
  EXPECT_EQ(graph.find("quantsim::site"), std::string::npos);
}

TEST_F(ModelExport, ReloadedDeployModeModelWithFloatEndsGivesTheSameLogits) {
  QuantizedRun run(w3a4_deploy_config());
  expect_reload_reproduces(run, dir_ + "/w3a4.pt");
}

TEST_F(ModelExport, WeightsFileUnpacksToTheGridAndFoldedWeights) {
  for (const Config& config : {w4a4_paper_config(), w3a4_deploy_config()}) {
    QuantizedRun run(config);
    run.export_to(dir_ + "/m.pt", at::randn({1, 3, 28, 28}));
    const std::vector<WeightRecord> records = read_quantized_weights(dir_ + "/m.qweights.json");
    ASSERT_EQ(records.size(), run.model.layers().size());
    int packed = 0;
    for (const Layer& layer : run.model.layers()) {
      const WeightRecord& record = records[layer.index];
      EXPECT_EQ(record.name, layer.name);
      EXPECT_EQ(record.packed.has_value(), run.weights[layer.index].bits != 0) << layer.name;
      if (record.packed) {
        ++packed;
        EXPECT_TRUE(at::equal(grid_weight(record), run.weights[layer.index].grid_weight)) << layer.name;
        EXPECT_TRUE(record.corrections.mean.has_value() || record.corrections.variance.has_value()) << layer.name;
      }
      EXPECT_TRUE(at::equal(folded_weight(record), run.model.layer_weight(layer.index))) << layer.name;
      ASSERT_EQ(record.bias.defined(), layer.bias.defined()) << layer.name;
      if (layer.bias.defined()) {
        EXPECT_TRUE(at::equal(record.bias, layer.bias)) << layer.name;
      }
    }
    EXPECT_GT(packed, 0);
  }
}

TEST_F(ModelExport, SizeReportCountsPackedBytes) {
  QuantizedRun run(w4a4_paper_config());
  const std::vector<LayerSize> sizes = run.export_to(dir_ + "/m.pt", at::randn({1, 3, 28, 28}));
  ASSERT_EQ(sizes.size(), run.model.layers().size());
  int64_t fp32 = 0, quantized = 0, codes = 0;
  for (const LayerSize& s : sizes) {
    fp32 += s.fp32_bytes;
    quantized += s.quantized_bytes();
    codes += s.code_bytes;
  }
  const std::string bin = read_file(dir_ + "/m.qweights.bin");
  EXPECT_LT(static_cast<size_t>(codes), bin.size());  // the bin also holds the biases
  EXPECT_GT(fp32, 4 * quantized);                     // 4-bit codes: well under a quarter of FP32
  const std::string table = format_size_report(sizes);
  EXPECT_NE(table.find("total"), std::string::npos);
  EXPECT_NE(table.find(sizes.front().name), std::string::npos);
}

TEST_F(ModelExport, CorruptBinFileIsRefusedNamingTheIndex) {
  QuantizedRun run(w4a4_paper_config());
  run.export_to(dir_ + "/m.pt", at::randn({1, 3, 28, 28}));
  std::string bin = read_file(dir_ + "/m.qweights.bin");
  bin[bin.size() / 2] = static_cast<char>(bin[bin.size() / 2] ^ 0x10);
  write_file_atomically(dir_ + "/m.qweights.bin", bin);
  try {
    read_quantized_weights(dir_ + "/m.qweights.json");
    FAIL() << "a corrupt bin file was read";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("SHA-256"), std::string::npos) << e.what();
  }
}

TEST_F(ModelExport, ExportOverTheSourceModelIsRefused) {
  QuantizedRun run(w4a4_paper_config());
  EXPECT_THROW(run.export_to(kDefaultModel, at::randn({1, 3, 28, 28})), UserError);
}

TEST_F(ModelExport, QuantizedWeightWithoutAGridIsAnInternalError) {
  QuantizedRun run(w4a4_paper_config());
  run.weights[1].grid = {};  // a quantizer that forgot to name its grid
  EXPECT_THROW(run.export_to(dir_ + "/m.pt", at::randn({1, 3, 28, 28})), std::runtime_error);
}

// ---- through the quant-sim binary ----

class ExportCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    data_ = dir_ + "/data";
    testing::make_image_folder(data_, {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}, 3);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string args(const std::string& model, const std::string& extra) const {
    return "--model " + model + " --data " + data_ + " --stats-dir " + dir_ + "/stats --results " + dir_ +
           "/results.jsonl -b 7 " + extra;
  }
  std::string dir_, data_;
};

TEST_F(ExportCli, ExportedModelRunsAsFp32WithTheQuantizedLogits) {
  const std::string exported = dir_ + "/out/fashion_w4a4.pt";
  ASSERT_EQ(testing::run_quant_sim(args(kDefaultModel, "-sm collect")).exit_code, 0);
  const testing::CommandResult use = testing::run_quant_sim(
      args(kDefaultModel, "-sm use --qtype int4 -qw int4 -pcq_w -pcq_a -c laplace -baa -baw -bcw --export " + exported +
                              " --save-logits " + dir_ + "/quantized.npy"));
  ASSERT_EQ(use.exit_code, 0) << use.output;
  EXPECT_NE(use.output.find("FP32 bytes"), std::string::npos) << use.output;
  EXPECT_NE(use.output.find("total"), std::string::npos) << use.output;
  for (const char* file :
       {"fashion_w4a4.pt", "fashion_w4a4.qweights.bin", "fashion_w4a4.qweights.json", "fashion_w4a4.json"}) {
    EXPECT_TRUE(fs::exists(dir_ + "/out/" + file)) << file;
  }
  const testing::CommandResult rerun =
      testing::run_quant_sim(args(exported, "--save-logits " + dir_ + "/reloaded.npy"));
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_NE(rerun.output.find("FP32: top-1"), std::string::npos) << rerun.output;
  EXPECT_EQ(read_file(dir_ + "/reloaded.npy"), read_file(dir_ + "/quantized.npy"));
}

TEST_F(ExportCli, WeightsOnlyExportWorksWithDynamicMode) {
  const std::string exported = dir_ + "/w4.pt";
  const testing::CommandResult run = testing::run_quant_sim(
      args(kDefaultModel, "-sm no -qw int4 -pcq_w --export " + exported + " --save-logits " + dir_ + "/q.npy"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ASSERT_EQ(testing::run_quant_sim(args(exported, "--save-logits " + dir_ + "/r.npy")).exit_code, 0);
  EXPECT_EQ(read_file(dir_ + "/r.npy"), read_file(dir_ + "/q.npy"));
}

TEST_F(ExportCli, RefusesDynamicRangesFp32RunsAndCollectInOneLine) {
  for (const std::string& extra :
       {std::string("-sm no --qtype int4 -qw int4"), std::string(""), std::string("-sm collect")}) {
    const testing::CommandResult r =
        testing::run_quant_sim(args(kDefaultModel, extra + " --export " + dir_ + "/never.pt"));
    EXPECT_EQ(r.exit_code, 2) << extra << ": " << r.output;
    EXPECT_NE(r.output.find("quant-sim: error: --export"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_FALSE(fs::exists(dir_ + "/never.pt"));
  }
  const testing::CommandResult dynamic =
      testing::run_quant_sim(args(kDefaultModel, "-sm no --qtype int4 --export " + dir_ + "/never.pt"));
  EXPECT_NE(dynamic.output.find("-sm use"), std::string::npos) << dynamic.output;
}

}  // namespace
}  // namespace quantsim
