// The accuracy gate's per-image rules (accuracy_gate.h, docs/QUANTIZATION.md, section 15) on constructed runs:
// "significant" fails only a drop McNemar's test says chance cannot explain, "both" only one that is also beyond the
// tolerance, and baselines without a rule keep the tolerance rule and their file format.
#include <gtest/gtest.h>

#include "quantsim/core/errors.h"
#include "quantsim/core/percent.h"
#include "quantsim/results/accuracy_gate.h"
#include "quantsim/results/comparison_stats.h"
#include "quantsim/results/result_record.h"

using namespace quantsim;
using nlohmann::json;

namespace {

// 100 images, the first `hits` top-1 (and top-5) correct, on one fixed image list.
PerImageCorrectness run_with(int64_t hits, int64_t images = 100, const std::string& folder = "val") {
  PerImageCorrectness data;
  for (int64_t i = 0; i < images; ++i) {
    data.top1.push_back(i < hits);
    data.top5.push_back(i < hits);
    data.order.add(i, folder + "/" + std::to_string(i) + ".jpg", i % 10);
  }
  return data;
}

json line_of(const std::optional<PerImageCorrectness>& data, int64_t hits, int64_t images = 100) {
  json line = {{"model_name", "net"},
               {"precision", "W4A4"},
               {"mode", "static"},
               {"top1", percent(hits, images)},
               {"top5", percent(hits, images)},
               {"images", images},
               {"top1_correct", hits},
               {"top5_correct", hits},
               {"config", {{"label", "m"}, {"qtype", "int4"}}}};
  if (data) line["per_image"] = per_image_to_json(*data);
  return line;
}

GateEntry entry(GateRule rule, double tolerance) {
  GateEntry e{"net", "W4A4 m", 80.0, tolerance, 100};
  e.rule = rule;
  e.per_image = run_with(80);
  return e;
}

GateCheck check(const GateEntry& e, const json& line) {
  return check_accuracy_gate({e}, {ResultLine(1, line)}).front();
}

TEST(GateSignificance, FailsOnlyDropsChanceCannotExplain) {
  // 80 -> 70: 10 images lost, none gained: p = 2 / 2^10 = 0.00195. 80 -> 78: p = 2 * 1/4 = 0.5.
  const GateCheck big = check(entry(GateRule::kSignificant, 20.0), line_of(run_with(70), 70));
  EXPECT_EQ(big.verdict, GateVerdict::kDropped);
  ASSERT_TRUE(big.p_value);
  EXPECT_NEAR(*big.p_value, 2.0 / 1024, 1e-15);
  const GateCheck small = check(entry(GateRule::kSignificant, 1.0), line_of(run_with(78), 78));
  EXPECT_EQ(small.verdict, GateVerdict::kOk);  // 2 points below, beyond the tolerance, but not significant
  EXPECT_NEAR(*small.p_value, 0.5, 1e-15);
  EXPECT_EQ(check(entry(GateRule::kTolerance, 1.0), line_of(run_with(78), 78)).verdict, GateVerdict::kDropped);
  // A significant gain never fails.
  EXPECT_EQ(check(entry(GateRule::kSignificant, 0.0), line_of(run_with(95), 95)).verdict, GateVerdict::kOk);
}

TEST(GateSignificance, BothNeedsADropBeyondTheToleranceThatIsSignificant) {
  EXPECT_EQ(check(entry(GateRule::kBoth, 5.0), line_of(run_with(70), 70)).verdict, GateVerdict::kDropped);
  EXPECT_EQ(check(entry(GateRule::kBoth, 15.0), line_of(run_with(70), 70)).verdict, GateVerdict::kOk);
  EXPECT_EQ(check(entry(GateRule::kBoth, 1.0), line_of(run_with(78), 78)).verdict, GateVerdict::kOk);
}

TEST(GateSignificance, NeedsTheSameImagesAndPerImageData) {
  EXPECT_EQ(check(entry(GateRule::kSignificant, 1.0), line_of(run_with(80, 100, "other"), 80)).verdict,
            GateVerdict::kOtherImages);
  EXPECT_EQ(check(entry(GateRule::kSignificant, 1.0), line_of(std::nullopt, 80)).verdict, GateVerdict::kNoPerImage);
  EXPECT_EQ(failed_checks({check(entry(GateRule::kSignificant, 1.0), line_of(std::nullopt, 80))}), 1);
}

TEST(GateSignificance, BaselineFileRoundTripsAndOldEntriesStayAsTheyWere) {
  const std::vector<ResultLine> results = {ResultLine(1, line_of(run_with(80), 80))};
  const std::vector<GateEntry> entries = baseline_from_results(results, {}, 1.0, GateRule::kSignificant);
  const json file = {{"entries", json::parse(gate_entries_to_json(entries).dump())}};
  EXPECT_EQ(file["entries"][0]["rule"], "significant");
  EXPECT_EQ(file["entries"][0]["alpha"], 0.05);
  const std::vector<GateEntry> parsed = parse_gate_baseline(file, "b.json");
  ASSERT_TRUE(parsed[0].per_image);
  EXPECT_EQ(parsed[0].rule, GateRule::kSignificant);
  EXPECT_EQ(check_accuracy_gate(parsed, results).front().verdict, GateVerdict::kOk);

  // A tolerance entry is written without rule, alpha or per_image, as before.
  const json old = json::parse(gate_entries_to_json(baseline_from_results(results, {}, 1.0)).dump());
  EXPECT_EQ(old[0], json::parse(R"({"model": "net", "method": "W4A4 m", "top1": 80.0, "tolerance": 1.0,
                                    "images": 100})"));
  // A per-image rule without the run's per-image data cannot be checked: refused when read and when written.
  EXPECT_THROW(parse_gate_baseline(json::parse(R"({"entries": [{"model": "n", "method": "m", "top1": 80,
                                                   "tolerance": 1, "rule": "significant"}]})"),
                                   "b.json"),
               UserError);
  EXPECT_THROW(baseline_from_results({ResultLine(1, line_of(std::nullopt, 80))}, {}, 1.0, GateRule::kBoth), UserError);
  json bad_rule = file;
  bad_rule["entries"][0]["rule"] = "sometimes";
  EXPECT_THROW(parse_gate_baseline(bad_rule, "b.json"), UserError);
  json other_top1 = file;
  other_top1["entries"][0]["top1"] = 70.0;  // not the run its per_image holds
  EXPECT_THROW(parse_gate_baseline(other_top1, "b.json"), UserError);
}

}  // namespace
