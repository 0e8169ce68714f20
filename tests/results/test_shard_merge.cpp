// --shard K/N and `quant-sim merge` end to end: merged shards give exactly the unsharded run's accuracy.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "quantsim/app/commands/merge_command.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/percent.h"
#include "quantsim/data/shard.h"
#include "quantsim/results/results_file.h"
#include "support/fixtures.h"
#include "support/subcommand_runner.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

class ShardMerge : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(std::string("shard_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    model_ = dir_ + "/cnn.pt";
    save_small_cnn(model_, 4);
    data_ = dir_ + "/data";
    make_image_folder(data_, {"a", "b", "c", "d"}, 6);  // 24 images: 8 per shard of 3
    const CommandResult collect = run_quant_sim(common_args() + " -sm collect --results " + path("collect.jsonl"));
    ASSERT_EQ(collect.exit_code, 0) << collect.output;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string common_args() const {
    return "--model " + model_ + " --data " + data_ + " --stats-dir " + dir_ + "/stats --resize 0 --crop 0 -b 5 ";
  }
  // A quantized run with static ranges: dynamic ones (-sm no) depend on which images share a batch, so only static
  // and FP32 runs give the same per-image logits whether sharded or not.
  std::string run_args(const std::string& results, const std::string& extra) const {
    return common_args() + "-sm use --qtype int4 -qw int4 -sh --seed 3 --results " + results + " " + extra;
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_, model_, data_;
};

nlohmann::json last_record(const std::string& results) { return read_results_file(results).back().record; }

TEST_F(ShardMerge, MergedShardsEqualTheUnshardedRunExactly) {
  ASSERT_EQ(run_quant_sim(run_args(path("whole.jsonl"), "")).exit_code, 0);
  for (const char* shard : {"2/3", "1/3", "3/3"}) {  // any order
    const CommandResult r = run_quant_sim(run_args(path("shards.jsonl"), std::string("--shard ") + shard));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  EXPECT_EQ(last_record(path("shards.jsonl"))["images"], 8);
  EXPECT_EQ(last_record(path("shards.jsonl"))["config"]["shard"], "3/3");

  const CommandResult merge = run_subcommand("merge " + path("shards.jsonl") + " --out " + path("merged.jsonl"));
  ASSERT_EQ(merge.exit_code, 0) << merge.output;
  const nlohmann::json whole = last_record(path("whole.jsonl"));
  const nlohmann::json merged = last_record(path("merged.jsonl"));
  EXPECT_EQ(merged["images"], whole["images"]);
  EXPECT_EQ(merged["top1_correct"], whole["top1_correct"]);
  EXPECT_EQ(merged["top1"].get<double>(), whole["top1"].get<double>());
  EXPECT_EQ(merged["top5"].get<double>(), whole["top5"].get<double>());
  EXPECT_EQ(merged["merged_from"], 3);
  EXPECT_TRUE(merged["config"]["shard"].is_null());
  EXPECT_EQ(read_results_file(path("merged.jsonl")).size(), 1u);
}

TEST_F(ShardMerge, MergeAppendsToTheResultsFileByDefault) {
  for (const char* shard : {"1/2", "2/2"}) {
    ASSERT_EQ(run_quant_sim(run_args(path("r.jsonl"), std::string("--shard ") + shard)).exit_code, 0);
  }
  ASSERT_EQ(run_subcommand("merge " + path("r.jsonl")).exit_code, 0);
  EXPECT_EQ(read_results_file(path("r.jsonl")).size(), 3u);
  EXPECT_EQ(last_record(path("r.jsonl"))["images"], 24);
}

TEST_F(ShardMerge, MissingShardIsNamedAndNothingIsAppended) {
  for (const char* shard : {"1/3", "3/3"}) {
    ASSERT_EQ(run_quant_sim(run_args(path("r.jsonl"), std::string("--shard ") + shard)).exit_code, 0);
  }
  const CommandResult merge = run_subcommand("merge " + path("r.jsonl"));
  EXPECT_EQ(merge.exit_code, kExitUserError);
  EXPECT_NE(merge.output.find("missing shard 2/3"), std::string::npos) << merge.output;
  EXPECT_EQ(read_results_file(path("r.jsonl")).size(), 2u);
}

TEST_F(ShardMerge, ShardLargerThanTheSelectionIsRefused) {
  const CommandResult r = run_quant_sim(run_args(path("r.jsonl"), "-ss 2 --shard 3/3"));
  EXPECT_EQ(r.exit_code, kExitUserError);
  EXPECT_NE(r.output.find("--shard 3/3"), std::string::npos) << r.output;
}

// Unit tests of the pieces, on hand-written lines.

ResultLine shard_line(int line_number, const std::string& shard, int64_t images, int64_t top1, int64_t top5) {
  return {line_number,
          {{"top1", percent(top1, images)},
           {"top5", percent(top5, images)},
           {"images", images},
           {"top1_correct", top1},
           {"top5_correct", top5},
           {"model_name", "m"},
           {"precision", "W4A4"},
           {"model_sha256", "abc"},
           {"data", "/d"},
           {"times", {{"evaluate_s", 1.0}}},
           {"config", {{"qtype", "int4"}, {"shard", shard}, {"results", shard + ".jsonl"}}}}};
}

TEST(Shard, ParsesKOfN) {
  const Shard s = parse_shard("--shard", "2/4");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 4);
  EXPECT_EQ(shard_name(s), "2/4");
  for (const char* bad : {"0/4", "5/4", "2", "a/b", "2/0", "-1/3", "1/3/4", ""}) {
    EXPECT_THROW(parse_shard("--shard", bad), UserError) << bad;
  }
}

TEST(Shard, StridesOverTheSelection) {
  std::vector<LabeledImage> images;
  for (int i = 0; i < 7; ++i) images.push_back({std::to_string(i), i});
  const auto taken = take_shard(images, {2, 3});
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].path, "1");
  EXPECT_EQ(taken[1].path, "4");
}

TEST(Shard, MalformedFlagNamesIt) {
  const CommandResult r = run_quant_sim("-a x --shard 4/3");
  EXPECT_EQ(r.exit_code, kExitUserError);
  EXPECT_NE(r.output.find("--shard"), std::string::npos) << r.output;
}

TEST(Merge, SumsCountsExactly) {
  const auto merged = merge_sharded_runs({shard_line(1, "1/2", 3, 1, 2), shard_line(2, "2/2", 4, 2, 4)}, "f");
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged[0]["images"], 7);
  EXPECT_EQ(merged[0]["top1"].get<double>(), 100.0 * 3 / 7);
  EXPECT_EQ(merged[0]["top5"].get<double>(), 100.0 * 6 / 7);
  EXPECT_EQ(merged[0]["times"]["evaluate_s"], 2.0);
}

TEST(Merge, DuplicateShardIsNamedWithItsLines) {
  try {
    merge_sharded_runs({shard_line(1, "1/2", 3, 1, 2), shard_line(2, "2/2", 4, 2, 4), shard_line(5, "2/2", 4, 2, 4)},
                       "f");
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("shard 2/2 more than once (lines 2 and 5)"), std::string::npos) << e.what();
  }
}

TEST(Merge, DifferentConfigsAreDifferentRuns) {
  ResultLine other = shard_line(3, "1/1", 2, 1, 1);
  other.record["config"]["qtype"] = "int8";
  const auto merged = merge_sharded_runs({shard_line(1, "1/2", 3, 1, 2), shard_line(2, "2/2", 4, 2, 4), other}, "f");
  EXPECT_EQ(merged.size(), 2u);
}

TEST(ResultsFile, MalformedLineNamesFileAndLine) {
  const std::string dir = fresh_temp_dir("results_file_malformed");
  std::ofstream(dir + "/r.jsonl") << "{\"model_name\": \"m\", \"top1\": 1, \"config\": {}}\n\n{not json\n";
  try {
    read_results_file(dir + "/r.jsonl");
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/r.jsonl:3"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
