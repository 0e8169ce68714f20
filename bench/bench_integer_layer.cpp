// quant-sim's exact integer conv/linear (accumulate(), integer_layer.h) against GEMMLOWP on the same layers, side by
// side in one run: every conv/linear layer of each shared model at its real input shape (batch 1), W8A8 per channel,
// random input codes. Contenders, each summed over all layers of a model per repetition:
//   quant-sim accumulate()            the engine the integer path uses (float32 passes on weight digits, oneDNN)
//   float64 convolution               the obvious exact alternative (LibTorch's float64 conv on the centered codes)
//   gemmlowp im2col + GEMM            the reference: im2col of the codes (zero-point padding), then
//                                     GemmWithOutputPipelinePC to int32 with the bias stage (one GEMM per group)
//   gemmlowp GEMM only                the same with the im2col done beforehand
// Medians over repetitions taken in round-robin order. Ratio: contender time / quant-sim time. The results of all
// contenders are checked equal once. Data: $QUANTSIM_DATA, else ../shared/data beside the checkout.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_support.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/graph/site_handler.h"
#include "quantsim/quant/integer_layer.h"
#include "quantsim/quant/weight_quantization.h"

#ifdef QUANTSIM_WITH_GEMMLOWP
#include <gemmlowp/public/gemmlowp.h>
#endif

using quantsim::bench_support::median;

namespace {

namespace fs = std::filesystem;
using quantsim::IntegerLayer;

constexpr int kWarmup = 1;
constexpr int kRepetitions = 5;

struct Contender {
  std::string name;
  std::function<void()> run;
  std::vector<double> seconds;
};

void measure(std::vector<Contender>& contenders) {
  for (int rep = 0; rep < kWarmup + kRepetitions; ++rep) {
    for (Contender& c : contenders) {
      const auto start = std::chrono::steady_clock::now();
      c.run();
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      if (rep >= kWarmup) c.seconds.push_back(elapsed.count());
    }
  }
}

struct Case {
  IntegerLayer layer;
  at::Tensor codes;  // int32 input codes
  double macs = 0;
};

class ShapeRecorder : public quantsim::SiteHandler {
 public:
  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override {
    shapes[site_id] = x.sizes().vec();
    return x;
  }
  std::map<int64_t, std::vector<int64_t>> shapes;
};

std::vector<Case> model_cases(const fs::path& model_path, const fs::path& json_path) {
  quantsim::PrepareOptions options;
  options.act_sites = quantsim::ActSites::kInputs;
  const quantsim::PreparedModel model = quantsim::PreparedModel::load(model_path.string(), options);
  std::vector<int64_t> input_shape = nlohmann::json::parse(std::ifstream(json_path))["input"]["shape"];
  input_shape[0] = 1;
  ShapeRecorder recorder;
  {
    quantsim::ScopedSiteHandler scope(recorder);
    model.forward(at::rand(input_shape));
  }
  std::map<int64_t, std::vector<int64_t>> layer_input;
  for (const quantsim::Site& site : model.sites()) {
    for (int64_t l : site.layers) layer_input[l] = recorder.shapes.at(site.id);
  }
  quantsim::WeightQuantOptions wq;
  wq.bits = 8;
  wq.first_last_bits = 8;
  wq.per_channel = true;
  quantsim::QuantParams act;
  act.bits = 8;
  act.range = quantsim::ClipRange{-1.0, 3.0};
  const quantsim::ActivationCodes input = quantsim::activation_codes(act);
  std::vector<Case> cases;
  for (const quantsim::Layer& layer : model.layers()) {
    Case c;
    c.layer = quantsim::integer_layer(layer, quantsim::quantize_layer_weight(layer, wq), input);
    c.codes = at::randint(0, 256, layer_input.at(layer.index), at::TensorOptions().dtype(at::kInt));
    const at::Tensor acc = quantsim::accumulate(c.layer, c.codes);
    c.macs = static_cast<double>(acc.numel()) * static_cast<double>(c.layer.weight_codes[0].numel());
    cases.push_back(std::move(c));
  }
  return cases;
}

at::Tensor float64_accumulate(const IntegerLayer& l, const at::Tensor& codes) {
  const at::Tensor x = codes.to(at::kDouble) - l.input.zero_point;
  std::vector<int64_t> shape(static_cast<size_t>(l.weight_codes.dim()), 1);
  shape[0] = -1;
  const at::Tensor w = l.weight_codes.to(at::kDouble) -
                       at::tensor(l.weight_zero_points, at::kInt).to(at::kDouble).view(shape);
  const at::Tensor b = at::tensor(l.bias, at::kInt).to(at::kDouble);
  const at::Tensor acc = l.kind == quantsim::LayerKind::kLinear
                             ? at::linear(x, w, b)
                             : at::convolution(x, w, b, l.stride, l.padding, l.dilation, false,
                                               std::vector<int64_t>(l.stride.size(), 0), l.groups);
  return acc.to(at::kInt);
}

#ifdef QUANTSIM_WITH_GEMMLOWP

// The layer's input for group g as gemmlowp's column-major [K, P] uint8 right-hand side, padded with the zero point.
struct Im2col {
  std::vector<std::vector<uint8_t>> groups;
  int64_t depth = 0, columns = 0, oh = 1, ow = 1;
};

Im2col im2col(const IntegerLayer& l, const at::Tensor& codes) {
  Im2col r;
  const at::Tensor x = codes.contiguous();
  const int32_t* xd = x.data_ptr<int32_t>();
  if (l.kind == quantsim::LayerKind::kLinear) {
    r.depth = x.size(1);
    r.columns = x.size(0);
    r.groups.emplace_back(xd, xd + x.numel());
    return r;
  }
  const int64_t n = x.size(0), c_in = x.size(1), h = x.size(2), wd = x.size(3);
  const int64_t cg = l.weight_codes.size(1), kh = l.weight_codes.size(2), kw = l.weight_codes.size(3);
  r.oh = (h + 2 * l.padding[0] - l.dilation[0] * (kh - 1) - 1) / l.stride[0] + 1;
  r.ow = (wd + 2 * l.padding[1] - l.dilation[1] * (kw - 1) - 1) / l.stride[1] + 1;
  r.depth = cg * kh * kw;
  r.columns = n * r.oh * r.ow;
  const auto zx = static_cast<uint8_t>(l.input.zero_point);
  for (int64_t g = 0; g < l.groups; ++g) {
    std::vector<uint8_t> m(static_cast<size_t>(r.depth * r.columns));
    size_t k = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t y = 0; y < r.oh; ++y)
        for (int64_t xo = 0; xo < r.ow; ++xo)
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t iy = y * l.stride[0] - l.padding[0] + ky * l.dilation[0];
                const int64_t ix = xo * l.stride[1] - l.padding[1] + kx * l.dilation[1];
                m[k++] = (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                             ? zx
                             : static_cast<uint8_t>(xd[((i * c_in + g * cg + ci) * h + iy) * wd + ix]);
              }
    r.groups.push_back(std::move(m));
  }
  return r;
}

struct GemmlowpLayer {
  std::vector<uint8_t> lhs;  // row-major weight codes
  std::vector<int32_t> lhs_offsets;
  std::vector<int32_t> result;  // column-major [rows, columns] per group, back to back
};

GemmlowpLayer gemmlowp_layer(const IntegerLayer& l) {
  GemmlowpLayer g;
  const at::Tensor w = l.weight_codes.contiguous();
  g.lhs.assign(w.data_ptr<int32_t>(), w.data_ptr<int32_t>() + w.numel());
  for (int32_t z : l.weight_zero_points) g.lhs_offsets.push_back(-z);
  return g;
}

void gemmlowp_gemm(gemmlowp::GemmContext& context, const IntegerLayer& l, const Im2col& cols, GemmlowpLayer& g) {
  using namespace gemmlowp;
  using ColMap = VectorMap<const int32_t, VectorShape::Col>;
  const int64_t rows = l.weight_codes.size(0) / l.groups;
  g.result.resize(static_cast<size_t>(l.weight_codes.size(0) * cols.columns));
  for (int64_t grp = 0; grp < l.groups; ++grp) {
    const auto r = static_cast<int>(rows), d = static_cast<int>(cols.depth), c = static_cast<int>(cols.columns);
    MatrixMap<const uint8_t, MapOrder::RowMajor> lhs(g.lhs.data() + grp * rows * cols.depth, r, d);
    MatrixMap<const uint8_t, MapOrder::ColMajor> rhs(cols.groups[static_cast<size_t>(grp)].data(), d, c);
    MatrixMap<int32_t, MapOrder::ColMajor> res(g.result.data() + grp * rows * cols.columns, r, c);
    OutputStageBiasAddition<ColMap> bias{ColMap(l.bias.data() + grp * rows, r)};
    const ColMap lhs_offset(g.lhs_offsets.data() + grp * rows, r);
    const VectorDup<const int32_t, VectorShape::Row> rhs_offset(-l.input.zero_point, c);
    GemmWithOutputPipelinePC<uint8_t, int32_t, DefaultL8R8BitDepthParams>(&context, lhs, rhs, &res, lhs_offset,
                                                                          rhs_offset, std::make_tuple(bias));
  }
}

// gemmlowp's result in quant-sim's layout.
at::Tensor gemmlowp_as_tensor(const IntegerLayer& l, const Im2col& cols, const GemmlowpLayer& g, int64_t n) {
  const int64_t rows = l.weight_codes.size(0) / l.groups;
  std::vector<at::Tensor> parts;
  for (int64_t grp = 0; grp < l.groups; ++grp) {
    at::Tensor part = at::from_blob(const_cast<int32_t*>(g.result.data()) + grp * rows * cols.columns,
                                    {cols.columns, rows}, at::kInt);
    parts.push_back(
        l.kind == quantsim::LayerKind::kLinear ? part : part.view({n, cols.oh, cols.ow, rows}).permute({0, 3, 1, 2}));
  }
  return at::cat(parts, 1);
}

#endif

void model_section(const std::string& name, const fs::path& data) {
  const fs::path model = data / "models" / (name + ".pt");
  const fs::path json = data / "models" / (name + ".json");
  if (!fs::exists(model) || !fs::exists(json)) {
    std::printf("%s: skipped (no %s)\n", name.c_str(), model.c_str());
    return;
  }
  at::manual_seed(1);
  std::vector<Case> cases = model_cases(model, json);
  double macs = 0;
  for (const Case& c : cases) macs += c.macs;
  std::printf("%s: %zu layers, batch 1, %.1f M multiply-accumulates, W8A8 per channel, %d threads\n", name.c_str(),
              cases.size(), macs / 1e6, at::get_num_threads());
  std::vector<Contender> contenders = {
      {"quant-sim accumulate()",
       [&] {
         for (const Case& c : cases) quantsim::accumulate(c.layer, c.codes);
       },
       {}},
      {"float64 convolution",
       [&] {
         for (const Case& c : cases) float64_accumulate(c.layer, c.codes);
       },
       {}},
  };
#ifdef QUANTSIM_WITH_GEMMLOWP
  gemmlowp::GemmContext context;
  context.set_max_num_threads(at::get_num_threads());
  std::vector<Im2col> cols;
  std::vector<GemmlowpLayer> layers;
  bool all_equal = true;
  for (const Case& c : cases) {
    cols.push_back(im2col(c.layer, c.codes));
    layers.push_back(gemmlowp_layer(c.layer));
    gemmlowp_gemm(context, c.layer, cols.back(), layers.back());
    const at::Tensor ours = quantsim::accumulate(c.layer, c.codes);
    all_equal = all_equal &&
                at::equal(ours, gemmlowp_as_tensor(c.layer, cols.back(), layers.back(), c.codes.size(0))) &&
                at::equal(ours, float64_accumulate(c.layer, c.codes));
  }
  std::printf("  check: all contenders' int32 accumulators equal: %s\n", all_equal ? "yes" : "NO");
  contenders.push_back({"gemmlowp im2col + GEMM",
                        [&] {
                          for (size_t i = 0; i < cases.size(); ++i) {
                            const Im2col c = im2col(cases[i].layer, cases[i].codes);
                            gemmlowp_gemm(context, cases[i].layer, c, layers[i]);
                          }
                        },
                        {}});
  contenders.push_back({"gemmlowp GEMM only (im2col done beforehand)",
                        [&] {
                          for (size_t i = 0; i < cases.size(); ++i)
                            gemmlowp_gemm(context, cases[i].layer, cols[i], layers[i]);
                        },
                        {}});
#else
  std::printf("  gemmlowp: skipped (built without libgemmlowp-dev)\n");
#endif
  measure(contenders);
  const double ours = median(contenders[0].seconds);
  for (const Contender& c : contenders) {
    const double t = median(c.seconds);
    std::printf("  %-46s median %9.2f ms  %7.2f GMAC/s  time / quant-sim %6.2fx\n", c.name.c_str(), t * 1e3,
                macs / t / 1e9, t / ours);
  }
}

}  // namespace

int main() {
  const char* env = std::getenv("QUANTSIM_DATA");
  const fs::path data = env != nullptr && *env != '\0' ? fs::path(env)
                                                       : fs::path(QUANTSIM_BENCH_SOURCE_DIR) / ".." / "shared" / "data";
  for (const char* name : {"resnet8_cifar10", "tiny_darknet", "mobilenet_v2_q"}) model_section(name, data);
  return 0;
}
