// Honest comparisons end to end (docs/QUANTIZATION.md, section 15): results lines carry Wilson intervals and
// per-image correctness, `quant-sim compare` pairs two runs with McNemar's test and refuses unpaired ones, shards
// merge their per-image data back into the unsharded run's, `report --ci`, `gate` with the "significant" rule, and
// --stability's reruns.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "quantsim/core/errors.h"
#include "quantsim/passes/activation_quantizer.h"
#include "quantsim/results/comparison_stats.h"
#include "quantsim/results/results_file.h"
#include "support/fixtures.h"
#include "support/subcommand_runner.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

class CompareCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(std::string("compare_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    model_ = dir_ + "/cnn.pt";
    save_small_cnn(model_, 4);
    data_ = dir_ + "/data";
    make_image_folder(data_, {"a", "b", "c", "d"}, 6);  // 24 images
    const CommandResult collect = run_quant_sim(common_args() + " -sm collect --results " + path("collect.jsonl"));
    ASSERT_EQ(collect.exit_code, 0) << collect.output;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string common_args() const {
    return "--model " + model_ + " --data " + data_ + " --stats-dir " + dir_ + "/stats --resize 0 --crop 0 -b 5 ";
  }
  // A static run (-sm use): its per-image outcomes do not depend on which images share a batch.
  CommandResult run(const std::string& results, const std::string& extra) const {
    return run_quant_sim(common_args() + "-sm use -sh --seed 3 --results " + results + " " + extra);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  nlohmann::json last(const std::string& results) const { return read_results_file(results).back().record; }

  std::string dir_, model_, data_;
};

TEST_F(CompareCli, ResultsLineCarriesIntervalsAndPerImageCorrectness) {
  ASSERT_EQ(run(path("r.jsonl"), "--qtype int8 -qw int8").exit_code, 0);
  const ResultLine line = read_results_file(path("r.jsonl")).back();
  const auto [lo, hi] = wilson_interval_percent(*line.fields.top1_correct, 24);
  EXPECT_EQ(line.record["top1_ci95"][0].get<double>(), lo);
  EXPECT_EQ(line.record["top1_ci95"][1].get<double>(), hi);
  ASSERT_TRUE(line.fields.per_image);
  EXPECT_EQ(line.fields.per_image->images(), 24);
  EXPECT_EQ(line.fields.per_image->top1_correct(), *line.fields.top1_correct);
  EXPECT_EQ(line.fields.per_image->top5_correct(), *line.fields.top5_correct);
}

TEST_F(CompareCli, ComparesTwoRunsWithMcNemarsExactTest) {
  ASSERT_EQ(run(path("r.jsonl"), "--qtype int8 -qw int8 --label eight").exit_code, 0);
  ASSERT_EQ(run(path("r.jsonl"), "--qtype int2 -qw int2 --label two").exit_code, 0);
  const std::vector<ResultLine> lines = read_results_file(path("r.jsonl"));
  const DiscordantPairs pairs = discordant_top1(*lines[0].fields.per_image, *lines[1].fields.per_image);
  const double p = mcnemar_exact_p(pairs.only_a, pairs.only_b);

  for (const std::string& a : {path("r.jsonl") + ":1", path("r.jsonl") + "#W8A8 eight", path("r.jsonl") + "#eight"}) {
    const CommandResult r = run_subcommand("compare '" + a + "' " + path("r.jsonl") + ":2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(fmt::format("{} right only in A, {} right only in B", pairs.only_a, pairs.only_b)),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find(fmt::format("p = {:.4g}", p)), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(p < 0.05 ? "SIGNIFICANT" : "not significant"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("95% CI"), std::string::npos) << r.output;
  }
  // A run against itself: no discordant image, p = 1.
  const CommandResult same = run_subcommand("compare " + path("r.jsonl") + ":2 " + path("r.jsonl") + ":2");
  EXPECT_NE(same.output.find("0 right only in A, 0 right only in B (24 agree)"), std::string::npos) << same.output;
  EXPECT_NE(same.output.find("p = 1:"), std::string::npos) << same.output;
  // FILE alone is ambiguous with two runs in it.
  const CommandResult ambiguous = run_subcommand("compare " + path("r.jsonl") + " " + path("r.jsonl") + ":1");
  EXPECT_EQ(ambiguous.exit_code, kExitUserError);
  EXPECT_NE(ambiguous.output.find("2 runs match"), std::string::npos) << ambiguous.output;
  const CommandResult alpha = run_subcommand("compare " + path("r.jsonl") + ":1 " + path("r.jsonl") + ":2 --alpha 2");
  EXPECT_EQ(alpha.exit_code, kExitUserError);
}

TEST_F(CompareCli, RefusesRunsOnDifferentImagesOrWithoutPerImageData) {
  ASSERT_EQ(run(path("a.jsonl"), "--qtype int8 -qw int8 -ss 20").exit_code, 0);
  ASSERT_EQ(
      run_quant_sim(common_args() + "-sm use -sh --seed 4 -ss 20 --qtype int8 -qw int8 --results " + path("b.jsonl"))
          .exit_code,
      0);
  const CommandResult other = run_subcommand("compare " + path("a.jsonl") + " " + path("b.jsonl"));
  EXPECT_EQ(other.exit_code, kExitUserError);
  EXPECT_NE(other.output.find("different images (20 images"), std::string::npos) << other.output;
  EXPECT_EQ(std::count(other.output.begin(), other.output.end(), '\n'), 1) << other.output;

  nlohmann::json old = last(path("a.jsonl"));
  old.erase("per_image");
  std::ofstream(path("old.jsonl")) << old.dump() << "\n";
  const CommandResult missing = run_subcommand("compare " + path("old.jsonl") + " " + path("a.jsonl"));
  EXPECT_EQ(missing.exit_code, kExitUserError);
  EXPECT_NE(missing.output.find("quant-sim compare: A ("), std::string::npos) << missing.output;
  EXPECT_NE(missing.output.find(") has no per-image correctness"), std::string::npos) << missing.output;
}

TEST_F(CompareCli, MergedShardsGiveTheUnshardedRunsPerImageData) {
  ASSERT_EQ(run(path("whole.jsonl"), "--qtype int4 -qw int4").exit_code, 0);
  for (const char* shard : {"2/3", "1/3", "3/3"}) {
    ASSERT_EQ(run(path("shards.jsonl"), std::string("--qtype int4 -qw int4 --shard ") + shard).exit_code, 0);
  }
  ASSERT_EQ(run_subcommand("merge " + path("shards.jsonl") + " --out " + path("merged.jsonl")).exit_code, 0);
  const nlohmann::json whole = last(path("whole.jsonl"));
  const nlohmann::json merged = last(path("merged.jsonl"));
  EXPECT_EQ(merged["per_image"], whole["per_image"]);
  EXPECT_EQ(merged["top1_ci95"], whole["top1_ci95"]);
  const CommandResult r = run_subcommand("compare " + path("merged.jsonl") + " " + path("whole.jsonl"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("0 right only in A, 0 right only in B"), std::string::npos) << r.output;
}

TEST_F(CompareCli, ReportShowsIntervalsOnlyWhenAsked) {
  ASSERT_EQ(run(path("r.jsonl"), "--qtype int8 -qw int8").exit_code, 0);
  const ResultLine line = read_results_file(path("r.jsonl")).back();
  const auto [lo, hi] = wilson_interval_percent(*line.fields.top1_correct, 24);
  const CommandResult plain = run_subcommand("report " + path("r.jsonl"));
  EXPECT_EQ(plain.output.find('['), std::string::npos) << plain.output;
  for (const char* format : {"table", "csv", "markdown"}) {
    const CommandResult ci = run_subcommand("report " + path("r.jsonl") + " --ci --format " + format);
    EXPECT_NE(ci.output.find(fmt::format("{:.2f} [{:.2f}, {:.2f}]", line.fields.top1, lo, hi)), std::string::npos)
        << ci.output;
  }
}

TEST_F(CompareCli, GateSignificantRuleFromTheCommandLine) {
  ASSERT_EQ(run(path("r.jsonl"), "--qtype int8 -qw int8").exit_code, 0);
  const CommandResult write = run_subcommand("gate " + path("r.jsonl") + " --baseline " + path("b.json") +
                                             " --write-baseline --rule significant");
  ASSERT_EQ(write.exit_code, 0) << write.output;
  const nlohmann::json baseline = nlohmann::json::parse(std::ifstream(path("b.json")));
  EXPECT_EQ(baseline["entries"][0]["rule"], "significant");
  EXPECT_EQ(baseline["entries"][0]["per_image"], last(path("r.jsonl"))["per_image"]);
  const CommandResult same = run_subcommand("gate " + path("r.jsonl") + " --baseline " + path("b.json"));
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_NE(same.output.find("significant rule, McNemar p = 1"), std::string::npos) << same.output;
  const CommandResult bad = run_subcommand("gate " + path("r.jsonl") + " --baseline " + path("b.json") +
                                           " --write-baseline --rule sometimes");
  EXPECT_EQ(bad.exit_code, kExitUserError);
}

TEST_F(CompareCli, StabilityRerunsRecordTheirSpread) {
  const CommandResult r = run(path("r.jsonl"), "--qtype int4 -qw int8 --stability 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("stability rerun 3/3"), std::string::npos) << r.output;
  const ResultLine line = read_results_file(path("r.jsonl")).back();
  const nlohmann::json& s = line.record["stability"];
  ASSERT_TRUE(line.fields.stability_top1_correct);
  EXPECT_EQ(line.fields.stability_top1_correct->size(), 3u);
  EXPECT_EQ(s["reruns"], 3);
  EXPECT_EQ(s["top1"].size(), 3u);
  EXPECT_LE(s["top1_min"].get<double>(), line.fields.top1);
  EXPECT_GE(s["top1_max"].get<double>(), line.fields.top1);
  EXPECT_GE(s["top1_std"].get<double>(), 0.0);
  EXPECT_EQ(line.record["config"]["stability"], 3);
  const CommandResult report = run_subcommand("report " + path("r.jsonl") + " --stability");
  EXPECT_NE(report.output.find("(stability "), std::string::npos) << report.output;

  // Dynamic ranges have no static range to perturb.
  const CommandResult dynamic = run_quant_sim(common_args() + "--qtype int4 --stability 2");
  EXPECT_EQ(dynamic.exit_code, kExitUserError);
  EXPECT_NE(dynamic.output.find("flag --stability"), std::string::npos) << dynamic.output;
}

// The perturbation is a few float32 ulps, seeded, independent per site.
TEST(RangePerturbation, IsSeededBoundedAndPerSite) {
  EXPECT_EQ(range_perturbation(7, 3, 0), 1.0);
  const double ulp = std::ldexp(1.0, -23);
  std::set<double> factors;
  for (int64_t site = 0; site < 200; ++site) {
    const double factor = range_perturbation(7, site, 16);
    EXPECT_EQ(factor, range_perturbation(7, site, 16));
    EXPECT_LE(std::abs(factor - 1.0), 16 * ulp + 1e-18);
    EXPECT_EQ(std::fmod((factor - 1.0) / ulp, 1.0), 0.0);  // a whole number of ulps
    factors.insert(factor);
  }
  EXPECT_GT(factors.size(), 20u);  // sites move independently
  EXPECT_NE(range_perturbation(7, 0, 16) == range_perturbation(8, 0, 16) &&
                range_perturbation(7, 1, 16) == range_perturbation(8, 1, 16) &&
                range_perturbation(7, 2, 16) == range_perturbation(8, 2, 16),
            true);
}

}  // namespace
