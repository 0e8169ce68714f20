// Every torchvision classifier of archs.txt in quant-sim, with random weights (make_arch_fixtures.py, 10 classes,
// inputs of 32-75 pixels) on 2 images, in both site modes (docs/QUANTIZATION.md, section 4):
//   - FloatGraph: the prepared graph, instrumented or not, computes what the TorchScript module computes;
//   - QuantizedRuns: -sm collect, then -sm use at W8A8 (logits near FP32, --export reproducing them bit for bit,
//     --layer-report naming every site and layer, in paper mode) and at W4A4 through the CLI;
//   - Gpfq: --weight-method gpfq at 4 bits; Sweep: `quant-sim sweep` of 2 configurations on a few architectures.
// Time of `ctest -L archs -j2` (97 tests, the setup test included) on a 2-core machine shared with other builds:
// 4.5 min wall at load average 0.6-3 (6.2 min of CPU, user + sys), of which the setup test archs_fixtures (the exports,
// 1.6 GB, once per build directory) took 31 s; 7.7 min at load average 5. Most of it is vgg11_bn and alexnet.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "archs/arch_fixtures.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/graph/site_handler.h"
#include "quantsim/graph/torchscript_loading.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim::testing;
using quantsim::ActSites;
using quantsim::PreparedModel;
using quantsim::PrepareOptions;

namespace {

// Folding BatchNorm into the conv before it computes conv(x, w * s) + b' instead of (conv(x, w) - mean) * s + beta:
// the same function, re-associated, so float rounding differs. Largest max|prepared - module| / max|module| measured
// over the 19 architectures (with random BN statistics): 3.1e-6 (wide_resnet50_2), 1e-7..3e-6 for the others.
// Architectures without a conv -> BN pair are compared bit for bit, and so is every graph prepared without folding.
constexpr double kFoldTolerance = 1e-4;

// W8A8, per-channel weights, static ranges from the same 2 images, against FP32: max|q - f| / max|f| measured
// per architecture, outputs / inputs mode (and, for reference, the sites per mode and the conv/linear layers):
//   alexnet             0.0064/0.0032  sites  12/  8  layers   8
//   vgg11_bn            0.0179/0.0174  sites  17/ 11  layers  11
//   resnet18            0.0487/0.0332  sites  23/ 18  layers  21
//   resnet50            0.0351/0.0268  sites  56/ 50  layers  54
//   resnext50_32x4d     0.0267/0.0246  sites  56/ 50  layers  54
//   wide_resnet50_2     0.0540/0.0436  sites  56/ 50  layers  54
//   densenet121         0.0112/0.0105  sites 126/121  layers 121
//   googlenet           0.0169/0.0147  sites  72/ 40  layers  58
//   inception_v3        0.0351/0.0289  sites 109/ 71  layers  95
//   squeezenet1_1       0.0292/0.0241  sites  30/ 18  layers  26
//   shufflenet_v2_x1_0  0.0078/0.0086  sites  58/ 54  layers  57
//   mobilenet_v2        0.0182/0.0202  sites  54/ 53  layers  53
//   mobilenet_v3_small  0.0236/0.0176  sites  64/ 54  layers  54
//   mobilenet_v3_large  0.0128/0.0154  sites  73/ 64  layers  64
//   mnasnet1_0          0.0193/0.0129  sites  53/ 53  layers  53
//   efficientnet_b0     0.0204/0.0152  sites  99/ 82  layers  82
//   efficientnet_v2_s   0.0244/0.0240  sites 202/171  layers 171
//   regnet_y_400mf      0.0155/0.0188  sites 103/ 82  layers  86
//   convnext_tiny       0.0337/0.0309  sites  60/ 59  layers  59
// Random-weight networks are fragile (no training made them robust to noise): one bound, about 3x the largest.
constexpr double kW8A8Tolerance = 0.15;

struct ArchMode {
  ArchSpec spec;
  ActSites mode;
};

std::string mode_name(ActSites mode) { return mode == ActSites::kOutputs ? "outputs" : "inputs"; }

}  // namespace

// gtest prints parameters with these (test names and failure messages), instead of their bytes.
namespace quantsim::testing {
void PrintTo(const ArchSpec& spec, std::ostream* out) { *out << spec.name << " at " << spec.size; }
}  // namespace quantsim::testing

namespace {

void PrintTo(const ArchMode& param, std::ostream* out) {
  *out << param.spec.name << " at " << param.spec.size << ", act-sites " << mode_name(param.mode);
}

std::vector<ArchMode> arch_modes() {
  std::vector<ArchMode> out;
  for (const ArchSpec& spec : arch_specs()) {
    for (ActSites mode : {ActSites::kOutputs, ActSites::kInputs}) out.push_back({spec, mode});
  }
  return out;
}

// Every run: the fixture model at its size on the fixture images, on the CPU, one batch.
std::string data_args(const std::string& dir, const ArchSpec& spec) {
  const std::string size = std::to_string(spec.size);
  return "--data " + arch_images(dir) + " --synsets " + arch_images(dir) + "/classes.txt --resize " + size +
         " --crop " + size + " --device cpu -j 1 -b 2";
}

// Returns its input and counts the calls per site: the instrumented graph calls every site.
class CountingIdentity : public quantsim::SiteHandler {
 public:
  explicit CountingIdentity(size_t sites) : calls(sites, 0) {}
  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override {
    ++calls.at(static_cast<size_t>(site_id));
    return x;
  }
  std::vector<int> calls;
};

bool has_line(const std::string& output, const std::string& prefix) {
  return output.find("\n" + prefix) != std::string::npos || output.rfind(prefix, 0) == 0;
}

class ArchTest : public ::testing::Test {
 protected:
  void make_dirs(const std::string& name) {
    std::string unavailable;
    dir_ = arch_fixture_dir(&unavailable);
    if (!unavailable.empty()) GTEST_SKIP() << unavailable;
    tmp_ = fresh_temp_dir("archs_" + name);
  }
  void TearDown() override {
    if (!tmp_.empty()) fs::remove_all(tmp_);  // exported models are large (vgg11_bn: 130 MB at 8 bits)
  }
  std::string dir_, tmp_;
};

class ArchModeTest : public ArchTest, public ::testing::WithParamInterface<ArchMode> {
 protected:
  void SetUp() override { make_dirs(GetParam().spec.name + "_" + mode_name(GetParam().mode)); }
  const ArchSpec& spec() const { return GetParam().spec; }
  ActSites mode() const { return GetParam().mode; }
  std::string model() const { return arch_model(dir_, spec().name); }
  // A run of the fixture model, its results and statistics in this test's own folder.
  std::string run_args(const std::string& extra) const {
    return "--model " + model() + " " + data_args(dir_, spec()) + " --results " + tmp_ + "/results.jsonl --stats-dir " +
           tmp_ + "/stats " + extra;
  }
};

PrepareOptions prepare_options(ActSites mode, bool instrument, bool fold_batch_norm) {
  PrepareOptions options;
  options.act_sites = mode;
  options.instrument = instrument;
  options.fold_batch_norm = fold_batch_norm;
  return options;
}

TEST_P(ArchModeTest, FloatGraphIsTheModule) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(7);
  const at::Tensor x = torch::randn({2, 3, spec().size, spec().size});

  // Scripted, not traced: googlenet and inception_v3 then return their named tuples, and quant-sim's default output
  // selection (the first 2-D tensor) is what every run here goes through.
  const nlohmann::json sidecar = nlohmann::json::parse(quantsim::read_file(dir_ + "/" + spec().name + ".json"));
  EXPECT_EQ(sidecar.at("format").get<std::string>().rfind("TorchScript (torch.jit.script", 0), 0u)
      << sidecar.at("format");

  torch::jit::Module module = torch::jit::load(model());
  module.eval();
  const at::Tensor reference = quantsim::graph::run_classifier(module, x, model());
  ASSERT_EQ(reference.sizes(), (std::vector<int64_t>{2, 10}));

  // Without BN folding the prepared graph is the module's computation, op for op.
  const PreparedModel unfolded = PreparedModel::load(model(), prepare_options(mode(), true, false));
  EXPECT_TRUE(at::equal(unfolded.forward(x), reference))
      << "max relative difference " << relative_max_error(unfolded.forward(x), reference);

  // Instrumented = not instrumented, with no handler and with an identity handler.
  const at::Tensor plain = PreparedModel::load(model(), prepare_options(mode(), false, true)).forward(x);
  const PreparedModel instrumented = PreparedModel::load(model(), prepare_options(mode(), true, true));
  ASSERT_FALSE(instrumented.sites().empty());
  EXPECT_TRUE(at::equal(instrumented.forward(x), plain)) << "site ops without a handler change the result";
  CountingIdentity identity(instrumented.sites().size());
  {
    quantsim::ScopedSiteHandler scope(identity);
    EXPECT_TRUE(at::equal(instrumented.forward(x), plain)) << "an identity handler changes the result";
  }
  for (const quantsim::Site& site : instrumented.sites()) {
    EXPECT_GE(identity.calls[static_cast<size_t>(site.id)], 1) << "site " << site.name << " never called";
  }

  // With BN folding (what quant-sim runs): the same up to float re-association.
  const double fold_error = relative_max_error(plain, reference);
  if (spec().folds_bn) {
    EXPECT_LE(fold_error, kFoldTolerance);
  } else {
    EXPECT_TRUE(at::equal(plain, reference)) << "no BatchNorm to fold, yet max relative difference " << fold_error;
  }
  RecordProperty("sites", static_cast<int>(instrumented.sites().size()));
  RecordProperty("layers", static_cast<int>(instrumented.layers().size()));
  std::cout << "[arch] " << spec().name << " " << mode_name(mode()) << ": " << instrumented.sites().size() << " sites, "
            << instrumented.layers().size() << " layers, " << instrumented.float_ops().size()
            << " float ops, fold error " << fold_error << "\n";
}

TEST_P(ArchModeTest, QuantizedRunsCollectUseExportAndReport) {
  const std::string act = "--act-sites " + mode_name(mode()) + " ";

  const CommandResult fp32 = run_quant_sim(run_args("--save-logits " + tmp_ + "/fp32.npy"));
  ASSERT_EQ(fp32.exit_code, 0) << fp32.output;
  EXPECT_TRUE(has_line(fp32.output, "FP32: top-1 ")) << fp32.output;

  const PreparedModel prepared = PreparedModel::load(model(), prepare_options(mode(), false, true));
  const CommandResult collect = run_quant_sim(run_args(act + "--qtype int8 -sm collect"));
  ASSERT_EQ(collect.exit_code, 0) << collect.output;
  EXPECT_NE(collect.output.find("(" + std::to_string(prepared.sites().size()) + " sites, act-sites " +
                                mode_name(mode()) + ")"),
            std::string::npos)
      << collect.output;

  // W8A8 per-channel weights, static ranges; exported and reported in the same run.
  // The layer report (which runs an FP32 copy beside the quantized model) in paper mode only, to save time; paper mode
  // has every kind of site.
  const std::string exported = tmp_ + "/export/w8a8.pt", report = tmp_ + "/w8a8_layers.json";
  const bool with_report = mode() == ActSites::kOutputs;
  const CommandResult w8a8 =
      run_quant_sim(run_args(act + "--qtype int8 -pcq_w -sm use --save-logits " + tmp_ + "/w8a8.npy --export " +
                             exported + (with_report ? " --layer-report " + report : std::string())));
  ASSERT_EQ(w8a8.exit_code, 0) << w8a8.output;
  EXPECT_TRUE(has_line(w8a8.output, "W8A8 (static ranges, act-sites " + mode_name(mode()) + "): top-1 "))
      << w8a8.output;
  const at::Tensor f = read_npy_float32(tmp_ + "/fp32.npy"), q = read_npy_float32(tmp_ + "/w8a8.npy");
  ASSERT_EQ(q.sizes(), (std::vector<int64_t>{2, 10}));
  ASSERT_EQ(f.sizes(), q.sizes());
  EXPECT_TRUE(torch::isfinite(q).all().item<bool>());
  const double w8a8_error = relative_max_error(q, f);
  EXPECT_LE(w8a8_error, kW8A8Tolerance);
  std::cout << "[arch] " << spec().name << " " << mode_name(mode()) << ": W8A8 logit error " << w8a8_error << "\n";
  RecordProperty("w8a8_relative_error", std::to_string(w8a8_error));

  // The exported model, evaluated as any model, gives the exporting run's logits bit for bit.
  const CommandResult replay = run_quant_sim("--model " + exported + " " + data_args(dir_, spec()) + " --results " +
                                             tmp_ + "/results.jsonl --save-logits " + tmp_ + "/replay.npy");
  ASSERT_EQ(replay.exit_code, 0) << replay.output;
  EXPECT_EQ(quantsim::read_file(tmp_ + "/replay.npy"), quantsim::read_file(tmp_ + "/w8a8.npy"));

  // The layer report lists every site, then every conv/linear layer, by name and in order.
  if (with_report) {
    std::vector<std::string> site_names, layer_names, reported_sites, reported_layers;
    for (const quantsim::Site& site : prepared.sites()) site_names.push_back(site.name);
    for (const quantsim::Layer& layer : prepared.layers()) layer_names.push_back(layer.name);
    const nlohmann::json layers = nlohmann::json::parse(quantsim::read_file(report));
    for (const nlohmann::json& entry : layers.at("entries")) {
      (entry.at("kind") == "weight" ? reported_layers : reported_sites).push_back(entry.at("name"));
    }
    EXPECT_EQ(reported_sites, site_names);
    EXPECT_EQ(reported_layers, layer_names);
    EXPECT_EQ(layers.at("act_sites"), mode_name(mode()));
  }

  const CommandResult w4a4 =
      run_quant_sim(run_args(act + "--qtype int4 -qw int4 -pcq_w -pcq_a -c laplace -baa -baw -bcw -sm use"));
  ASSERT_EQ(w4a4.exit_code, 0) << w4a4.output;
  EXPECT_TRUE(has_line(w4a4.output, "W4A4 (static ranges, act-sites " + mode_name(mode()) + "): top-1 "))
      << w4a4.output;
}

std::string arch_mode_name(const ::testing::TestParamInfo<ArchMode>& info) {
  return info.param.spec.name + "_" + mode_name(info.param.mode);
}

INSTANTIATE_TEST_SUITE_P(Archs, ArchModeTest, ::testing::ValuesIn(arch_modes()), arch_mode_name);

// GPFQ (docs/QUANTIZATION.md, section 12) quantizes weights only: the site mode does not matter, one run per
// architecture.
class ArchGpfqTest : public ArchTest, public ::testing::WithParamInterface<ArchSpec> {
 protected:
  void SetUp() override { make_dirs("gpfq_" + GetParam().name); }
  std::string gpfq_args(const std::string& extra) const {
    return "--model " + arch_model(dir_, GetParam().name) + " " + data_args(dir_, GetParam()) + " --results " + tmp_ +
           "/results.jsonl --weight-method gpfq -qw int4 --gpfq-samples 2 " + extra;
  }
};

// At the default patch share (0.25) on maps of a few pixels, where some convs keep no sampled patch: it runs, or says
// in one line what it cannot do; it must not crash or fail with an internal error.
TEST_P(ArchGpfqTest, QuantizesWeightsAt4BitsOrRefusesInOneLine) {
  const CommandResult r = run_quant_sim(gpfq_args(""));
  if (r.exit_code == 2) {
    EXPECT_TRUE(has_line(r.output, "quant-sim: error: ")) << r.output;
    return;
  }
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("GPFQ weights of"), std::string::npos) << r.output;
  EXPECT_TRUE(has_line(r.output, "W4A32 (dynamic ranges, act-sites outputs): top-1 ")) << r.output;
}

INSTANTIATE_TEST_SUITE_P(Archs, ArchGpfqTest, ::testing::ValuesIn(arch_specs()),
                         [](const ::testing::TestParamInfo<ArchSpec>& info) { return info.param.name; });

// `quant-sim sweep` of 2 configurations (W8A8 rtn, W4A4 aciq) on a few architectures of different families.
class ArchSweepTest : public ArchTest {
 protected:
  void SetUp() override { make_dirs("sweep"); }
};

TEST_F(ArchSweepTest, TwoConfigurationsOnAFewArchitectures) {
  const std::vector<std::string> names = {"resnet18", "squeezenet1_1", "googlenet", "mobilenet_v2"};
  nlohmann::json plan;
  for (const std::string& name : names) {
    const ArchSpec& spec = *std::find_if(arch_specs().begin(), arch_specs().end(),
                                         [&](const ArchSpec& s) { return s.name == name; });
    const std::string size = std::to_string(spec.size);
    plan["models"].push_back(
        {{"name", name},
         {"model", arch_model(dir_, name)},
         {"data", arch_images(dir_)},
         {"args",
          {"--synsets", arch_images(dir_) + "/classes.txt", "--resize", size, "--crop", size, "-j", "1", "-b", "2"}}});
  }
  plan["fp32"] = false;
  plan["methods"] = {{"rtn", {"-pcq_w"}}, {"aciq", {"-pcq_w", "-pcq_a", "-c", "laplace", "-baa", "-baw", "-bcw"}}};
  plan["configurations"] = {{{"method", "rtn"}, {"weight_bits", 8}, {"act_bits", 8}},
                            {{"method", "aciq"}, {"weight_bits", 4}, {"act_bits", 4}}};
  plan["stats_dir"] = "statistics";
  plan["results"] = "results.jsonl";
  std::ofstream(tmp_ + "/sweep.json") << plan.dump(1);

  const CommandResult r =
      run_command(std::string(QUANTSIM_BINARY_DIR) + "/quant-sim sweep " + tmp_ + "/sweep.json --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(tmp_ + "/results.jsonl");
  std::multiset<std::string> runs;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json result = nlohmann::json::parse(line);
    runs.insert(result.at("config").at("label").get<std::string>() + " " +
                result.at("config")
                    .at("sweep_key")
                    .get<std::string>()
                    .substr(0, result.at("config").at("sweep_key").get<std::string>().find('/')));
  }
  std::multiset<std::string> expected;
  for (const std::string& name : names) expected.insert({"rtn " + name, "aciq " + name});
  EXPECT_EQ(runs, expected) << r.output;
}

}  // namespace
