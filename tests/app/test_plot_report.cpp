// tools/plot_report.py end to end on a small results file and hand-written layer reports (JSON and CSV): PNG plots
// and one self-contained HTML report. Skipped when Debian's matplotlib is not installed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "quantsim/core/atomic_file.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

nlohmann::json result(const std::string& model, const std::string& precision, const std::string& label, double top1) {
  const std::string bits = precision == "FP32" ? "f32" : "int" + precision.substr(1, 1);
  return {{"model_name", model},
          {"precision", precision},
          {"top1", top1},
          {"top5", top1 + 10},
          {"images", 500},
          {"mode", precision == "FP32" ? "fp32" : "static"},
          {"config", {{"label", label}, {"qweight", bits}, {"qtype", bits}, {"act_sites", "outputs"}}}};
}

class PlotReport : public ::testing::Test {
 protected:
  void SetUp() override {
    if (run_command("/usr/bin/python3 -c 'import matplotlib'").exit_code != 0) {
      GTEST_SKIP() << "matplotlib is not installed for /usr/bin/python3 (apt-get install python3-matplotlib)";
    }
    dir_ = fresh_temp_dir("plot_report");
    std::ofstream results(dir_ + "/results.jsonl");
    for (const auto& line : {result("resnet8", "FP32", "fp32", 76.44), result("resnet8", "W8A8", "rtn", 76.1),
                             result("resnet8", "W4A4", "rtn", 58.02), result("resnet8", "W8A8", "aciq", 76.3),
                             result("resnet8", "W4A4", "aciq", 69.9), result("darknet", "FP32", "fp32", 69.0),
                             result("darknet", "W4A4", "aciq", 9.77)}) {
      results << line.dump() << "\n";
    }
    std::ofstream(dir_ + "/w4a4_rtn.json") << R"({"model": "resnet8", "precision": "W4A4", "entries": [
      {"kind": "activation", "name": "conv1", "index": 0, "per_channel": false, "bits_mean": 4.0,
       "bits_histogram": {"4": 16}, "range_min": 0.0, "range_max": 5.5, "alpha": null, "mse": 0.012, "sqnr_db": 17.5},
      {"kind": "activation", "name": "layer1.conv1", "index": 1, "per_channel": true, "bits_mean": 3.9,
       "bits_histogram": {"3": 2, "4": 14}, "range_min": 0.0, "range_max": 7.25, "alpha": 3.1, "mse": 0.02,
       "sqnr_db": 15.25},
      {"kind": "weight", "name": "conv1", "index": 0, "per_channel": true, "bits_mean": 4.0,
       "bits_histogram": {"4": 16}, "range_min": -1.0, "range_max": 1.0, "alpha": null, "mse": 0.0007,
       "sqnr_db": 21.0}]})";
    std::ofstream(dir_ + "/w4a4_aciq.csv")
        << "kind,name,index,per_channel,bits_mean,bits_histogram,range_min,range_max,alpha,mse,sqnr_db\n"
           "activation,conv1,0,false,4,4:16,0,5.5,2.5,0.006,20.5\n"
           "weight,conv1,0,true,4,2:1;4:15,-1,1,,0.0006,21.5\n";
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  CommandResult plot(const std::string& arguments) const {
    return run_command("/usr/bin/python3 " + std::string(QUANTSIM_SOURCE_DIR) + "/tools/plot_report.py " + arguments);
  }
  static bool is_png(const std::string& path) {
    return fs::exists(path) && read_file(path).rfind("\x89PNG\r\n\x1a\n", 0) == 0;
  }

  std::string dir_;
};

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(PlotReport, PlotsAndASelfContainedHtmlReport) {
  const CommandResult r = plot(dir_ + "/results.jsonl --layer-report " + dir_ + "/w4a4_rtn.json --layer-report " +
                               dir_ + "/w4a4_aciq.csv --out-dir " + dir_ + "/plots --html " + dir_ +
                               "/report.html --quant-sim " + QUANTSIM_BINARY_DIR + "/quant-sim");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(is_png(dir_ + "/plots/accuracy_vs_bits.png"));
  EXPECT_TRUE(is_png(dir_ + "/plots/layer_error_resnet8.png"));
  EXPECT_TRUE(is_png(dir_ + "/plots/layer_error_w4a4_aciq.png"));  // a CSV without a model column: named by file
  const std::string html = read_file(dir_ + "/report.html");
  EXPECT_EQ(count_of(html, "src=\"data:image/png;base64,"), 3);
  // The method table of `quant-sim report`: rows are the methods' labels.
  EXPECT_NE(html.find("<td>W4A4 aciq</td><td class=n>69.90</td><td class=n>9.77</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("<th>resnet8 (outputs)</th>"), std::string::npos);
  EXPECT_NE(html.find("<td>layer1.conv1</td>"), std::string::npos);  // the layer report's own table
}

TEST_F(PlotReport, LayerReportsAlone) {
  const CommandResult r = plot("--layer-report " + dir_ + "/w4a4_rtn.json --out-dir " + dir_ + "/plots");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(is_png(dir_ + "/plots/layer_error_resnet8.png"));
  EXPECT_FALSE(fs::exists(dir_ + "/plots/accuracy_vs_bits.png"));
}

TEST_F(PlotReport, BadInputIsOneLine) {
  const CommandResult missing = plot(dir_ + "/nope.jsonl --out-dir " + dir_);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.output, "plot_report.py: error: " + dir_ + "/nope.jsonl: cannot read: No such file or directory\n");
  std::ofstream(dir_ + "/bad.json") << R"({"entries": [{"kind": "bias", "name": "x"}]})";
  const CommandResult bad = plot("--layer-report " + dir_ + "/bad.json --out-dir " + dir_);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("bad.json: not a layer report: entry 'x': kind must be activation or weight"),
            std::string::npos)
      << bad.output;
}

}  // namespace
