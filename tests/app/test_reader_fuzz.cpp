// Seeded mutation tests of every reader of user files (reliability issue, item 13): statistics files, model
// sidecars, results files (merge, report, gate), sweep files, gate baselines, ground-truth files (val.txt,
// LOC_val_solution.csv) and class-order files. Each TEST makes its reader's fixture once, then runs quant-sim on
// mutants of the file and judges every outcome against an oracle computed from the mutated text (fuzz_support.h):
// a clean one-line error, the same result, or (for a valid change of meaning) a consistent result.
//
// Run alone: ctest -R ReaderFuzz. Replay one failure: QUANTSIM_FUZZ_SEED=S QUANTSIM_FUZZ_MUTANT=K; more mutants:
// QUANTSIM_FUZZ_ITERATIONS=N.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "quantsim/core/json_nesting.h"
#include "quantsim/quant/histogram.h"
#include "support/fixtures.h"
#include "support/fuzz_support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace quantsim::testing;
using namespace quantsim::testing::fuzz;

namespace {

constexpr int kClasses = 4;
constexpr int kPerClass = 2;
const std::vector<std::string> kFolders = {"a", "b", "c", "d"};

// Flags of every evaluation: one image per batch, so that an image's logits do not depend on which images share its
// batch (mutants reorder and drop images), and one decoding thread (CI has 2 cores).
const std::string kRunFlags = " --no-progress -b 1 -j 1 ";

// ---------------------------------------------------------------------------------------------------------------
// Small JSON helpers for the oracles

std::optional<json> parse_json(const std::string& text) {
  try {
    return parse_shallow<json>(text);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

bool finite_number(const json& value) { return value.is_number() && std::isfinite(value.get<double>()); }

// An integer that fits int64 (nlohmann also keeps unsigned integers above INT64_MAX).
template <typename AnyJson>
std::optional<int64_t> integer_value(const AnyJson& value) {
  if (!value.is_number_integer()) return std::nullopt;
  if (value.is_number_unsigned() && value.template get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  return value.template get<int64_t>();
}

const json& field(const json& object, const std::string& key) {
  static const json kAbsent;
  if (!object.is_object()) return kAbsent;
  const auto it = object.find(key);
  return it == object.end() ? kAbsent : *it;
}

bool is_non_empty_string(const json& value) { return value.is_string() && !value.get<std::string>().empty(); }

// a <= b, allowing for the rounding of statistics computed in floating point.
bool at_most(double a, double b) { return a <= b + 1e-9 * std::max({1.0, std::abs(a), std::abs(b)}); }

// ---------------------------------------------------------------------------------------------------------------
// Evaluations: a main quant-sim run, its results line and its logits

struct Evaluation {
  std::optional<json> line;  // the one results line the run wrote
  std::optional<Logits> logits;
};

// An evaluation command line whose results line and logits go to fresh files on every run.
class EvaluationCommand {
 public:
  EvaluationCommand(std::string dir, std::string args) : dir_(std::move(dir)), args_(std::move(args)) {}

  RunOutput run() const {
    fs::remove(results());
    fs::remove(logits());
    return run_quant_sim_in(
        dir_, args_ + kRunFlags + "--results " + quoted(results()) + " --save-logits " + quoted(logits()));
  }
  Evaluation evaluation() const {
    Evaluation evaluation;
    const std::vector<std::string> lines = split_lines(read_text(results()));
    if (lines.size() == 1) evaluation.line = parse_json(lines[0]);
    evaluation.logits = read_logits(logits());
    return evaluation;
  }

 private:
  std::string results() const { return dir_ + "/fuzz_results.jsonl"; }
  std::string logits() const { return dir_ + "/fuzz_logits.npy"; }

  std::string dir_, args_;
};

// "" when the results line and the logits agree with each other and with the labels of the evaluated images, in
// evaluation order (row i of the logits is image i).
std::string consistent_evaluation(const Evaluation& evaluation, const std::vector<int64_t>& labels) {
  if (!evaluation.line) return "no single results line";
  if (!evaluation.logits) return "no readable logits file";
  const json& line = *evaluation.line;
  for (const char* key : {"top1", "top5"}) {
    const json& value = field(line, key);
    if (!finite_number(value) || value.get<double>() < 0 || value.get<double>() > 100) {
      return fmt::format("{} is {}", key, value.dump());
    }
  }
  const auto images = integer_value(field(line, "images"));
  const auto top1_correct = integer_value(field(line, "top1_correct"));
  if (!images || !top1_correct) return "images or top1_correct is not an integer";
  if (*images != static_cast<int64_t>(labels.size())) {
    return fmt::format("{} images evaluated, {} expected", *images, labels.size());
  }
  const Logits& logits = *evaluation.logits;
  if (logits.rows != *images || logits.cols != kClasses) {
    return fmt::format("logits are {}x{} for {} images", logits.rows, logits.cols, *images);
  }
  if (!logits.finite()) return "non-finite logits";
  int64_t expected_correct = 0;
  for (int64_t i = 0; i < logits.rows; ++i) expected_correct += logits.argmax(i) == labels[static_cast<size_t>(i)];
  if (*top1_correct != expected_correct) {
    return fmt::format("top1_correct {}, but the logits and the expected labels give {}", *top1_correct,
                       expected_correct);
  }
  if (std::abs(line["top1"].get<double>() - 100.0 * expected_correct / *images) > 1e-9) {
    return fmt::format("top1 {} is not {} of {} images", line["top1"].dump(), expected_correct, *images);
  }
  return "";
}

// "" when the run gave exactly the baseline's accuracy and logits.
std::string same_evaluation(const Evaluation& evaluation, const Evaluation& baseline) {
  if (!evaluation.line) return "no single results line";
  if (!evaluation.logits) return "no readable logits file";
  for (const char* key : {"top1", "top5", "top1_correct", "top5_correct", "images"}) {
    if (field(*evaluation.line, key) != field(*baseline.line, key)) {
      return fmt::format("{} {} instead of {}", key, field(*evaluation.line, key).dump(),
                         field(*baseline.line, key).dump());
    }
  }
  if (evaluation.logits->values != baseline.logits->values) return "other logits";
  return "";
}

// The logits row of each image of a baseline run.
using RowsByImage = std::map<std::string, std::vector<float>>;

RowsByImage rows_by_image(const Evaluation& baseline, const std::vector<std::string>& images) {
  RowsByImage rows;
  for (size_t i = 0; i < images.size(); ++i) {
    const float* row = baseline.logits->row(static_cast<int64_t>(i));
    rows[images[i]] = std::vector<float>(row, row + baseline.logits->cols);
  }
  return rows;
}

// The images a run must evaluate, in order, with their labels.
struct ExpectedImages {
  std::vector<std::string> images;
  std::vector<int64_t> labels;
};

// consistent_evaluation, and each row is the baseline's row of the image expected there (the same preprocessing).
std::string matches_images(const Evaluation& evaluation, const ExpectedImages& expected, const RowsByImage& baseline) {
  if (std::string problem = consistent_evaluation(evaluation, expected.labels); !problem.empty()) return problem;
  for (size_t i = 0; i < expected.images.size(); ++i) {
    const float* row = evaluation.logits->row(static_cast<int64_t>(i));
    if (std::vector<float>(row, row + kClasses) != baseline.at(expected.images[i])) {
      return fmt::format("logits row {} is not that of {}", i, expected.images[i]);
    }
  }
  return "";
}

// ---------------------------------------------------------------------------------------------------------------
// Class-order files (synsets.txt, the sidecar's class_order_file): the documented format

struct ClassOrder {
  std::string invalid;  // why the file cannot give labels; empty when it can
  std::vector<std::string> classes;
};

// One class per line, its first word (so "n01440764 tench" is "n01440764"); trailing blank lines are ignored, blank
// lines inside and repeated classes are not; the classes must be exactly the model's (kClasses) and name every
// class folder of the data.
ClassOrder class_order_of(const std::string& text, const std::vector<std::string>& folders) {
  std::vector<std::string> lines = split_lines(text);
  while (!lines.empty() && lines.back().find_first_not_of(" \t\r") == std::string::npos) lines.pop_back();
  ClassOrder order;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string name;
    std::istringstream(lines[i]) >> name;
    if (name.empty()) return {fmt::format("line {} is blank", i + 1), {}};
    if (std::find(order.classes.begin(), order.classes.end(), name) != order.classes.end()) {
      return {fmt::format("class '{}' is listed twice", printable(name)), {}};
    }
    order.classes.push_back(name);
  }
  if (order.classes.size() != static_cast<size_t>(kClasses)) {
    return {fmt::format("{} classes for a model of {}", order.classes.size(), kClasses), {}};
  }
  for (const std::string& folder : folders) {
    if (std::find(order.classes.begin(), order.classes.end(), folder) == order.classes.end()) {
      return {"class folder '" + folder + "' is not listed", {}};
    }
  }
  return order;
}

// Relabels a class-order line as another class folder: a class listed twice.
Relabel class_order_relabel() {
  return [](const std::string& line, Random& rng) -> std::optional<std::string> {
    std::string name;
    std::istringstream(line) >> name;
    if (name.empty()) return std::nullopt;
    const std::string other = rng.pick(kFolders);
    return other == name ? name + "x" : other;
  };
}

// ImageFolder order: classes in class-order order, files sorted; the label of the i-th image is i / kPerClass.
ExpectedImages image_folder_order(const std::vector<std::string>& classes) {
  ExpectedImages expected;
  for (size_t label = 0; label < classes.size(); ++label) {
    for (int k = 0; k < kPerClass; ++k) {
      expected.images.push_back(classes[label] + "/" + std::to_string(k) + ".png");
      expected.labels.push_back(static_cast<int64_t>(label));
    }
  }
  return expected;
}

// ---------------------------------------------------------------------------------------------------------------
// The fixture

class ReaderFuzz : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(std::string("fuzz_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  void must_succeed(const std::string& args) const {
    const RunOutput run = run_quant_sim_in(dir_, args);
    ASSERT_EQ(run.exit_code, 0) << args << "\n" << run.err << run.out;
  }

  Evaluation baseline_of(const EvaluationCommand& command) const {
    const RunOutput run = command.run();
    EXPECT_EQ(run.exit_code, 0) << run.err << run.out;
    Evaluation evaluation = command.evaluation();
    EXPECT_TRUE(evaluation.line && evaluation.logits) << run.err << run.out;
    return evaluation;
  }

  // One command of a reader: its run and how its outcome is judged.
  static ReaderUnderTest::Command command(const std::string& name, std::function<RunOutput()> run,
                                          std::function<Judge(const Expectation&, const std::string&)> judge,
                                          std::function<Expectation(const std::string&)> expect = nullptr) {
    return {name, std::move(run), std::move(judge), std::move(expect)};
  }

  // cnn.pt, images/ (kFolders x kPerClass) and results.jsonl: an FP32 run, a quantized run (dynamic ranges: no
  // statistics to collect) and, with `shards`, the two shards of another; baseline.json written from them.
  void make_results_fixture(bool shards) const {
    save_small_cnn(path("cnn.pt"), kClasses);
    make_image_folder(path("images"), kFolders, kPerClass);
    const std::string common = "--model cnn.pt --data images --resize 0 --crop 0 --results results.jsonl" + kRunFlags;
    must_succeed(common + "--label fp32");
    const std::string quantized = common + "--qtype int4 -qw int4 --label rtn ";
    must_succeed(quantized);
    if (shards) {
      must_succeed(quantized + "--shard 1/2");
      must_succeed(quantized + "--shard 2/2");
    }
    freeze_volatile_fields(path("results.jsonl"));
    must_succeed("gate results.jsonl --baseline baseline.json --write-baseline --tolerance 1");
  }

  // Timings and timestamps set to fixed values: a byte mutation of a given seed then hits the same bytes every run.
  static void freeze_volatile_fields(const std::string& results_file) {
    std::string frozen;
    for (const std::string& text : split_lines(read_text(results_file))) {
      json line = json::parse(text);
      for (auto& [phase, seconds] : line["times"].items()) seconds = 0.5;
      line["images_per_second"] = 100.0;
      line["timestamp"] = "2024-06-13T12:00:00Z";
      frozen += line.dump() + "\n";
    }
    write_text(results_file, frozen);
  }

  std::string dir_;
};

// ---------------------------------------------------------------------------------------------------------------
// Statistics files: <stats-dir>/<arch>/outputs.json, read by -sm use

constexpr const char* kStatFields[] = {"min", "max", "min_batch_mean", "max_batch_mean", "mean", "std", "b"};

// "" when one statistics record (the whole tensor, or one channel) could have been measured.
std::string stats_record_problem(const std::map<std::string, json>& record) {
  std::map<std::string, double> v;
  for (const char* key : kStatFields) {
    const auto it = record.find(key);
    if (it == record.end() || !finite_number(it->second)) {
      return std::string(key) + " is " + (it == record.end() ? "missing" : it->second.dump()) + ", not a finite number";
    }
    v[key] = it->second.get<double>();
  }
  if (!at_most(v["min"], v["max"])) return "min > max";
  if (!at_most(v["min"], v["min_batch_mean"]) || !at_most(v["min_batch_mean"], v["max_batch_mean"]) ||
      !at_most(v["max_batch_mean"], v["max"])) {
    return "batch means outside [min, max] or min_batch_mean > max_batch_mean";
  }
  if (!at_most(v["min"], v["mean"]) || !at_most(v["mean"], v["max"])) return "mean outside [min, max]";
  for (const char* spread : {"std", "b"}) {
    if (v[spread] < 0 || !at_most(v[spread], v["max"] - v["min"])) {
      return std::string(spread) + " negative or wider than max - min";
    }
  }
  return "";
}

// "" when a site's per_tensor and per_channel statistics are complete and each record is possible.
std::string site_stats_problem(const json& site, int64_t channels) {
  const json& per_tensor = field(site, "per_tensor");
  if (!per_tensor.is_object()) return "per_tensor is not an object";
  std::map<std::string, json> record;
  for (const char* key : kStatFields) record[key] = per_tensor.contains(key) ? per_tensor[key] : json();
  if (std::string problem = stats_record_problem(record); !problem.empty()) return "per_tensor: " + problem;
  const json& per_channel = field(site, "per_channel");
  for (const char* key : kStatFields) {
    if (!field(per_channel, key).is_array() || field(per_channel, key).size() != static_cast<size_t>(channels)) {
      return std::string("per_channel.") + key + " is not a list of " + std::to_string(channels);
    }
  }
  for (int64_t c = 0; c < channels; ++c) {
    for (const char* key : kStatFields) record[key] = per_channel[key][static_cast<size_t>(c)];
    if (std::string problem = stats_record_problem(record); !problem.empty()) {
      return "channel " + std::to_string(c) + ": " + problem;
    }
  }
  return "";
}

// "" when one histogram ({"bins", "limit", "counts"} parts) could have been collected for a tensor or channel with
// statistics `record` over `values` values: an even bin count in [2, 2^16], a finite limit covering max(|min|, |max|),
// counts that decode to `bins` integers summing to `values`, and no non-empty bin beyond the extremes by more than a
// bin.
std::string histogram_problem(const json& bins_value, const json& limit_value, const json& counts_value,
                              const std::map<std::string, json>& record, long double values) {
  const auto bins = integer_value(bins_value);
  if (!bins || *bins < 2 || *bins > (1 << 16) || *bins % 2 != 0) return "bins is not an even count in [2, 65536]";
  if (!finite_number(limit_value) || limit_value.get<double>() < 0) return "limit is not a finite number >= 0";
  const double limit = limit_value.get<double>();
  const double min = record.at("min").get<double>(), max = record.at("max").get<double>();
  if (limit < std::max(std::abs(min), std::abs(max)) * (1 - 1e-9)) return "limit below the extremes";
  if (!counts_value.is_string()) return "counts is not a string";
  std::vector<int64_t> counts;
  try {
    counts = quantsim::decode_counts(counts_value.get<std::string>(), static_cast<size_t>(*bins));
  } catch (const std::invalid_argument&) {
    return "counts do not decode";
  }
  long double sum = 0;
  int64_t first = -1, last = -1;
  for (size_t i = 0; i < counts.size(); ++i) {
    sum += static_cast<long double>(counts[i]);
    if (counts[i] != 0) {
      if (first < 0) first = static_cast<int64_t>(i);
      last = static_cast<int64_t>(i);
    }
  }
  if (sum != values) return "counts do not sum to the values seen";
  if (first >= 0 && limit > 0) {
    const double w = limit / static_cast<double>(*bins / 2);
    if (-limit + static_cast<double>(first + 2) * w < min || -limit + static_cast<double>(last - 1) * w > max) {
      return "non-empty bins beyond the extremes";
    }
  }
  return "";
}

// "" when a site's histograms (if it has any) are possible; `images` from the metadata.
std::string site_histograms_problem(const json& site, int64_t channels, int64_t images) {
  if (!site.contains("histogram")) return "";
  long double per_image = 1;  // in long double: a mutated calib_images may be huge
  for (size_t d = 1; d < site["shape"].size(); ++d) per_image *= site["shape"][d].get<int64_t>();
  std::map<std::string, json> record;
  for (const char* key : kStatFields) record[key] = site["per_tensor"][key];
  const json& tensor = field(site, "histogram");
  if (std::string problem = histogram_problem(field(tensor, "bins"), field(tensor, "limit"), field(tensor, "counts"),
                                              record, images * per_image * static_cast<long double>(channels));
      !problem.empty()) {
    return "histogram: " + problem;
  }
  const json& per_channel = field(site, "per_channel_histogram");
  const json& limits = field(per_channel, "limit");
  const json& counts = field(per_channel, "counts");
  if (!limits.is_array() || !counts.is_array() || limits.size() != static_cast<size_t>(channels) ||
      counts.size() != static_cast<size_t>(channels)) {
    return "per_channel_histogram lists are not of the channel count";
  }
  for (int64_t c = 0; c < channels; ++c) {
    for (const char* key : kStatFields) record[key] = site["per_channel"][key][static_cast<size_t>(c)];
    if (std::string problem = histogram_problem(field(per_channel, "bins"), limits[static_cast<size_t>(c)],
                                                counts[static_cast<size_t>(c)], record, images * per_image);
        !problem.empty()) {
      return "channel histogram " + std::to_string(c) + ": " + problem;
    }
  }
  return "";
}

// The statistics the quantizer uses: only these decide the result (metadata such as "created" does not).
json statistics_meaning(const json& document) {
  json sites = json::array();
  for (const json& site : document["sites"]) {
    json kept = json::object();
    for (const char* key : {"name", "shape", "per_tensor", "per_channel"}) kept[key] = site[key];
    for (const char* key : {"histogram", "per_channel_histogram"}) {
      if (site.contains(key)) kept[key] = site[key];
    }
    for (const char* group : {"per_tensor", "per_channel"}) {
      for (auto it = kept[group].begin(); it != kept[group].end();) {
        const bool known = std::find(std::begin(kStatFields), std::end(kStatFields), it.key()) != std::end(kStatFields);
        it = known ? std::next(it) : kept[group].erase(it);
      }
    }
    sites.push_back(kept);
  }
  return sites;
}

std::string statistics_metadata_problem(const json& metadata, const json& original) {
  if (!metadata.is_object()) return "metadata is not an object";
  for (const char* key : {"model_sha256", "model_path", "arch", "act_sites", "calib_data", "tool_version", "created"}) {
    if (!field(metadata, key).is_string()) return std::string("metadata.") + key + " is not a string";
  }
  for (const char* key : {"calib_images", "batch_size"}) {
    const auto value = integer_value(field(metadata, key));
    if (!value || *value < 1) return std::string("metadata.") + key + " is not a positive integer";
  }
  if (metadata["model_sha256"] != original["model_sha256"]) return "statistics of another model (SHA-256)";
  if (metadata["act_sites"] != original["act_sites"]) return "statistics of another --act-sites";
  return "";
}

Expectation statistics_expectation(const json& original, const std::string& text) {
  const std::optional<json> document = parse_json(text);
  if (!document || !document->is_object()) return Expectation::error("not a JSON object");
  if (field(*document, "format") != "quant-sim statistics") return Expectation::error("format marker changed");
  if (field(*document, "schema_version") != 2) return Expectation::error("schema_version is not 2");
  if (std::string problem = statistics_metadata_problem(field(*document, "metadata"), original["metadata"]);
      !problem.empty()) {
    return Expectation::error(problem);
  }
  const json& sites = field(*document, "sites");
  if (!sites.is_array() || sites.size() != original["sites"].size()) return Expectation::error("other site list");
  for (size_t i = 0; i < sites.size(); ++i) {
    const json& expected = original["sites"][i];
    if (field(sites[i], "name") != expected["name"] || field(sites[i], "shape") != expected["shape"]) {
      return Expectation::error(
          fmt::format("site {} is not the model's {} {}", i, expected["name"].dump(), expected["shape"].dump()));
    }
    const int64_t channels = expected["shape"][0].get<int64_t>();
    if (std::string problem = site_stats_problem(sites[i], channels); !problem.empty()) {
      return Expectation::error(fmt::format("site {}: {}", expected["name"].get<std::string>(), problem));
    }
    const int64_t images = (*document)["metadata"]["calib_images"].get<int64_t>();
    if (std::string problem = site_histograms_problem(sites[i], channels, images); !problem.empty()) {
      return Expectation::error(fmt::format("site {}: {}", expected["name"].get<std::string>(), problem));
    }
  }
  if (statistics_meaning(*document) == statistics_meaning(original)) return Expectation::same();
  return Expectation::changed("statistics changed to other possible values");
}

TEST_F(ReaderFuzz, StatisticsFile) {
  save_small_cnn(path("cnn.pt"), kClasses);
  make_image_folder(path("images"), kFolders, kPerClass);
  const std::string common = "--model cnn.pt --data images --stats-dir stats --resize 0 --crop 0";
  must_succeed(common + kRunFlags + "-b 4 -sm collect --results collect.jsonl");  // -b 4: batch means that differ
  const std::string file = path("stats/cnn/outputs.json");
  json original = json::parse(read_text(file));
  original["metadata"]["created"] = "2024-06-13T12:00:00Z";  // the same bytes on every run
  write_text(file, original.dump(1) + "\n");

  // Laplace clipping and per-channel weights: the run reads the extremes, the batch means, the mean and b.
  const EvaluationCommand use(dir_, common + " -sm use --qtype int4 -qw int4 -c laplace -pcq_w");
  const Evaluation baseline = baseline_of(use);
  ASSERT_FALSE(HasFailure());
  const std::vector<int64_t> labels = image_folder_order(kFolders).labels;

  fuzz_reader({"StatisticsFile",
               file,
               25,
               [](const std::string& text, Random& rng, int index) { return mutate_json_file(text, rng, index, 1); },
               [&](const std::string& text) { return statistics_expectation(original, text); },
               {command(
                   "-sm use", [&] { return use.run(); },
                   [&](const Expectation&, const std::string&) {
                     return Judge{"outputs.json",
                                  {0},
                                  [&](const RunOutput&) { return same_evaluation(use.evaluation(), baseline); },
                                  [&](const RunOutput&) { return consistent_evaluation(use.evaluation(), labels); }};
                   })}});
}

// ---------------------------------------------------------------------------------------------------------------
// Model sidecars: <model>.json beside <model>.pt (preprocessing, class count, class-order file)

struct SidecarMeaning {
  std::string invalid;               // why the sidecar is refused; empty when it is valid
  json preprocess;                   // the preprocessing in effect
  std::vector<std::string> classes;  // the class order in effect
};

// Sidecar class_order_file: an absolute path, or a path tried against the data folder, the model's folder, and
// each of their parents (as documented in model_sidecar.h).
std::string resolve_class_order(const std::string& name, const std::vector<std::string>& anchors) {
  if (name.empty()) return "";
  const fs::path given(name);
  std::error_code ec;
  if (given.is_absolute()) return fs::is_regular_file(given, ec) ? name : "";
  for (const std::string& anchor : anchors) {
    fs::path dir = fs::absolute(anchor).lexically_normal();
    if (!dir.has_filename()) dir = dir.parent_path();
    while (true) {
      if (fs::is_regular_file(dir / given, ec)) return (dir / given).string();
      if (!dir.has_parent_path() || dir.parent_path() == dir) break;
      dir = dir.parent_path();
    }
  }
  return "";
}

// A resize or crop size: absent keeps the default, null is none (0), else a non-negative int.
std::optional<int64_t> size_setting(const json& preprocess, const char* key, int64_t fallback) {
  if (!preprocess.contains(key)) return fallback;
  const json& value = preprocess[key];
  if (value.is_null()) return 0;
  const auto size = integer_value(value);
  if (!size || *size < 0 || *size > std::numeric_limits<int>::max()) return std::nullopt;
  return size;
}

// Mean or std: absent or null keeps the default, else one finite number or a list of three.
std::optional<json> triple_setting(const json& preprocess, const char* key, const json& fallback) {
  if (!preprocess.contains(key) || preprocess[key].is_null()) return fallback;
  const json& value = preprocess[key];
  if (finite_number(value)) return json::array({value, value, value});
  if (!value.is_array() || value.size() != 3) return std::nullopt;
  for (const json& number : value) {
    if (!finite_number(number)) return std::nullopt;
  }
  return value;
}

SidecarMeaning sidecar_preprocess(const json& document) {
  SidecarMeaning meaning;
  const json& p = document.contains("preprocess") ? document["preprocess"] : json::object();
  if (!p.is_object()) return {"preprocess is not an object", {}, {}};
  const auto resize = size_setting(p, "resize_shorter_side", 256);
  const auto crop = size_setting(p, "center_crop", 224);
  if (!resize || !crop) return {"a size is not a non-negative integer or null", {}, {}};
  const json& interpolation = field(p, "interpolation");
  if (!interpolation.is_null() && interpolation != "bilinear" && interpolation != "nearest") {
    return {"interpolation is not bilinear or nearest", {}, {}};
  }
  const auto mean = triple_setting(p, "mean", json::array({0.485, 0.456, 0.406}));
  const auto std = triple_setting(p, "std", json::array({0.229, 0.224, 0.225}));
  if (!mean || !std) return {"mean or std is not a finite number or a list of 3", {}, {}};
  for (const json& s : *std) {
    if (s.get<double>() <= 0) return {"std is not positive", {}, {}};
  }
  meaning.preprocess = {{"resize", *resize},
                        {"crop", *crop},
                        {"mean", *mean},
                        {"std", *std},
                        {"interpolation", interpolation.is_null() ? json("bilinear") : interpolation}};
  return meaning;
}

// What a sidecar means for a run of models/cnn.pt on images/ (no synsets.txt there: without a class-order file the
// sorted folders give the labels).
SidecarMeaning sidecar_meaning(const std::string& text, const std::string& model_dir, const std::string& data_dir) {
  const std::optional<json> document = parse_json(text);
  if (!document || !document->is_object()) return {"not a JSON object", {}, {}};
  SidecarMeaning meaning = sidecar_preprocess(*document);
  if (!meaning.invalid.empty()) return meaning;
  meaning.classes = kFolders;
  if (!document->contains("output")) return meaning;
  const json& output = (*document)["output"];
  if (!output.is_object()) return {"output is not an object", {}, {}};
  const json& classes = field(output, "num_classes");
  if (!classes.is_null() && integer_value(classes) != std::optional<int64_t>(kClasses)) {
    return {"num_classes is not the model's " + std::to_string(kClasses), {}, {}};
  }
  const json& order_file = field(output, "class_order_file");
  if (order_file.is_null()) return meaning;
  if (!order_file.is_string()) return {"class_order_file is not a string", {}, {}};
  const std::string resolved = resolve_class_order(order_file.get<std::string>(), {data_dir, model_dir});
  if (resolved.empty()) return {"class_order_file " + order_file.dump() + " names no file", {}, {}};
  const ClassOrder order = class_order_of(read_text(resolved), kFolders);
  if (!order.invalid.empty()) return {"class_order_file " + resolved + ": " + order.invalid, {}, {}};
  meaning.classes = order.classes;
  return meaning;
}

TEST_F(ReaderFuzz, ModelSidecar) {
  fs::create_directories(path("models"));
  save_small_cnn(path("models/cnn.pt"), kClasses);
  make_image_folder(path("images"), kFolders, kPerClass);
  write_text(path("models/fuzz_class_order.txt"), "c\na\nd\nb\n");
  // Every value differs from the defaults, so that one silently ignored changes the result.
  write_text(path("models/cnn.json"), R"({
  "description": "sidecar of the fuzz fixture",
  "preprocess": {"resize_shorter_side": 12, "center_crop": 10, "interpolation": "nearest",
                 "mean": [0.4, 0.5, 0.6], "std": [0.2, 0.25, 0.3]},
  "output": {"num_classes": 4, "class_order_file": "fuzz_class_order.txt"}
})");
  const std::string file = path("models/cnn.json"), model_dir = path("models"), data_dir = path("images");
  const SidecarMeaning original = sidecar_meaning(read_text(file), model_dir, data_dir);
  ASSERT_EQ(original.invalid, "");

  const EvaluationCommand run(dir_, "--model " + quoted(path("models/cnn.pt")) + " --data " + quoted(data_dir));
  const Evaluation baseline = baseline_of(run);
  ASSERT_FALSE(HasFailure());
  const RowsByImage rows = rows_by_image(baseline, image_folder_order(original.classes).images);

  const auto expect = [&](const std::string& text) {
    const SidecarMeaning meaning = sidecar_meaning(text, model_dir, data_dir);
    if (!meaning.invalid.empty()) return Expectation::error(meaning.invalid);
    if (meaning.preprocess == original.preprocess && meaning.classes == original.classes) return Expectation::same();
    return Expectation::changed("preprocessing or class order changed to other valid values");
  };
  // A changed class order keeps each image's logits (same preprocessing) and moves its label; other preprocessing
  // changes the logits, so only their agreement with the labels is checked.
  const auto changed_result = [&](const std::string& text) {
    const SidecarMeaning meaning = sidecar_meaning(text, model_dir, data_dir);
    const ExpectedImages expected = image_folder_order(meaning.classes);
    if (meaning.preprocess == original.preprocess) return matches_images(run.evaluation(), expected, rows);
    return consistent_evaluation(run.evaluation(), expected.labels);
  };
  fuzz_reader({"ModelSidecar",
               file,
               25,
               [](const std::string& text, Random& rng, int index) { return mutate_json_file(text, rng, index, 2); },
               expect,
               {command(
                   "evaluation", [&] { return run.run(); },
                   [&](const Expectation&, const std::string& text) {
                     return Judge{"cnn.json",
                                  {0},
                                  [&](const RunOutput&) { return same_evaluation(run.evaluation(), baseline); },
                                  [&, text](const RunOutput&) { return changed_result(text); }};
                   })}});
}

// ---------------------------------------------------------------------------------------------------------------
// Results files: results.jsonl, read by `quant-sim merge`, `report` and `gate`

// The non-blank lines of a results file as JSON, or why one is not a JSON object.
struct ResultsLines {
  std::string invalid;
  std::vector<json> lines;
};

// Whether `line` is what a write cut short leaves: a JSON syntax error (not a number out of range, not a nesting
// beyond the readers' bound), which readers skip with a warning when it is the last line and has no newline.
bool torn_json_line(const std::string& line) {
  if (!quantsim::json_nesting_problem(line).empty()) return false;
  try {
    parse_shallow<json>(line);
    return false;
  } catch (const json::parse_error&) {
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

ResultsLines results_lines(const std::string& text) {
  ResultsLines results;
  const std::vector<std::string> lines = split_lines(text);
  const bool unterminated = !text.empty() && text.back() != '\n';
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find_first_not_of(" \t\r") == std::string::npos) continue;
    if (unterminated && i + 1 == lines.size() && torn_json_line(lines[i])) break;  // skipped with a warning
    std::optional<json> line = parse_json(lines[i]);
    if (!line || !line->is_object()) return {fmt::format("line {} is not a JSON object", i + 1), {}};
    results.lines.push_back(std::move(*line));
  }
  return results;
}

// A config.shard "K/N" (1 <= K <= N), as (K, N).
std::optional<std::pair<int64_t, int64_t>> shard_of_line(const json& line) {
  const json& shard = field(field(line, "config"), "shard");
  std::smatch match;
  const std::string text = shard.is_string() ? shard.get<std::string>() : "";
  if (!std::regex_match(text, match, std::regex("([0-9]{1,9})/([0-9]{1,9})"))) return std::nullopt;
  const int64_t k = std::stoll(match[1]), n = std::stoll(match[2]);
  if (k < 1 || k > n) return std::nullopt;
  return std::make_pair(k, n);
}

bool is_shard(const json& line) { return !field(field(line, "config"), "shard").is_null(); }

// "" when every line has a config object and a valid or absent config.shard: every command reads them.
std::string config_problem(const std::vector<json>& lines) {
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!field(lines[i], "config").is_object()) return fmt::format("line {}: config is not an object", i + 1);
    if (is_shard(lines[i]) && !shard_of_line(lines[i])) return fmt::format("line {}: config.shard is not K/N", i + 1);
  }
  return "";
}

// "" when a line's accuracy is possible and its counts agree with its percentages.
std::string accuracy_problem(const json& line) {
  if (!is_non_empty_string(field(line, "model_name"))) return "model_name is not a non-empty string";
  const json& precision = field(line, "precision");
  if (!precision.is_string() || !std::regex_match(precision.get<std::string>(), std::regex("FP32|W[0-9]+A[0-9]+"))) {
    return "precision is not FP32 or WxAy";
  }
  if (!field(line, "mode").is_string()) return "mode is not a string";
  const auto images = integer_value(field(line, "images"));
  const auto top1 = integer_value(field(line, "top1_correct"));
  const auto top5 = integer_value(field(line, "top5_correct"));
  if (!images || *images < 1) return "images is not a positive integer";
  if (!top1 || !top5 || *top1 < 0 || *top1 > *top5 || *top5 > *images) {
    return "top1_correct and top5_correct are not counts with 0 <= top1 <= top5 <= images";
  }
  for (const auto& [key, correct] : {std::make_pair("top1", *top1), std::make_pair("top5", *top5)}) {
    const json& percent = field(line, key);
    if (!finite_number(percent) || std::abs(percent.get<double>() - 100.0 * correct / *images) > 1e-9) {
      return fmt::format("{} {} is not {} of {} images", key, percent.dump(), correct, *images);
    }
  }
  return "";
}

const char* const kMethodKeys[] = {"label", "act_sites", "qtype", "pcq_w",         "pcq_a",   "baa",
                                   "baw",   "bcw",       "vcw",   "weight_method", "clipping"};

// "" when the config keys that name a report row have the types a results line gives them.
std::string method_keys_problem(const json& line) {
  const json& config = line["config"];
  for (const char* key : {"pcq_w", "pcq_a", "baa", "baw", "bcw", "vcw"}) {
    if (config.contains(key) && !config[key].is_boolean()) return std::string("config.") + key + " is not a boolean";
  }
  for (const char* key : {"label", "qtype", "weight_method", "clipping"}) {
    if (config.contains(key) && !config[key].is_string() && !config[key].is_null()) {
      return std::string("config.") + key + " is not a string";
    }
  }
  const json& sites = field(config, "act_sites");
  if (!sites.is_null() && sites != "outputs" && sites != "inputs") return "config.act_sites is not outputs or inputs";
  return "";
}

// What the report and the gate read of the unsharded lines: their cells and accuracies.
json report_meaning(const std::vector<json>& lines) {
  json meaning = json::array();
  for (const json& line : lines) {
    if (is_shard(line)) continue;
    json kept = json::object();
    for (const char* key : {"model_name", "precision", "top1", "images", "mode"}) kept[key] = field(line, key);
    for (const char* key : kMethodKeys) kept["config"][key] = field(line["config"], key);
    meaning.push_back(kept);
  }
  return meaning;
}

Expectation report_expectation(const std::vector<json>& original, const std::string& text) {
  const ResultsLines results = results_lines(text);
  if (!results.invalid.empty()) return Expectation::error(results.invalid);
  if (std::string problem = config_problem(results.lines); !problem.empty()) return Expectation::error(problem);
  for (size_t i = 0; i < results.lines.size(); ++i) {
    if (is_shard(results.lines[i])) continue;
    std::string problem = accuracy_problem(results.lines[i]);
    if (problem.empty()) problem = method_keys_problem(results.lines[i]);
    if (!problem.empty()) return Expectation::error(fmt::format("line {}: {}", i + 1, problem));
  }
  if (report_meaning(results.lines) == report_meaning(original)) return Expectation::same();
  return Expectation::changed("other cells or accuracies");
}

// The shards of one run: what identifies the run (config without the per-shard keys, model, data, shard count).
json run_key(const json& line) {
  json config = line["config"];
  for (const char* per_shard : {"shard", "results", "save_logits", "layer_report"}) config.erase(per_shard);
  return {{"config", config},
          {"model_sha256", line["model_sha256"]},
          {"data", line["data"]},
          {"shards", shard_of_line(line)->second}};
}

// The merged lines `quant-sim merge` must write, or why it must refuse.
struct ExpectedMerge {
  std::string invalid;
  std::vector<json> merged;  // images, top1_correct, top5_correct of each merged run, in order of first shard
  json meaning;              // what merge reads
};

ExpectedMerge expected_merge(const std::string& text) {
  const ResultsLines results = results_lines(text);
  if (!results.invalid.empty()) return {results.invalid, {}, {}};
  if (std::string problem = config_problem(results.lines); !problem.empty()) return {problem, {}, {}};
  std::vector<json> keys;
  std::vector<std::vector<const json*>> runs;
  ExpectedMerge expected;
  expected.meaning = json::array();
  for (size_t i = 0; i < results.lines.size(); ++i) {
    const json& line = results.lines[i];
    if (!is_shard(line)) continue;
    std::string problem = accuracy_problem(line);
    if (problem.empty() && (!field(line, "model_sha256").is_string() || !field(line, "data").is_string())) {
      problem = "model_sha256 or data is not a string";
    }
    if (problem.empty() && line.contains("bad_images") && integer_value(line["bad_images"]).value_or(-1) < 0) {
      problem = "bad_images is not a count";
    }
    if (!problem.empty()) return {fmt::format("line {}: {}", i + 1, problem), {}, {}};
    const json key = run_key(line);
    const size_t run = static_cast<size_t>(std::find(keys.begin(), keys.end(), key) - keys.begin());
    if (run == keys.size()) {
      keys.push_back(key);
      runs.emplace_back();
    }
    runs[run].push_back(&line);
    json kept = key;
    for (const char* field_name :
         {"images", "top1_correct", "top5_correct", "bad_images", "model_name", "precision", "mode"}) {
      kept[field_name] = field(line, field_name);
    }
    kept["k"] = shard_of_line(line)->first;
    expected.meaning.push_back(kept);
  }
  for (const auto& shards : runs) {
    const int64_t count = shard_of_line(*shards.front())->second;
    std::set<int64_t> seen;
    for (const json* shard : shards) seen.insert(shard_of_line(*shard)->first);
    if (seen.size() != shards.size() || static_cast<int64_t>(shards.size()) != count) {
      return {"a sharded run misses a shard or has one twice", {}, {}};
    }
    const bool counts_bad = shards.front()->contains("bad_images");
    json merged = {{"images", 0}, {"top1_correct", 0}, {"top5_correct", 0}};
    for (const json* shard : shards) {
      if (counts_bad && !shard->contains("bad_images")) return {"a shard has no bad_images", {}, {}};
      for (const char* key : {"images", "top1_correct", "top5_correct"}) {
        merged[key] = merged[key].get<int64_t>() + (*shard)[key].get<int64_t>();
      }
    }
    expected.merged.push_back(merged);
  }
  return expected;
}

// "" when merged.jsonl holds exactly the expected merged lines.
std::string merge_result_problem(const std::string& merged_file, const ExpectedMerge& expected) {
  const ResultsLines written = results_lines(read_text(merged_file));
  if (!written.invalid.empty()) return "merged file: " + written.invalid;
  if (written.lines.size() != expected.merged.size()) {
    return fmt::format("{} merged lines, {} expected", written.lines.size(), expected.merged.size());
  }
  for (size_t i = 0; i < written.lines.size(); ++i) {
    const json& line = written.lines[i];
    for (const char* key : {"images", "top1_correct", "top5_correct"}) {
      if (field(line, key) != expected.merged[i][key]) {
        return fmt::format("merged line {}: {} {} instead of {}", i + 1, key, field(line, key).dump(),
                           expected.merged[i][key].dump());
      }
    }
    if (std::string problem = accuracy_problem(line); !problem.empty()) {
      return fmt::format("merged line {}: {}", i + 1, problem);
    }
  }
  return "";
}

// A report row's name when the line names its method (config.label), as `quant-sim report` prints it.
std::optional<std::string> labelled_method(const json& line) {
  if (line["precision"] == "FP32") return "FP32";
  const json& label = field(line["config"], "label");
  if (!is_non_empty_string(label)) return std::nullopt;
  const bool dynamic = field(line["config"], "qtype") != "f32" && field(line, "mode") == "dynamic";
  return line["precision"].get<std::string>() + " " + label.get<std::string>() + (dynamic ? " [dynamic]" : "");
}

// Gate entries: model, method, top1, tolerance, images (optional).
struct BaselineEntry {
  std::string model, method;
  double top1 = 0, tolerance = 0;
  std::optional<int64_t> images;
};

struct MeasuredCell {
  double top1 = 0;
  int64_t images = 0;
};
using Cells = std::map<std::pair<std::string, std::string>, MeasuredCell>;

// The verdict counts of a gate run: DROPPED, MISSING, OTHER IMAGES.
std::map<std::string, int> gate_verdicts(const std::vector<BaselineEntry>& entries, const Cells& cells) {
  std::map<std::string, int> verdicts;
  for (const BaselineEntry& entry : entries) {
    const auto it = cells.find({entry.model, entry.method});
    if (it == cells.end()) {
      ++verdicts["MISSING"];
    } else if (entry.images && *entry.images != it->second.images) {
      ++verdicts["OTHER IMAGES"];
    } else if (entry.top1 - it->second.top1 > entry.tolerance + 1e-9) {
      ++verdicts["DROPPED"];
    } else {
      ++verdicts["ok"];
    }
  }
  return verdicts;
}

// The verdict counts a gate run printed (the last column of each table row).
std::map<std::string, int> printed_verdicts(const std::string& out) {
  static const std::regex kVerdict(".*  (ok|DROPPED|MISSING|OTHER IMAGES)( \\(.*\\))?");
  std::map<std::string, int> verdicts;
  std::smatch match;
  for (const std::string& line : split_lines(out)) {
    if (!starts_with(line, "accuracy gate:") && std::regex_match(line, match, kVerdict)) ++verdicts[match[1]];
  }
  return verdicts;
}

// "" when the gate's exit code and printed verdicts are those the entries and the measured cells give.
std::string gate_result_problem(const RunOutput& run, const std::vector<BaselineEntry>& entries, const Cells& cells) {
  const std::map<std::string, int> expected = gate_verdicts(entries, cells);
  const int expected_exit = expected.size() == 1 && expected.count("ok") == 1 ? 0 : 3;
  if (run.exit_code != expected_exit) return fmt::format("exit {}, expected {}", run.exit_code, expected_exit);
  if (printed_verdicts(run.out) != expected) return "printed verdicts are not the expected ones";
  return "";
}

std::vector<BaselineEntry> baseline_entries(const json& baseline) {
  std::vector<BaselineEntry> entries;
  for (const json& raw : baseline["entries"]) {
    BaselineEntry entry{raw["model"], raw["method"], raw["top1"], raw["tolerance"], std::nullopt};
    if (raw.contains("images")) entry.images = raw["images"].get<int64_t>();
    entries.push_back(entry);
  }
  return entries;
}

// The report's cells of the unsharded lines, last line winning; nullopt when a line's row name needs the method
// flags rather than its label.
std::optional<Cells> measured_cells(const std::vector<json>& lines) {
  Cells cells;
  for (const json& line : lines) {
    if (is_shard(line)) continue;
    const std::optional<std::string> method = labelled_method(line);
    if (!method) return std::nullopt;
    cells[{line["model_name"].get<std::string>(), *method}] = {line["top1"].get<double>(),
                                                               line["images"].get<int64_t>()};
  }
  return cells;
}

// "" when every number in a report's CSV cells is the top-1 of an unsharded line of the file.
std::string report_table_problem(const std::string& csv, const std::vector<json>& lines) {
  std::set<std::string> top1s;
  for (const json& line : lines) {
    if (!is_shard(line)) top1s.insert(fmt::format("{:.2f}", line["top1"].get<double>()));
  }
  const std::vector<std::string> rows = split_lines(csv);
  if (rows.empty() || !starts_with(rows[0], "method")) return "no CSV header";
  static const std::regex kCell(",(-?[0-9][0-9.e+-]*|nan|inf|-inf)(?=,|$)");
  for (size_t r = 1; r < rows.size(); ++r) {
    for (auto it = std::sregex_iterator(rows[r].begin(), rows[r].end(), kCell); it != std::sregex_iterator(); ++it) {
      if (top1s.count((*it)[1]) == 0) return "cell " + (*it)[1].str() + " is no line's top-1";
    }
  }
  return "";
}

// Mutant `index` of a results file: byte-level, line-level, or the JSON structure of one line, by kind.
Mutant mutate_results_file(const std::string& text, Random& rng, int index) {
  const size_t kind = static_cast<size_t>(index) % (kByteKinds + kLineKinds + kJsonKinds);
  if (kind < kByteKinds + kLineKinds) {
    return mutate_line_file(text, rng, index, [](const std::string&, Random&) {
      return std::optional<std::string>();  // results lines have no label to change
    });
  }
  std::vector<std::string> lines = split_lines(text);
  const size_t k = rng.below(lines.size());
  static const std::vector<std::string> kRead = {
      "/top1",       "/top5",         "/images",       "/top1_correct",     "/top5_correct",
      "/model_name", "/precision",    "/mode",         "/model_sha256",     "/data",
      "/bad_images", "/config/shard", "/config/label", "/config/act_sites", "/config/qtype"};
  const Mutant mutant = mutate_json(lines[k], rng, -1, kind - kByteKinds - kLineKinds, kRead);
  lines[k] = mutant.text;
  return {"line " + std::to_string(k + 1) + ": " + mutant.description, join_lines(lines)};
}

TEST_F(ReaderFuzz, ResultsFile) {
  make_results_fixture(true);
  ASSERT_FALSE(HasFailure());
  const std::string file = path("results.jsonl");
  const std::vector<json> original = results_lines(read_text(file)).lines;
  ASSERT_EQ(original.size(), 4u);
  const std::vector<BaselineEntry> entries = baseline_entries(json::parse(read_text(path("baseline.json"))));
  const RunOutput original_report = run_quant_sim_in(dir_, "report results.jsonl --format csv");
  const RunOutput original_gate = run_quant_sim_in(dir_, "gate results.jsonl --baseline baseline.json");
  ASSERT_EQ(original_report.exit_code, 0) << original_report.err;
  ASSERT_EQ(original_gate.exit_code, 0) << original_gate.err << original_gate.out;

  const auto same_stdout = [](const RunOutput& original_run) {
    return [&original_run](const RunOutput& run) {
      return run.out == original_run.out ? "" : "output differs:\n" + printable(run.out, 300);
    };
  };
  const auto report_expect = [&](const std::string& text) { return report_expectation(original, text); };
  const json original_merge = expected_merge(read_text(file)).meaning;
  const auto merge_expect = [&](const std::string& text) {
    const ExpectedMerge expected = expected_merge(text);
    if (!expected.invalid.empty()) return Expectation::error(expected.invalid);
    if (expected.meaning == original_merge) return Expectation::same();
    return Expectation::changed("other shard lines");
  };

  const auto report = command(
      "report", [&] { return run_quant_sim_in(dir_, "report results.jsonl --format csv"); },
      [&](const Expectation&, const std::string& text) {
        return Judge{"results.jsonl", {0}, same_stdout(original_report), [text](const RunOutput& run) {
                       return report_table_problem(run.out, results_lines(text).lines);
                     }};
      },
      report_expect);
  const auto merge = command(
      "merge",
      [&] {
        fs::remove(path("merged.jsonl"));
        return run_quant_sim_in(dir_, "merge results.jsonl --out merged.jsonl");
      },
      [&](const Expectation&, const std::string& text) {
        const auto check = [this, text](const RunOutput&) {
          return merge_result_problem(path("merged.jsonl"), expected_merge(text));
        };
        return Judge{"results.jsonl", {0}, check, check};
      },
      merge_expect);
  const auto gate = command(
      "gate", [&] { return run_quant_sim_in(dir_, "gate results.jsonl --baseline baseline.json"); },
      [&](const Expectation&, const std::string& text) {
        return Judge{"results.jsonl",
                     {0, 3},
                     [&](const RunOutput& run) {
                       if (run.exit_code != 0) return std::string("the gate failed on results that mean the same");
                       return same_stdout(original_gate)(run);
                     },
                     [&, text](const RunOutput& run) {
                       const std::optional<Cells> cells = measured_cells(results_lines(text).lines);
                       return cells ? gate_result_problem(run, entries, *cells) : std::string();
                     }};
      },
      report_expect);
  fuzz_reader({"ResultsFile", file, 27, mutate_results_file, report_expect, {report, merge, gate}});
}

// ---------------------------------------------------------------------------------------------------------------
// Gate baselines: {"entries": [{model, method, top1, tolerance, images}]}, read by `quant-sim gate --baseline`

struct BaselineReading {
  std::string invalid;
  std::vector<BaselineEntry> entries;
};

BaselineReading baseline_reading(const std::string& text) {
  const std::optional<json> document = parse_json(text);
  if (!document || !document->is_object()) return {"not a JSON object", {}};
  const json& entries = field(*document, "entries");
  if (!entries.is_array() || entries.empty()) return {"entries is not a non-empty list", {}};
  BaselineReading reading;
  std::set<std::pair<std::string, std::string>> cells;
  for (size_t i = 0; i < entries.size(); ++i) {
    const json& raw = entries[i];
    const std::string where = fmt::format("entries[{}]: ", i);
    if (!field(raw, "model").is_string() || !field(raw, "method").is_string()) {
      return {where + "model or method is not a string", {}};
    }
    const json& top1 = field(raw, "top1");
    const json& tolerance = field(raw, "tolerance");
    if (!finite_number(top1) || top1.get<double>() < 0 || top1.get<double>() > 100) return {where + "top1", {}};
    if (!finite_number(tolerance) || tolerance.get<double>() < 0) return {where + "tolerance", {}};
    BaselineEntry entry{raw["model"], raw["method"], top1, tolerance, std::nullopt};
    if (raw.contains("images")) {
      entry.images = integer_value(raw["images"]);
      if (!entry.images || *entry.images < 1) return {where + "images is not a positive integer", {}};
    }
    if (!cells.insert({entry.model, entry.method}).second) return {where + "the same cell twice", {}};
    reading.entries.push_back(entry);
  }
  return reading;
}

bool same_entries(const std::vector<BaselineEntry>& a, const std::vector<BaselineEntry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].model != b[i].model || a[i].method != b[i].method || a[i].top1 != b[i].top1 ||
        a[i].tolerance != b[i].tolerance || a[i].images != b[i].images) {
      return false;
    }
  }
  return true;
}

TEST_F(ReaderFuzz, GateBaseline) {
  make_results_fixture(false);
  ASSERT_FALSE(HasFailure());
  const std::string file = path("baseline.json");
  const BaselineReading original = baseline_reading(read_text(file));
  ASSERT_EQ(original.invalid, "");
  const std::optional<Cells> cells = measured_cells(results_lines(read_text(path("results.jsonl"))).lines);
  ASSERT_TRUE(cells);
  const RunOutput original_gate = run_quant_sim_in(dir_, "gate results.jsonl --baseline baseline.json");
  ASSERT_EQ(original_gate.exit_code, 0) << original_gate.err << original_gate.out;

  const auto expect = [&](const std::string& text) {
    const BaselineReading reading = baseline_reading(text);
    if (!reading.invalid.empty()) return Expectation::error(reading.invalid);
    if (same_entries(reading.entries, original.entries)) return Expectation::same();
    return Expectation::changed("other entries");
  };
  fuzz_reader({"GateBaseline",
               file,
               20,
               [](const std::string& text, Random& rng, int index) {
                 return mutate_json_file(text, rng, index, 2, {"/entries"});
               },
               expect,
               {command(
                   "gate", [&] { return run_quant_sim_in(dir_, "gate results.jsonl --baseline baseline.json"); },
                   [&](const Expectation&, const std::string& text) {
                     return Judge{"baseline.json",
                                  {0, 3},
                                  [&](const RunOutput& run) {
                                    return run.exit_code == 0 && run.out == original_gate.out
                                               ? ""
                                               : "the gate's verdict or table differs";
                                  },
                                  [&, text](const RunOutput& run) {
                                    return gate_result_problem(run, baseline_reading(text).entries, *cells);
                                  }};
                   })}});
}

// ---------------------------------------------------------------------------------------------------------------
// Sweep files, read by `quant-sim sweep FILE --list`

const std::set<std::string> kSweepKeys = {"models",         "fp32",   "weight_bits", "act_bits", "methods",
                                          "configurations", "common", "stats_dir",   "results",  "description"};
const std::set<std::string> kSweepOwnedFlags = {
    "model",     "a",     "arch", "models-dir", "data",  "calib-data",  "stats-dir", "results", "label",
    "sweep-key", "qtype", "qw",   "qweight",    "shard", "save-logits", "h",         "help",    "version"};
const std::regex kSweepName("[A-Za-z0-9._+-]+");

// "--flag=value" -> "flag"; "-pcq_w" -> "pcq_w"; a value or a negative number -> "".
std::string flag_name(const std::string& word) {
  if (word.size() < 2 || word[0] != '-' || std::isdigit(static_cast<unsigned char>(word[1])) || word[1] == '.') {
    return "";
  }
  const size_t start = word[1] == '-' ? 2 : 1;
  const size_t equals = word.find('=');
  return word.substr(start, equals == std::string::npos ? std::string::npos : equals - start);
}

// "" when a flag list is a list of strings and numbers that leaves the sweep's own flags alone.
std::string flag_list_problem(const Json& list, bool method) {
  if (!list.is_array()) return "not a list";
  for (const Json& word : list) {
    if (!word.is_string() && !word.is_number()) return word.dump() + " is not a string or a number";
    const std::string name = flag_name(word.is_string() ? word.get<std::string>() : word.dump());
    if (kSweepOwnedFlags.count(name) || (!method && name == "sm")) return "sets the sweep's own flag " + name;
  }
  return "";
}

bool bit_width(const Json& value) {
  const auto bits = integer_value(value);
  return bits && (*bits == 32 || (*bits >= 1 && *bits <= 16));
}

struct SweepReading {
  std::string invalid;
  std::vector<std::string> keys;  // "name/FP32/fp32", "name/W4A4/rtn", ... in plan order (without the hash)
  std::string results;            // the resolved results path, empty when it depends on the environment
};

// The grid or the configurations list: "W{w}A{a}/method" in plan order.
std::string sweep_cells(const Json& file, std::vector<std::string>* cells) {
  const Json& methods = file.contains("methods") ? file["methods"] : Json::object();
  if (file.contains("configurations")) {
    if (file.contains("weight_bits") || file.contains("act_bits")) return "configurations and a grid";
    if (!file["configurations"].is_array()) return "configurations is not a list";
    for (const Json& raw : file["configurations"]) {
      if (!raw.is_object()) return "a configuration is not an object";
      for (const auto& item : raw.items()) {
        if (item.key() != "method" && item.key() != "weight_bits" && item.key() != "act_bits") return "unknown key";
      }
      if (!raw.contains("weight_bits") || !raw.contains("act_bits") || !bit_width(raw["weight_bits"]) ||
          !bit_width(raw["act_bits"])) {
        return "a configuration's bits";
      }
      if (raw["weight_bits"] == 32 && raw["act_bits"] == 32) return "W32A32";
      if (!raw.contains("method") || !raw["method"].is_string() ||
          !methods.contains(raw["method"].get<std::string>())) {
        return "a configuration's method";
      }
      cells->push_back(fmt::format("W{}A{}/{}", raw["weight_bits"].dump(), raw["act_bits"].dump(),
                                   raw["method"].get<std::string>()));
    }
    return "";
  }
  if (methods.empty()) return "";
  for (const char* key : {"weight_bits", "act_bits"}) {
    if (!file.contains(key) || !file[key].is_array() || file[key].empty()) return std::string(key) + " is not a list";
    for (const Json& bits : file[key]) {
      if (!bit_width(bits)) return std::string(key) + " holds " + bits.dump();
    }
  }
  for (const Json& w : file["weight_bits"]) {
    for (const Json& a : file["act_bits"]) {
      if (w == 32 && a == 32) return "W32A32";
      for (const auto& method : methods.items())
        cells->push_back(fmt::format("W{}A{}/{}", w.dump(), a.dump(), method.key()));
    }
  }
  return "";
}

std::string sweep_models_problem(const Json& file) {
  if (!file.contains("models") || !file["models"].is_array() || file["models"].empty()) return "models";
  std::set<std::string> names;
  for (const Json& model : file["models"]) {
    if (!model.is_object()) return "a model entry is not an object";
    for (const auto& item : model.items()) {
      if (item.key() != "name" && item.key() != "model" && item.key() != "data" && item.key() != "calib_data" &&
          item.key() != "args") {
        return "a model entry has an unknown key";
      }
    }
    for (const char* key : {"name", "model", "data"}) {
      if (!model.contains(key) || !model[key].is_string() || model[key].get<std::string>().empty()) {
        return std::string("a model's ") + key;
      }
    }
    if (model.contains("calib_data") && (!model["calib_data"].is_string() || model["calib_data"] == "")) {
      return "a model's calib_data";
    }
    const std::string name = model["name"];
    if (!std::regex_match(name, kSweepName) || !names.insert(name).second) return "a model's name";
    if (model.contains("args") && !flag_list_problem(model["args"], false).empty()) return "a model's args";
  }
  return "";
}

std::string sweep_file_problem(const Json& file) {
  if (!file.is_object()) return "not an object";
  for (const auto& item : file.items()) {
    if (!kSweepKeys.count(item.key())) return "unknown key " + item.key();
  }
  if (std::string problem = sweep_models_problem(file); !problem.empty()) return problem;
  if (file.contains("methods")) {
    if (!file["methods"].is_object()) return "methods is not an object";
    for (const auto& method : file["methods"].items()) {
      if (!std::regex_match(method.key(), kSweepName)) return "a method's name";
      if (std::string problem = flag_list_problem(method.value(), true); !problem.empty()) return "a method's flags";
    }
  }
  if (file.contains("common") && !flag_list_problem(file["common"], false).empty()) return "common";
  if (file.contains("fp32") && !file["fp32"].is_boolean()) return "fp32 is not a boolean";
  for (const char* key : {"results", "stats_dir"}) {
    if (file.contains(key) && (!file[key].is_string() || file[key] == "")) return std::string(key);
  }
  return "";
}

// Every flag word of the file, in order: a changed word may be refused by the command-line parser.
Json sweep_flag_words(const Json& file) {
  Json words = Json::array();
  for (const Json& model : file["models"]) words.push_back(model.contains("args") ? model["args"] : Json());
  words.push_back(file.contains("methods") ? file["methods"] : Json());
  words.push_back(file.contains("common") ? file["common"] : Json());
  return words;
}

SweepReading sweep_reading(const std::string& text, const std::string& base_dir) {
  Json file;
  try {
    file = parse_shallow<Json>(text);
  } catch (const json::exception&) {
    return {"not JSON", {}, ""};
  }
  if (std::string problem = sweep_file_problem(file); !problem.empty()) return {problem, {}, ""};
  std::vector<std::string> cells;
  if (std::string problem = sweep_cells(file, &cells); !problem.empty()) return {problem, {}, ""};
  const bool fp32 = file.value("fp32", true);
  if (!fp32 && cells.empty()) return {"no configuration", {}, ""};
  SweepReading reading;
  for (const Json& model : file["models"]) {
    const std::string name = model["name"];
    if (fp32) reading.keys.push_back(name + "/FP32/fp32");
    for (const std::string& cell : cells) reading.keys.push_back(name + "/" + cell);
  }
  const std::string results = file.value("results", std::string("results.jsonl"));
  if (results.find('$') == std::string::npos && !starts_with(results, "~")) {
    const fs::path given(results);
    reading.results = (given.is_absolute() ? given : fs::path(base_dir) / given).lexically_normal().string();
  }
  return reading;
}

// "" when `sweep --list` printed the expected configurations, each once, and the resolved results file.
std::string sweep_list_problem(const std::string& out, const SweepReading& expected) {
  std::vector<std::string> lines = split_lines(out);
  if (lines.empty()) return "no output";
  std::smatch match;
  const std::string last = lines.back();
  lines.pop_back();
  if (!std::regex_match(last, match, std::regex("([0-9]+) of ([0-9]+) configurations done; results: (.*)"))) {
    return "no summary line";
  }
  if (std::stoul(match[2]) != expected.keys.size() || lines.size() != expected.keys.size()) {
    return fmt::format("{} configurations listed, {} expected", lines.size(), expected.keys.size());
  }
  if (!expected.results.empty() && match[3] != expected.results) return "results file " + match[3].str();
  std::set<std::string> seen;
  static const std::regex kLine("(done|running|pending) +(.*)/([0-9a-f]{10})");
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!std::regex_match(lines[i], match, kLine) || match[2] != expected.keys[i]) {
      return "line '" + lines[i] + "' is not " + expected.keys[i];
    }
    if (!seen.insert(match[2].str() + match[3].str()).second) return "key " + lines[i] + " twice";
  }
  return "";
}

TEST_F(ReaderFuzz, SweepFile) {
  write_text(path("sweep.json"), R"({
  "description": "sweep of the fuzz fixture",
  "models": [{"name": "cnn", "model": "cnn.pt", "data": "images", "args": ["-b", "4"]},
             {"name": "tiny", "model": "tiny.pt", "data": "images", "calib_data": "calib"}],
  "fp32": true,
  "weight_bits": [8, 4], "act_bits": [4],
  "methods": {"rtn": [], "aciq": ["-pcq_w", "-c", "laplace"]},
  "common": ["--resize", "0", "--crop", "0"],
  "results": "results.jsonl"
})");
  const std::string file = path("sweep.json");
  const Json original = Json::parse(read_text(file));
  const RunOutput original_list = run_quant_sim_in(dir_, "sweep sweep.json --list");
  ASSERT_EQ(original_list.exit_code, 0) << original_list.err;
  ASSERT_EQ(sweep_list_problem(original_list.out, sweep_reading(read_text(file), dir_)), "");

  const auto expect = [&](const std::string& text) {
    const SweepReading reading = sweep_reading(text, dir_);
    if (!reading.invalid.empty()) return Expectation::error(reading.invalid);
    Json file_json = parse_shallow<Json>(text);
    if (sweep_flag_words(file_json) != sweep_flag_words(original)) return Expectation::changed("other flag words");
    file_json.erase("description");
    Json original_json = original;
    original_json.erase("description");
    if (file_json == original_json) return Expectation::same();
    return Expectation::changed("another plan");
  };
  fuzz_reader(
      {"SweepFile",
       file,
       25,
       [](const std::string& text, Random& rng, int index) { return mutate_json_file(text, rng, index, 2); },
       expect,
       {command(
           "sweep --list", [&] { return run_quant_sim_in(dir_, "sweep sweep.json --list"); },
           [&](const Expectation&, const std::string& text) {
             return Judge{
                 "sweep.json",
                 {0},
                 [&](const RunOutput& run) { return run.out == original_list.out ? "" : "another list"; },
                 [&, text](const RunOutput& run) { return sweep_list_problem(run.out, sweep_reading(text, dir_)); }};
           })}});
}

// ---------------------------------------------------------------------------------------------------------------
// Ground-truth files of flat folders: val.txt ("<file> <class index>") and LOC_val_solution.csv
// ("ImageId,<wnid> ...", class indices from synsets.txt)

// Moves the images of an ImageFolder into one flat folder as "<class>_<k>.png"; returns the names by class.
std::vector<std::string> flatten_images(const std::string& image_folder, const std::string& flat) {
  fs::create_directories(flat);
  std::vector<std::string> names;
  for (const std::string& folder : kFolders) {
    for (int k = 0; k < kPerClass; ++k) {
      const std::string name = folder + "_" + std::to_string(k) + ".png";
      fs::rename(fs::path(image_folder) / folder / (std::to_string(k) + ".png"), fs::path(flat) / name);
      names.push_back(name);
    }
  }
  fs::remove_all(image_folder);
  return names;
}

// The images a ground-truth file lists that are present in `folder` and their labels, or why the file is refused.
struct GroundTruth {
  std::string invalid;
  ExpectedImages expected;
};

// val.txt: the label is the last word (a non-negative integer below the class count); lines of absent files are
// skipped (the folder may hold a subset); a file listed twice counts once with the same label and is refused with
// another, since its label would be ambiguous.
GroundTruth val_txt_ground_truth(const std::string& text, const std::set<std::string>& present) {
  GroundTruth truth;
  std::map<std::string, int64_t> labels;
  const std::vector<std::string> lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t begin = lines[i].find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) continue;
    const std::string line = lines[i].substr(begin, lines[i].find_last_not_of(" \t\r\n") - begin + 1);
    const size_t split = line.find_last_of(" \t");
    const std::string label = split == std::string::npos ? "" : line.substr(split + 1);
    if (!std::regex_match(label, std::regex("[+-]?[0-9]{1,18}"))) return {fmt::format("line {}: no label", i + 1), {}};
    const int64_t index = std::stoll(label);
    if (index < 0 || index >= kClasses) return {fmt::format("line {}: label {} out of range", i + 1, index), {}};
    std::string file = line.substr(0, split);
    file = file.substr(0, file.find_last_not_of(" \t\r\n") + 1);
    if (const auto [it, first] = labels.emplace(file, index); !first) {
      if (it->second == index) continue;  // the same entry twice counts once
      return {fmt::format("line {}: {} listed twice with different labels", i + 1, printable(file)), {}};
    }
    if (!present.count(file)) continue;
    truth.expected.images.push_back(file);
    truth.expected.labels.push_back(index);
  }
  if (truth.expected.images.empty()) return {"no listed image is present", {}};
  return truth;
}

// The runs of the flat-folder tests: the same model and flags, the folder's ground truth deciding the labels.
void fuzz_ground_truth(const std::string& name, const std::string& dir, const std::string& file,
                       const std::vector<std::string>& images, const Relabel& relabel,
                       const std::function<GroundTruth(const std::string&)>& ground_truth) {
  const EvaluationCommand run(dir, "--model cnn.pt --data flat --resize 0 --crop 0");
  const RunOutput first = run.run();
  ASSERT_EQ(first.exit_code, 0) << first.err << first.out;
  const Evaluation baseline = run.evaluation();
  ASSERT_TRUE(baseline.line && baseline.logits);
  const GroundTruth original = ground_truth(read_text(file));
  ASSERT_EQ(original.invalid, "");
  ASSERT_EQ(original.expected.images, images);
  const RowsByImage rows = rows_by_image(baseline, images);

  const auto expect = [&](const std::string& text) {
    const GroundTruth truth = ground_truth(text);
    if (!truth.invalid.empty()) return Expectation::error(truth.invalid);
    if (truth.expected.images == original.expected.images && truth.expected.labels == original.expected.labels) {
      return Expectation::same();
    }
    return Expectation::changed("other images or labels");
  };
  const std::string file_name = fs::path(file).filename().string();
  fuzz_reader({name,
               file,
               20,
               [relabel](const std::string& text, Random& rng, int index) {
                 return mutate_line_file(text, rng, index, relabel);
               },
               expect,
               {ReaderUnderTest::Command{"evaluation", [&] { return run.run(); },
                                         [&](const Expectation&, const std::string& text) {
                                           const auto check = [&, text](const RunOutput&) {
                                             return matches_images(run.evaluation(), ground_truth(text).expected, rows);
                                           };
                                           return Judge{file_name, {0}, check, check};
                                         },
                                         nullptr}}});
}

TEST_F(ReaderFuzz, GroundTruthValTxt) {
  save_small_cnn(path("cnn.pt"), kClasses);
  make_image_folder(path("folders"), kFolders, kPerClass);
  const std::vector<std::string> images = flatten_images(path("folders"), path("flat"));
  std::string val;
  for (size_t i = 0; i < images.size(); ++i) val += images[i] + " " + std::to_string(i / kPerClass) + "\n";
  write_text(path("flat/val.txt"), val);
  std::set<std::string> present(images.begin(), images.end());
  present.insert("val.txt");

  const Relabel relabel = [](const std::string& line, Random& rng) -> std::optional<std::string> {
    const size_t split = line.find_last_of(' ');
    if (split == std::string::npos) return std::nullopt;
    return line.substr(0, split + 1) + std::to_string(rng.below(kClasses));
  };
  fuzz_ground_truth("GroundTruthValTxt", dir_, path("flat/val.txt"), images, relabel,
                    [present](const std::string& text) { return val_txt_ground_truth(text, present); });
}

// LOC_val_solution.csv: a header line, then "ImageId,<wnid> <box>..." per line; the wnid must be in the class-order
// file; ids of absent images are skipped; an id listed twice counts once with the same class and is refused with
// another.
GroundTruth loc_csv_ground_truth(const std::string& text, const std::vector<std::string>& wnids,
                                 const std::set<std::string>& stems) {
  GroundTruth truth;
  std::map<std::string, std::string> labels;
  const std::vector<std::string> lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t begin = lines[i].find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) continue;
    const std::string line = lines[i].substr(begin, lines[i].find_last_not_of(" \t\r\n") - begin + 1);
    if (i == 0 && starts_with(line, "ImageId")) continue;
    const size_t comma = line.find(',');
    std::string wnid;
    if (comma != std::string::npos) std::istringstream(line.substr(comma + 1)) >> wnid;
    if (comma == std::string::npos || comma == 0 || wnid.empty()) return {fmt::format("line {}: malformed", i + 1), {}};
    const auto label = std::find(wnids.begin(), wnids.end(), wnid);
    if (label == wnids.end()) return {fmt::format("line {}: class {} not listed", i + 1, printable(wnid)), {}};
    const std::string id = line.substr(0, comma);
    if (const auto [it, first] = labels.emplace(id, wnid); !first) {
      if (it->second == wnid) continue;  // the same entry twice (boxes aside) counts once
      return {fmt::format("line {}: {} listed twice with different classes", i + 1, printable(id)), {}};
    }
    if (!stems.count(id)) continue;
    truth.expected.images.push_back(id + ".png");
    truth.expected.labels.push_back(label - wnids.begin());
  }
  if (truth.expected.images.empty()) return {"no listed image is present", {}};
  return truth;
}

TEST_F(ReaderFuzz, GroundTruthLocCsv) {
  save_small_cnn(path("cnn.pt"), kClasses);
  make_image_folder(path("folders"), kFolders, kPerClass);
  const std::vector<std::string> images = flatten_images(path("folders"), path("flat"));
  const std::vector<std::string> wnids = {"n00000003", "n00000001", "n00000004", "n00000002"};
  write_text(path("flat/synsets.txt"), join_lines(wnids));
  std::string csv = "ImageId,PredictionString\n";
  std::set<std::string> stems;
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string stem = fs::path(images[i]).stem().string();
    stems.insert(stem);
    csv += stem + "," + wnids[i / kPerClass] + " 1 2 30 40 " + wnids[i / kPerClass] + " 3 4 10 12\n";
  }
  write_text(path("flat/LOC_val_solution.csv"), csv);

  const Relabel relabel = [wnids](const std::string& line, Random& rng) -> std::optional<std::string> {
    const size_t comma = line.find(',');
    if (comma == std::string::npos || starts_with(line, "ImageId")) return std::nullopt;
    return line.substr(0, comma + 1) + rng.pick(wnids) + " 5 6 7 8";
  };
  fuzz_ground_truth("GroundTruthLocCsv", dir_, path("flat/LOC_val_solution.csv"), images, relabel,
                    [wnids, stems](const std::string& text) { return loc_csv_ground_truth(text, wnids, stems); });
}

// ---------------------------------------------------------------------------------------------------------------
// Class-order files: <data>/synsets.txt of an ImageFolder

TEST_F(ReaderFuzz, ClassOrderFile) {
  save_small_cnn(path("cnn.pt"), kClasses);
  make_image_folder(path("images"), kFolders, kPerClass);
  const std::string file = path("images/synsets.txt");
  write_text(file, "c the third letter\na\nd\nb\n");
  const ClassOrder original = class_order_of(read_text(file), kFolders);
  ASSERT_EQ(original.invalid, "");

  const EvaluationCommand run(dir_, "--model cnn.pt --data images --resize 0 --crop 0");
  const Evaluation baseline = baseline_of(run);
  ASSERT_FALSE(HasFailure());
  const RowsByImage rows = rows_by_image(baseline, image_folder_order(original.classes).images);

  const auto expect = [&](const std::string& text) {
    const ClassOrder order = class_order_of(text, kFolders);
    if (!order.invalid.empty()) return Expectation::error(order.invalid);
    if (order.classes == original.classes) return Expectation::same();
    return Expectation::changed("another class order");
  };
  fuzz_reader({"ClassOrderFile",
               file,
               20,
               [](const std::string& text, Random& rng, int index) {
                 return mutate_line_file(text, rng, index, class_order_relabel());
               },
               expect,
               {command(
                   "evaluation", [&] { return run.run(); },
                   [&](const Expectation&, const std::string& text) {
                     const auto check = [&, text](const RunOutput&) {
                       const ExpectedImages expected = image_folder_order(class_order_of(text, kFolders).classes);
                       return matches_images(run.evaluation(), expected, rows);
                     };
                     return Judge{"synsets.txt", {0}, check, check};
                   })}});
}

// ---------------------------------------------------------------------------------------------------------------
// The oracles can fail: a wrong answer, an unclean error or an accepted invalid file is caught even once every
// reader above passes.

TEST(ReaderFuzzOracle, OnlyACleanErrorOrTheDueResultPasses) {
  const Judge judge{"stats.json",
                    {0},
                    [](const RunOutput&) { return std::string("other logits"); },
                    [](const RunOutput&) { return std::string(); }};
  const auto problem = [&](int exit_code, const std::string& err, const Expectation& expectation) {
    return judge_run({exit_code, "", err}, expectation, judge).problem;
  };
  const Expectation invalid = Expectation::error("min > max"), same = Expectation::same(),
                    changed = Expectation::changed("other values");
  EXPECT_EQ(problem(2, "quant-sim: error: stats.json: min > max\n", invalid), "");
  EXPECT_EQ(problem(2, "quant-sim: warning: slow\nquant-sim: error: stats.json: min > max\n", invalid), "");
  EXPECT_NE(problem(2, "quant-sim: error: corrupt statistics\n", invalid), "");  // names no file
  EXPECT_EQ(problem(2, "quant-sim: error: corrupt statistics\n", changed), "");
  EXPECT_NE(problem(2, "quant-sim: cnn FP32 on images\nquant-sim: error: stats.json: x\n", invalid), "");
  EXPECT_NE(problem(2, "quant-sim: error: stats.json: x\nquant-sim: error: again\n", invalid), "");
  EXPECT_NE(problem(2, "quant-sim: error: stats.json: x\nException raised from parse\n", invalid), "");
  EXPECT_NE(problem(1, "quant-sim: internal error: [json.exception.type_error.302]\n", changed), "");
  EXPECT_NE(problem(139, "", changed), "");  // SIGSEGV
  EXPECT_NE(problem(124, "", changed), "");  // hang
  EXPECT_NE(problem(0, "", invalid), "");    // accepted
  EXPECT_NE(problem(0, "", same), "");       // another answer where the same was due
  EXPECT_EQ(problem(0, "", changed), "");
}

TEST(ReaderFuzzOracle, EvaluationsMustAgreeWithTheirLogitsAndLabels) {
  Evaluation evaluation{json{{"top1", 50.0}, {"top5", 100.0}, {"images", 2}, {"top1_correct", 1}},
                        Logits{2, kClasses, {1, 0, 0, 0, 0, 0, 0, 1}}};
  EXPECT_EQ(consistent_evaluation(evaluation, {0, 1}), "");
  EXPECT_NE(consistent_evaluation(evaluation, {0, 3}), "");     // the labels give 2 correct
  EXPECT_NE(consistent_evaluation(evaluation, {0, 1, 2}), "");  // an image missing
  evaluation.logits->values[7] = std::nanf("");
  EXPECT_NE(consistent_evaluation(evaluation, {0, 1}), "");
}

TEST(ReaderFuzzOracle, StatisticsMustBePossible) {
  const json record = {{"min", -1.0}, {"max", 2.0}, {"min_batch_mean", -0.5}, {"max_batch_mean", 1.5}, {"mean", 0.1},
                       {"std", 0.5},  {"b", 0.4}};
  json channels = json::object();
  for (const auto& [key, value] : record.items()) channels[key] = json::array({value});
  const json original = {
      {"format", "quant-sim statistics"},
      {"schema_version", 2},
      {"metadata",
       {{"model_sha256", "abc"},
        {"model_path", "m.pt"},
        {"arch", "m"},
        {"act_sites", "outputs"},
        {"calib_data", "d"},
        {"calib_images", 8},
        {"batch_size", 4},
        {"tool_version", "0"},
        {"created", "now"}}},
      {"sites",
       json::array({{{"name", "conv"}, {"shape", {1, 4, 4}}, {"per_tensor", record}, {"per_channel", channels}}})}};
  const auto expect = [&](const std::function<void(json&)>& change) {
    json document = original;
    change(document);
    return statistics_expectation(original, document.dump()).kind;
  };
  EXPECT_EQ(expect([](json&) {}), Expect::kSame);
  EXPECT_EQ(expect([](json& d) { d["metadata"]["created"] = "later"; }), Expect::kSame);
  EXPECT_EQ(expect([](json& d) { d["sites"][0]["per_tensor"]["max"] = 3.0; }), Expect::kChanged);
  EXPECT_EQ(expect([](json& d) { d["sites"][0]["per_tensor"]["max"] = -2.0; }), Expect::kError);  // min > max
  EXPECT_EQ(expect([](json& d) { d["sites"][0]["per_channel"]["std"][0] = -0.1; }), Expect::kError);
  EXPECT_EQ(expect([](json& d) { d["sites"][0]["per_tensor"]["mean"] = "nan"; }), Expect::kError);
  EXPECT_EQ(expect([](json& d) { d["sites"][0]["shape"][0] = 2; }), Expect::kError);
  EXPECT_EQ(expect([](json& d) { d["metadata"]["model_sha256"] = "abd"; }), Expect::kError);
  EXPECT_EQ(statistics_expectation(original, "{\"format\": 1e400}").kind, Expect::kError);
}

TEST(ReaderFuzzOracle, ASidecarMustNameAClassOrderFileThatExists) {
  const std::string dir = fresh_temp_dir("fuzz_oracle_sidecar");
  write_text(dir + "/order.txt", "c\na\nd\nb\n");
  const json original = {{"preprocess", {{"mean", 0.5}, {"std", {0.2, 0.2, 0.2}}}},
                         {"output", {{"num_classes", 4}, {"class_order_file", "order.txt"}}}};
  const SidecarMeaning meaning = sidecar_meaning(original.dump(), dir, dir);
  ASSERT_EQ(meaning.invalid, "");
  EXPECT_EQ(meaning.classes, (std::vector<std::string>{"c", "a", "d", "b"}));
  const auto invalid = [&](const std::function<void(json&)>& change) {
    json document = original;
    change(document);
    return !sidecar_meaning(document.dump(), dir, dir).invalid.empty();
  };
  EXPECT_TRUE(invalid([](json& d) { d["output"]["class_order_file"] = "orders.txt"; }));
  EXPECT_TRUE(invalid([](json& d) { d["output"]["class_order_file"] = 3; }));
  EXPECT_TRUE(invalid([](json& d) { d["output"] = ""; }));
  EXPECT_TRUE(invalid([](json& d) { d["output"]["num_classes"] = 5; }));
  EXPECT_TRUE(invalid([](json& d) { d["preprocess"]["std"][1] = -1; }));
  EXPECT_TRUE(invalid([](json& d) { d["preprocess"]["center_crop"] = 2.5; }));
  EXPECT_TRUE(invalid([](json& d) { d["preprocess"]["interpolation"] = 1; }));
  EXPECT_FALSE(invalid([](json& d) { d["output"].erase("class_order_file"); }));  // documented: sorted folders
  EXPECT_EQ(sidecar_meaning(json{{"output", json::object()}}.dump(), dir, dir).classes, kFolders);
  fs::remove_all(dir);
}

TEST(ReaderFuzzOracle, AGroundTruthFileMustGiveEachImageOneLabel) {
  const std::set<std::string> present = {"x.png", "y.png"};
  EXPECT_EQ(val_txt_ground_truth("x.png 1\ny.png 2\n", present).expected.labels, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(val_txt_ground_truth("x.png 1\nz.png 2\n\n", present).expected.images, (std::vector<std::string>{"x.png"}));
  EXPECT_NE(val_txt_ground_truth("x.png 1\nx.png 2\n", present).invalid, "");
  EXPECT_NE(val_txt_ground_truth("x.png 4\n", present).invalid, "");
  EXPECT_NE(val_txt_ground_truth("x.png\n", present).invalid, "");
  const std::vector<std::string> wnids = {"n1", "n2"};
  EXPECT_EQ(loc_csv_ground_truth("ImageId,PredictionString\nx,n2 1 2\n", wnids, {"x"}).expected.labels,
            (std::vector<int64_t>{1}));
  EXPECT_NE(loc_csv_ground_truth("ImageId,PredictionString\nx,n3 1 2\n", wnids, {"x"}).invalid, "");
  EXPECT_NE(class_order_of("a\nb\nc\nc\n", kFolders).invalid, "");
  EXPECT_NE(class_order_of("a\nb\nc\n", kFolders).invalid, "");
  EXPECT_EQ(class_order_of("d x\nc\nb\na\n\n", kFolders).classes, (std::vector<std::string>{"d", "c", "b", "a"}));
}

TEST(ReaderFuzzOracle, MutantsDependOnlyOnTheSeedTheReaderAndTheIndex) {
  const std::string text = R"({"a": [1, 2.5, "x"], "b": {"min": 1, "max": 2}})";
  const auto mutant = [&](uint64_t seed, const std::string& reader, int index) {
    Random rng(mutant_seed(seed, reader, index));
    return mutate_json_file(text, rng, index, 1).text;
  };
  EXPECT_EQ(mutant(7, "R", 3), mutant(7, "R", 3));
  std::set<std::string> texts;
  for (int index = 0; index < 20; ++index) texts.insert(mutant(7, "R", index));
  EXPECT_GT(texts.size(), 15u);
}

}  // namespace
