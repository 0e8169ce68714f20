// The accuracy regression gate: passes within tolerance, fails on a planted drop, a missing entry or other images;
// through the function, `quant-sim gate` and scripts/accuracy_gate.sh (without running any model).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/results/accuracy_gate.h"
#include "support/fixtures.h"
#include "support/subcommand_runner.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

nlohmann::json result(const std::string& model, const std::string& precision, const std::string& label, double top1,
                      int64_t images = 500) {
  return {{"model_name", model},
          {"precision", precision},
          {"top1", top1},
          {"images", images},
          {"mode", precision == "FP32" ? "fp32" : "static"},
          {"config", {{"label", label}, {"qtype", precision == "FP32" ? "f32" : "int4"}}}};
}

std::vector<ResultLine> lines_of(const std::vector<nlohmann::json>& records) {
  std::vector<ResultLine> lines;
  for (const auto& record : records) lines.push_back({static_cast<int>(lines.size()) + 1, record});
  return lines;
}

const std::vector<GateEntry> kBaseline = {{"net", "FP32", 76.0, 0.5, 500}, {"net", "W4A4 aciq", 70.0, 1.0, 500}};

std::vector<GateVerdict> verdicts(const std::vector<nlohmann::json>& records) {
  std::vector<GateVerdict> out;
  for (const GateCheck& check : check_accuracy_gate(kBaseline, lines_of(records))) {
    out.push_back(check.verdict);
  }
  return out;
}

using V = GateVerdict;

TEST(AccuracyGate, PassesWithinToleranceAndAboveTheBaseline) {
  EXPECT_EQ(verdicts({result("net", "FP32", "fp32", 75.5), result("net", "W4A4", "aciq", 72.0)}),
            (std::vector<V>{V::kOk, V::kOk}));  // a drop of exactly the tolerance passes
  EXPECT_EQ(failed_checks(check_accuracy_gate(
                kBaseline, lines_of({result("net", "FP32", "fp32", 76.0), result("net", "W4A4", "aciq", 69.5)}))),
            0);
}

TEST(AccuracyGate, FailsOnADropBeyondTolerance) {
  const auto checks = check_accuracy_gate(
      kBaseline, lines_of({result("net", "FP32", "fp32", 76.0), result("net", "W4A4", "aciq", 68.9)}));
  EXPECT_EQ(checks[1].verdict, V::kDropped);
  EXPECT_EQ(failed_checks(checks), 1);
  const std::string table = render_gate_checks(checks);
  EXPECT_NE(table.find("net: W4A4 aciq     70.00     68.90    -1.10       1.00  DROPPED"), std::string::npos) << table;
}

TEST(AccuracyGate, TheLastLineOfACellCountsAndShardsDoNot) {
  nlohmann::json shard = result("net", "W4A4", "aciq", 10.0);
  shard["config"]["shard"] = "1/2";
  EXPECT_EQ(verdicts({result("net", "FP32", "fp32", 76.0), result("net", "W4A4", "aciq", 10.0),
                      result("net", "W4A4", "aciq", 70.0), shard}),
            (std::vector<V>{V::kOk, V::kOk}));
}

TEST(AccuracyGate, MissingEntriesAndOtherImageCountsFail) {
  EXPECT_EQ(verdicts({result("net", "FP32", "fp32", 76.0, 499)}), (std::vector<V>{V::kOtherImages, V::kMissing}));
  const auto checks = check_accuracy_gate(kBaseline, lines_of({result("net", "FP32", "fp32", 76.0, 499)}));
  const std::string table = render_gate_checks(checks);
  EXPECT_NE(table.find("OTHER IMAGES (499 images, baseline 500)"), std::string::npos) << table;
  EXPECT_NE(table.find("-        -       1.00  MISSING"), std::string::npos) << table;
}

TEST(AccuracyGate, BaselineFromResultsKeepsKnownTolerances) {
  const auto entries = baseline_from_results(
      lines_of({result("net", "FP32", "fp32", 76.123456), result("other", "W4A4", "rtn", 5.0, 100)}), kBaseline, 2.0);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].tolerance, 0.5);
  EXPECT_EQ(entries[1].tolerance, 2.0);
  EXPECT_EQ(entries[1].method, "W4A4 rtn");
  EXPECT_EQ(entries[1].images, 100);
  EXPECT_EQ(gate_entries_to_json(entries)[0]["top1"], 76.1235);
}

TEST(AccuracyGate, MalformedBaselineIsNamed) {
  try {
    parse_gate_baseline(nlohmann::json::parse(R"({"entries": [{"model": "m", "method": "FP32", "top1": 1}]})"),
                        "b.json");
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "b.json: entries[0]: \"tolerance\" must be a number");
  }
}

class GateCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir("gate_command");
    write_results("results.jsonl", 70.0);
    const CommandResult written = run_subcommand("gate " + path("results.jsonl") + " --baseline " +
                                                 path("baseline.json") + " --write-baseline --tolerance 1.5");
    ASSERT_EQ(written.exit_code, 0) << written.output;
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_results(const std::string& name, double aciq_top1) const {
    std::ofstream out(path(name));
    out << result("net", "FP32", "fp32", 76.0).dump() << "\n"
        << result("net", "W4A4", "aciq", aciq_top1).dump() << "\n";
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  CommandResult gate(const std::string& results) const {
    return run_subcommand("gate " + path(results) + " --baseline " + path("baseline.json"));
  }
  CommandResult script(const std::string& results) const {
    return run_command("QUANT_SIM=" + std::string(QUANTSIM_BINARY_DIR) + "/quant-sim bash " +
                       std::string(QUANTSIM_SOURCE_DIR) + "/scripts/accuracy_gate.sh --results " + path(results) +
                       " --baseline " + path("baseline.json"));
  }

  std::string dir_;
};

TEST_F(GateCommand, PassesOnItsOwnResults) {
  const CommandResult r = gate("results.jsonl");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("accuracy gate: passed (2 entries"), std::string::npos) << r.output;
  EXPECT_NE(read_file(path("baseline.json")).find("\"tolerance\":1.5"), std::string::npos);
}

TEST_F(GateCommand, FailsOnAPlantedDropAndNamesTheEntry) {
  write_results("dropped.jsonl", 68.0);
  const CommandResult r = gate("dropped.jsonl");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("net: W4A4 aciq     70.00     68.00    -2.00       1.50  DROPPED"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("accuracy gate: FAILED: 1 of 2 entries"), std::string::npos) << r.output;
}

TEST_F(GateCommand, FailsWhenTheBaselineIsRaised) {
  std::string baseline = read_file(path("baseline.json"));
  baseline.replace(baseline.find("\"top1\":70.0"), 11, "\"top1\":72.0");
  write_file_atomically(path("baseline.json"), baseline);
  EXPECT_EQ(gate("results.jsonl").exit_code, 3);
}

TEST_F(GateCommand, ScriptIsAThinWrapper) {
  write_results("dropped.jsonl", 68.0);
  const CommandResult passed = script("results.jsonl");
  EXPECT_EQ(passed.exit_code, 0) << passed.output;
  const CommandResult failed = script("dropped.jsonl");
  EXPECT_EQ(failed.exit_code, 3) << failed.output;
  EXPECT_NE(failed.output.find("DROPPED"), std::string::npos) << failed.output;
}

TEST_F(GateCommand, HelpDocumentsTheExitStatuses) {
  const CommandResult r = run_subcommand("gate --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const std::string line : {"Exit status:", "  0  every entry is within its tolerance", "  3  accuracy dropped",
                                 "  2  bad input", "  1  internal error"}) {
    EXPECT_NE(r.output.find(line), std::string::npos) << line << "\n" << r.output;
  }
}

TEST_F(GateCommand, BadInputIsAUserError) {
  const CommandResult r = run_subcommand("gate " + path("results.jsonl"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, "quant-sim: error: quant-sim gate: missing --baseline FILE (see quant-sim gate --help)\n");
  const CommandResult missing = run_subcommand("gate " + path("nope.jsonl") + " --baseline " + path("baseline.json"));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
}

}  // namespace
