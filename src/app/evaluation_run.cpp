#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <torch/script.h>

#include "quantsim/app/config_json.h"
#include "quantsim/app/export_run.h"
#include "quantsim/app/model_checks.h"
#include "quantsim/app/output_destinations.h"
#include "quantsim/app/run_inputs.h"
#include "quantsim/app/run_options.h"
#include "quantsim/app/runs.h"
#include "quantsim/app/runtime_info.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/splitmix64.h"
#include "quantsim/core/stopwatch.h"
#include "quantsim/data/shard.h"
#include "quantsim/export/npy_writer.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/graph/torchscript_loading.h"
#include "quantsim/passes/activation_quantizer.h"
#include "quantsim/passes/adaround_weights.h"
#include "quantsim/passes/arith_comparison.h"
#include "quantsim/passes/arith_report.h"
#include "quantsim/passes/empirical_bias_correction.h"
#include "quantsim/passes/gpfq_weights.h"
#include "quantsim/passes/integer_program.h"
#include "quantsim/passes/layer_report_recorder.h"
#include "quantsim/passes/statistics_collector.h"
#include "quantsim/quant/cuda_sync_debug.h"
#include "quantsim/quant/weight_quantization.h"
#include "quantsim/results/per_image.h"
#include "quantsim/results/result_record.h"
#include "quantsim/results/results_log.h"

namespace quantsim {
namespace {

using Clock = std::chrono::steady_clock;

// --stability: how far each static range moves, in float32 ulps (2^-23 relative): 16 ulps = 1.9e-6, the size of
// the (1 + 2e-6) scaling that moved mobilenet_v2_q W8A4 by 0.77 points (docs/QUANTIZATION.md, section 15).
constexpr int kStabilityUlps = 16;

// The model as a forward function, plus whatever must stay alive while it runs.
struct RunnableModel {
  Forward forward;
  std::string mode;  // "fp32", "static" or "dynamic"
  nlohmann::json times;
  std::shared_ptr<void> keep_alive;
  std::shared_ptr<LayerReportRecorder> layer_report;  // with --layer-report
  // Static ranges only: the forward of --stability rerun `seed`, its ranges perturbed (docs/QUANTIZATION.md, s. 13).
  std::function<Forward(uint64_t seed)> perturbed;
  std::shared_ptr<ArithComparison> arith;  // --arith int: the float and integer paths side by side
};

// Nothing quantized: the original TorchScript module, untouched, so the result is exactly FP32.
RunnableModel fp32_model(const ModelFile& model, const std::string& device, const OutputChoice& output) {
  auto module = std::make_shared<torch::jit::Module>(graph::load_torchscript(model.path, torch::Device(device)));
  module->eval();
  module->to(torch::Device(device));
  RunnableModel runnable;
  runnable.mode = "fp32";
  runnable.keep_alive = module;
  runnable.forward = [module, device, path = model.path, output](const at::Tensor& x) {
    return graph::run_classifier(*module, x.to(torch::Device(device)), path, output);
  };
  return runnable;
}

// Everything a quantized forward needs, kept together so that the handler outlives every forward.
struct QuantizedPipeline {
  PreparedModel model;
  std::unique_ptr<Statistics> statistics;
  std::unique_ptr<ActivationQuantizer> quantizer;
  std::vector<QuantizedWeight> weights;            // kept only for --export, --layer-report and --arith int
  std::unique_ptr<ActivationQuantizer> perturbed;  // the --stability rerun's; the main one stays for the layer report
  std::unique_ptr<IntegerProgram> program;         // --arith int
  std::shared_ptr<ArithComparison> arith;          // --arith int
};

// Round-to-nearest (docs/QUANTIZATION.md, sections 4-5), GPFQ or AdaRound; the weights are kept in the pipeline only
// for --export, --layer-report and --arith int (which also refuses weights off their grid here).
void quantize_weights(QuantizedPipeline& pipeline, const Config& config, const ModelFile& file) {
  PreparedModel& model = pipeline.model;
  std::vector<QuantizedWeight> weights;
  if (config.weight_method == WeightMethod::kGpfq) {
    weights = gpfq_quantized_weights(gpfq_options(config),
                                     calibration_images(config, file, config.gpfq_samples, "--gpfq-samples"), file,
                                     model.device());
  } else if (config.weight_method == WeightMethod::kAdaround) {
    weights = adaround_quantized_weights(
        adaround_options(config), calibration_images(config, file, config.adaround_samples, "--adaround-samples"), file,
        model.device());
  } else {
    const WeightQuantOptions options = weight_quant_options(config);
    for (const Layer& layer : model.layers()) weights.push_back(quantize_layer_weight(layer, options));
  }
  for (const Layer& layer : model.layers()) model.set_layer_weight(layer.index, weights.at(layer.index).weight);
  if (config.arith == ArithChoice::kInt) check_integer_weights(model, weights);
  if (!config.export_path.empty() || !config.layer_report.empty() || config.arith == ArithChoice::kInt) {
    pipeline.weights = std::move(weights);
  }
}

// Static ranges: the statistics file of this model and --act-sites mode, checked against the model's sites.
std::unique_ptr<Statistics> load_checked_statistics(const Config& config, const ModelFile& model,
                                                    const PreparedModel& prepared, const at::Tensor& probe) {
  SiteShapeRecorder recorder(prepared.sites());
  {
    ScopedSiteHandler scope(recorder);
    prepared.forward(probe.to(prepared.device()));
  }
  const std::string path = statistics_path(config.stats_dir, model.name, config.act_sites);
  auto statistics = std::make_unique<Statistics>(load_statistics(path, model.name));
  check_compatible(*statistics, path, model.sha256, recorder.shapes(), config.act_sites);
  if (statistics->metadata.cross_layer_equalization != config.cross_layer_equalization) {
    throw UserError(fmt::format("{}: statistics collected {} --cle, this run is {} it; collect them again with the "
                                "same --cle",
                                path, statistics->metadata.cross_layer_equalization ? "with" : "without",
                                config.cross_layer_equalization ? "with" : "without"));
  }
  return statistics;
}

// --cle: what equalization did, on stderr, with what it cannot keep exact (docs/QUANTIZATION.md, section 14.1).
void report_equalization(const PreparedModel& model) {
  const CrossLayerEqualizationSummary& s = model.equalization();
  std::fprintf(stderr,
               "quant-sim: --cle equalised %lld layer pairs (%lld sweeps; %lld ReLU6 kept exact as per-channel "
               "clamps); high-bias absorption in %lld pairs (approximate: exact only where a pre-activation stays "
               "above beta - 3|gamma|), skipped in %lld without a folded BN and %lld whose next layer pads\n",
               static_cast<long long>(s.pairs), static_cast<long long>(s.sweeps),
               static_cast<long long>(s.per_channel_clamps), static_cast<long long>(s.absorbed_pairs),
               static_cast<long long>(s.not_absorbed_no_batch_norm), static_cast<long long>(s.not_absorbed_padding));
}

// --bias-correction empirical: after the weights (whatever method made them) and with the run's activation quantizer,
// against an FP32 copy of the same prepared model (docs/QUANTIZATION.md, section 14.2).
void correct_biases(QuantizedPipeline& pipeline, const Config& config, const ModelFile& file) {
  PreparedModel reference = PreparedModel::load(file.path, pipeline.model.options());
  reference.to(pipeline.model.device());
  const ImageSet calibration = calibration_images(config, file, config.bias_correction_samples,
                                                  "--bias-correction-samples");
  const EmpiricalBiasCorrectionSummary s = correct_biases_empirically(
      pipeline.model, *pipeline.quantizer, reference, calibration,
      {config.workers, config.progress, config.max_bad_image_share});
  std::fprintf(stderr,
               "quant-sim: empirical bias correction of %lld layers (%lld without a bias input left alone) on %lld "
               "images of %s, sequential, activations quantized: mean |shift| %.3g of mean |E[Wx]|, %.1f s\n",
               static_cast<long long>(s.corrected_layers), static_cast<long long>(s.skipped_layers),
               static_cast<long long>(s.images), calibration.root.c_str(), s.mean_relative_shift, s.seconds);
}

// --arith int: the static ranges decided on `probe` (they depend on the statistics and the tensors' shapes only), and
// the integer program built from them and the grid weights (docs/QUANTIZATION.md, section 16).
void prepare_integer_path(QuantizedPipeline& pipeline, const at::Tensor& probe) {
  {
    ScopedSiteHandler scope(*pipeline.quantizer);
    pipeline.model.forward(probe.to(pipeline.model.device()));
  }
  pipeline.program =
      std::make_unique<IntegerProgram>(build_integer_program(pipeline.model, pipeline.weights, *pipeline.quantizer));
  pipeline.arith = std::make_shared<ArithComparison>(pipeline.model, *pipeline.quantizer, *pipeline.program);
}

RunnableModel quantized_model(const Config& config, const ModelFile& model, const std::string& device,
                              const at::Tensor& probe) {
  const auto start = Clock::now();
  auto pipeline = std::make_shared<QuantizedPipeline>(QuantizedPipeline{
      PreparedModel::load(model.path, prepare_options(config)), nullptr, nullptr, {}, nullptr, nullptr, nullptr});
  pipeline->model.to(torch::Device(device));
  if (config.cross_layer_equalization) report_equalization(pipeline->model);
  // Before the weights and statistics: paper mode has statistics of its own, and a missing file would hide this.
  if (config.arith == ArithChoice::kInt) check_integer_site_mode(pipeline->model);
  const double prepare_s = seconds_since(start);
  const auto weights_start = Clock::now();
  quantize_weights(*pipeline, config, model);
  const double weights_s = seconds_since(weights_start);
  const bool dynamic = config.stats_mode == StatsMode::kNo;
  if (!dynamic) pipeline->statistics = load_checked_statistics(config, model, pipeline->model, probe);
  pipeline->quantizer = std::make_unique<ActivationQuantizer>(pipeline->model.sites(), activation_quant_options(config),
                                                              pipeline->statistics.get());

  RunnableModel runnable;
  runnable.times = {{"prepare_s", prepare_s}, {"quantize_weights_s", weights_s}};
  if (config.empirical_bias_correction) {
    const auto correction_start = Clock::now();
    correct_biases(*pipeline, config, model);
    runnable.times["bias_correction_s"] = seconds_since(correction_start);
  }
  const bool float_run = config.act_bits == 0 && config.weight_bits == 0;  // --cle alone: the equalised FP32 model
  runnable.mode = float_run ? "fp32" : dynamic ? "dynamic" : "static";
  if (config.arith == ArithChoice::kInt) {
    const auto integer_start = Clock::now();
    prepare_integer_path(*pipeline, probe);
    runnable.times["integer_program_s"] = seconds_since(integer_start);
    runnable.arith = pipeline->arith;
  }
  if (!config.export_path.empty()) {
    const auto export_start = Clock::now();
    export_for_run(config, model, pipeline->model, *pipeline->quantizer, pipeline->weights, probe,
                   pipeline->program.get());
    runnable.times["export_s"] = seconds_since(export_start);
  }
  runnable.keep_alive = pipeline;
  if (!config.layer_report.empty()) {
    runnable.layer_report = std::make_shared<LayerReportRecorder>(layer_report_options(config), model, pipeline->model,
                                                                  *pipeline->quantizer, pipeline->weights);
  }
  runnable.forward = [pipeline, report = runnable.layer_report, dynamic](const at::Tensor& x) {
    if (report) return report->forward(x.to(pipeline->model.device()));
    if (pipeline->arith) return pipeline->arith->forward(x.to(pipeline->model.device()));
    const at::Tensor input = x.to(pipeline->model.device());
    ScopedSiteHandler scope(*pipeline->quantizer);
    // With static ranges the forward and its site ops never wait for the device (QUANTSIM_CUDA_SYNC_DEBUG checks it);
    // the input's upload above and the caller's read of the logits may.
    const CudaSyncDebugScope no_sync(!dynamic);
    return pipeline->model.forward(input);
  };
  if (!dynamic) {
    runnable.perturbed = [pipeline, options = activation_quant_options(config)](uint64_t seed) -> Forward {
      pipeline->perturbed = std::make_unique<ActivationQuantizer>(
          pipeline->model.sites(), options, pipeline->statistics.get(), RangePerturbation{kStabilityUlps, seed});
      return [pipeline](const at::Tensor& x) {
        const at::Tensor input = x.to(pipeline->model.device());
        ScopedSiteHandler scope(*pipeline->perturbed);
        return pipeline->model.forward(input);
      };
    };
  }
  return runnable;
}

// Per-image correctness of the run (results/per_image.h), or nothing when images were skipped: their positions
// would hold no outcome, and a pairing with another run would pair unequal sets.
std::optional<PerImageCorrectness> per_image_correctness(const Config& config, const Dataset& dataset,
                                                         const std::vector<LabeledImage>& images,
                                                         const TopKAccuracy& accuracy, int64_t bad_images) {
  if (bad_images != 0 || accuracy.images() != static_cast<int64_t>(images.size()) ||
      accuracy.top1_hits().size() != images.size()) {
    return std::nullopt;
  }
  PerImageCorrectness data;
  data.top1 = accuracy.top1_hits();
  data.top5 = accuracy.top5_hits();
  // Positions in the whole selection: shard K of N holds positions K-1, K-1+N, ... (data/shard.h).
  const int64_t stride = config.shard ? config.shard->count : 1;
  const int64_t offset = config.shard ? config.shard->index - 1 : 0;
  for (size_t j = 0; j < images.size(); ++j) {
    data.order.add(offset + static_cast<int64_t>(j) * stride, image_identity(images[j].path, dataset.root),
                   images[j].label);
  }
  return data;
}

nlohmann::json result_record(const Config& config, const ModelFile& model, const Dataset& dataset,
                             const EvaluationResult& result, const std::string& device, const RunnableModel& runnable,
                             int64_t bad_images) {
  nlohmann::json times = runnable.times.is_null() ? nlohmann::json::object() : runnable.times;
  times["evaluate_s"] = result.seconds;
  times["forward_s"] = result.forward_seconds;
  return {{"top1", result.accuracy.top1_percent()},
          {"top5", result.accuracy.top5_percent()},
          {"top1_correct", result.accuracy.top1_correct()},  // counts, so that shards merge exactly
          {"top5_correct", result.accuracy.top5_correct()},
          {"top1_ci95", ci95_json(result.accuracy.top1_correct(), result.accuracy.images())},
          {"top5_ci95", ci95_json(result.accuracy.top5_correct(), result.accuracy.images())},
          {"images", result.accuracy.images()},
          {"bad_images", bad_images},
          {"images_per_second", result.images_per_second()},
          {"model", model.path},
          {"model_name", model.name},
          {"model_sha256", model.sha256},
          {"data", dataset.root},
          {"precision", precision_label(config)},
          {"mode", runnable.mode},
          {"device", device},
          {"times", times},
          {"config", config_to_json(config)},
          {"version", QUANTSIM_VERSION},
          {"timestamp", utc_timestamp()}};
}

// The cache a run read its images from, recorded beside "data" (its source folder, so that lines from a cache and from
// the folder stay comparable).
// --stability K: K reruns of the evaluation, rerun k with the ranges of seed k (the k-th splitmix64 output of
// --seed); their top-1 hits, each printed as it finishes.
std::vector<int64_t> stability_reruns(const Config& config, const RunnableModel& runnable, const ImageSet& images,
                                      EvaluationOptions evaluation, const std::string& device) {
  evaluation.keep_logits = false;  // --save-logits holds the main run's
  std::vector<int64_t> hits;
  SplitMix64 seeds(config.seed);
  for (int64_t k = 1; k <= config.stability; ++k) {
    const std::unique_ptr<BatchSource> loader = read_batches(
        images, {config.batch_size, config.workers, 2, config.progress, fmt::format("stability {}", k),
                 PreprocessOutput::kNormalized, device});
    const EvaluationResult rerun = evaluate(*loader, runnable.perturbed(seeds.next()), evaluation);
    hits.push_back(rerun.accuracy.top1_correct());
    std::printf("stability rerun %lld/%lld: top-1 %.2f%%\n", static_cast<long long>(k),
                static_cast<long long>(config.stability), rerun.accuracy.top1_percent());
  }
  return hits;
}

// --arith int: the float path's accuracy on the same images and the gap summary, beside the integer path's top1/top5
// (docs/QUANTIZATION.md, section 16; results/result_record.h reads them back).
void add_arith_fields(nlohmann::json& record, const ArithComparison& arith) {
  const TopKAccuracy& float_accuracy = arith.float_accuracy();
  const ArithGap& gap = arith.gap();
  record["arith"] = "int";
  record["float_top1"] = float_accuracy.top1_percent();
  record["float_top5"] = float_accuracy.top5_percent();
  record["float_top1_correct"] = float_accuracy.top1_correct();
  record["float_top5_correct"] = float_accuracy.top5_correct();
  record["arith_gap"] = {{"codes_compared", gap.codes_compared()},
                         {"codes_differing", gap.codes_differing()},
                         {"codes_differing_share", gap.codes_differing_share()},
                         {"max_step_difference", gap.max_step_difference()},
                         {"top1_differs", gap.logits.top1_differs},
                         {"top1_differs_share", gap.logits.top1_differs_share()}};
  record["times"]["float_forward_s"] = arith.float_seconds();
  record["times"]["integer_forward_s"] = arith.integer_seconds();
}

nlohmann::json image_cache_identity(const ImageCache& cache) {
  return {{"path", cache.path()},
          {"sources_sha256", cache.info().sources_fingerprint},
          {"preprocess_sha256", cache.info().preprocess_fingerprint},
          {"images", cache.info().image_count}};
}

}  // namespace

int run_evaluation(const Config& config) {
  check_output_destinations(config);
  const ModelFile model = resolve_model_file(config);
  const std::string device = resolve_device(config);
  const EvaluationInputs inputs = evaluation_inputs(config, model);  // an image folder or an image cache
  const Dataset& dataset = inputs.dataset;
  const PreprocessSpec& spec = inputs.images.spec;
  const std::vector<LabeledImage>& images = inputs.images.images;
  torch::InferenceMode inference;
  const bool quantized = config.act_bits != 0 || config.weight_bits != 0;
  // --cle without quantization runs the equalised float model through the prepared graph.
  const RunnableModel runnable = quantized || config.cross_layer_equalization
                                     ? quantized_model(config, model, device, first_decodable_image(inputs.images))
                                     : fp32_model(model, device, prepare_options(config).output);
  const int64_t num_classes = count_model_classes(model, runnable.forward, inputs.images);
  check_labels_fit(dataset, num_classes);
  if (runnable.layer_report) runnable.layer_report->reset();  // the class-count probe is not an evaluated image
  if (runnable.arith) runnable.arith->reset();

  const std::string what = quantized                         ? precision_label(config) + " " + runnable.mode + " ranges"
                           : config.cross_layer_equalization ? "FP32 (equalised, --cle)"
                                                             : "FP32";
  std::fprintf(stderr, "quant-sim: %s (sha256 %.12s) %s on %s: %zu images, %s, device %s (%s)\n", model.name.c_str(),
               model.sha256.c_str(), what.c_str(), dataset.root.c_str(), images.size(), describe(spec).c_str(),
               device.c_str(), describe_briefly(runtime_info()).c_str());
  EvaluationOptions evaluation{num_classes, !config.save_logits.empty(), model.path, {}};
  for (const LabeledImage& image : images) evaluation.image_names.push_back(image.path);
  const std::unique_ptr<BatchSource> loader = read_batches(
      inputs.images,
      {config.batch_size, config.workers, 2, config.progress, "evaluate", PreprocessOutput::kNormalized, device});
  // --arith int: the labels pass by the comparison too, which scores the float path on the same images.
  std::optional<BatchLabelTap> tap;
  if (runnable.arith) tap.emplace(*loader, *runnable.arith);
  const EvaluationResult result = evaluate(tap ? static_cast<BatchSource&>(*tap) : *loader, runnable.forward,
                                           evaluation);
  check_bad_images(*loader, config.max_bad_image_share);
  if (result.accuracy.images() == 0) throw UserError(fmt::format("{}: no image could be evaluated", dataset.root));

  std::printf("%s%s: top-1 %.2f%%  top-5 %.2f%%  (%lld images, %.1f images/s)\n", precision_label(config).c_str(),
              quantized ? fmt::format(" ({} ranges, act-sites {}{})", runnable.mode, to_string(config.act_sites),
                                      runnable.arith ? ", integer arithmetic" : "")
                              .c_str()
                        : "",
              result.accuracy.top1_percent(), result.accuracy.top5_percent(),
              static_cast<long long>(result.accuracy.images()), result.images_per_second());
  if (runnable.arith) {
    const ArithComparison& arith = *runnable.arith;
    std::printf("float path on the same images: top-1 %.2f%%  top-5 %.2f%%; integer vs float: %.4g%% of codes "
                "differ (largest by %lld steps), top-1 class differs on %lld of %lld images\n",
                arith.float_accuracy().top1_percent(), arith.float_accuracy().top5_percent(),
                100.0 * arith.gap().codes_differing_share(), static_cast<long long>(arith.gap().max_step_difference()),
                static_cast<long long>(arith.gap().logits.top1_differs),
                static_cast<long long>(arith.gap().logits.images));
    if (!config.arith_report.empty()) {
      write_arith_report(config.arith_report, {model.name, model.sha256, precision_label(config)},
                         arith.model().sites(), arith.gap());
    }
  }
  if (!config.save_logits.empty()) write_npy_float32(config.save_logits, result.logits);
  if (runnable.layer_report) write_layer_report(config.layer_report, runnable.layer_report->report());
  nlohmann::json record = result_record(config, model, dataset, result, device, runnable, loader->bad_count());
  if (inputs.images.cache) record["data_cache"] = image_cache_identity(*inputs.images.cache);
  if (runnable.arith) add_arith_fields(record, *runnable.arith);
  if (const auto per_image = per_image_correctness(config, dataset, images, result.accuracy,
                                                   static_cast<int64_t>(loader->bad_count()))) {
    record["per_image"] = per_image_to_json(*per_image);
  }
  if (config.stability > 0 && runnable.perturbed) {
    const std::vector<int64_t> reruns = stability_reruns(config, runnable, inputs.images, evaluation, device);
    record["stability"] = stability_json(result.accuracy.top1_correct(), result.accuracy.images(), reruns,
                                         kStabilityUlps);
    const nlohmann::json& s = record["stability"];
    std::printf("stability (%lld reruns, ranges moved by up to %d float32 ulps): top-1 min %.2f%%  max %.2f%%  "
                "std %.2f points\n",
                static_cast<long long>(config.stability), kStabilityUlps, s["top1_min"].get<double>(),
                s["top1_max"].get<double>(), s["top1_std"].get<double>());
  }
  append_result(config.results, record);
  return 0;
}

}  // namespace quantsim
