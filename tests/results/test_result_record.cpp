// ResultRecord to and from JSON: a line read and written back is the same line (what the readers do not model
// included), merge writes its merged line through the type, and one percent() turns counts into percentages.
#include <gtest/gtest.h>

#include "quantsim/app/commands/merge_command.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/percent.h"
#include "quantsim/results/result_record.h"
#include "quantsim/results/results_file.h"
#include "quantsim/results/results_table.h"

using namespace quantsim;
using nlohmann::json;

namespace {

// A shard line as quant-sim writes it, with a field of a newer version that no reader knows.
json shard_line(const std::string& shard, int64_t images, int64_t top1, int64_t top5,
                const std::string& qtype = "int4") {
  return {{"top1", percent(top1, images)},
          {"top5", percent(top5, images)},
          {"top1_correct", top1},
          {"top5_correct", top5},
          {"images", images},
          {"bad_images", 0},
          {"images_per_second", 10.0},
          {"model", "/m/net.pt"},
          {"model_name", "net"},
          {"model_sha256", "abc"},
          {"data", "/d"},
          {"precision", "W4A4"},
          {"mode", "static"},
          {"device", "cpu"},
          {"version", "0.9"},
          {"timestamp", "2026-11-30T00:00:00Z"},
          {"times", {{"evaluate_s", 1.5}, {"forward_s", 1.0}}},
          {"future_field", {{"nested", {1, 2, 3}}}},
          {"config",
           {{"qtype", qtype},
            {"pcq_w", true},
            {"clipping", "no"},
            {"act_sites", "outputs"},
            {"label", "aciq"},
            {"shard", shard.empty() ? json(nullptr) : json(shard)},
            {"sweep_key", "net/W4A4/aciq/1"},
            {"results", "r.jsonl"}}}};
}

TEST(ResultRecordJson, ALineReadAndWrittenBackIsTheSameLine) {
  const json line = shard_line("2/3", 10, 3, 7);
  const ResultRecord r = ResultRecord::from_json(line, "f:1");
  EXPECT_EQ(r.model_sha256, "abc");
  EXPECT_EQ(r.data, "/d");
  EXPECT_EQ(r.version, "0.9");
  EXPECT_EQ(r.images_per_second, 10.0);
  ASSERT_TRUE(r.times.has_value());
  EXPECT_EQ(r.times->at("evaluate_s"), 1.5);
  EXPECT_FALSE(r.merged_from.has_value());
  EXPECT_EQ(r.other_fields, (json{{"model", "/m/net.pt"}, {"device", "cpu"}, {"future_field", line["future_field"]}}));
  EXPECT_EQ(r.to_json().dump(), line.dump());
}

TEST(ResultRecordJson, FieldsAtTheirDefaultAreWrittenAsTheLineSpelledThem) {
  // Absent, null, "" and an explicit "FP32" all read as the default; each comes back as it was.
  const json minimal = {{"model_name", "m"}, {"top1", 1.5}, {"config", json::object()}};
  EXPECT_EQ(ResultRecord::from_json(minimal, "f:1").to_json().dump(), minimal.dump());
  const json spelled = {{"model_name", "m"},
                        {"top1", 1.5},
                        {"precision", "FP32"},
                        {"mode", ""},
                        {"top5", nullptr},
                        {"model_sha256", nullptr},
                        {"config", {{"shard", nullptr}, {"sweep_key", ""}, {"label", nullptr}}}};
  const ResultRecord r = ResultRecord::from_json(spelled, "f:2");
  EXPECT_EQ(r.precision, "FP32");
  EXPECT_FALSE(r.top5.has_value());
  EXPECT_FALSE(r.model_sha256.has_value());
  EXPECT_EQ(r.to_json().dump(), spelled.dump());
}

TEST(ResultRecordJson, ChangedFieldsAreWrittenAndReadBack) {
  ResultRecord r = ResultRecord::from_json(shard_line("1/2", 10, 3, 7), "f:1");
  r.shard.clear();
  r.sweep_key = "net/W4A4/aciq/2";
  r.precision = "W8A8";
  r.merged_from = 2;
  r.times = std::map<std::string, double>{{"evaluate_s", 4.0}};
  const json written = r.to_json();
  EXPECT_TRUE(written["config"]["shard"].is_null());
  EXPECT_EQ(written["config"]["sweep_key"], "net/W4A4/aciq/2");
  EXPECT_EQ(written["precision"], "W8A8");
  EXPECT_EQ(written["times"], (json{{"evaluate_s", 4.0}}));
  EXPECT_EQ(written["device"], "cpu");  // not modelled, kept
  const ResultRecord back = ResultRecord::from_json(written, "f:2");
  EXPECT_EQ(back.shard, "");
  EXPECT_EQ(back.sweep_key, "net/W4A4/aciq/2");
  EXPECT_EQ(back.precision, "W8A8");
  EXPECT_EQ(back.merged_from, 2);
  EXPECT_EQ(back.to_json().dump(), written.dump());
}

TEST(ResultRecordJson, ARecordBuiltInMemoryIsALineTheReadersAccept) {
  ResultRecord r;
  r.model_name = "m";
  r.precision = "W4A4";
  r.top1 = 25.0;
  r.images = 4;
  r.top1_correct = 1;
  const json line = r.to_json();
  EXPECT_EQ(line.dump(),
            R"({"config":{},"images":4,"model_name":"m","precision":"W4A4","top1":25.0,"top1_correct":1})");
  EXPECT_EQ(ResultRecord::from_json(line, "f:1").to_json().dump(), line.dump());
}

TEST(ResultRecordJson, ALineBuiltInMemoryCarriesItsFields) {
  const ResultLine line(4, shard_line("1/2", 10, 3, 7));
  EXPECT_EQ(line.line_number, 4);
  EXPECT_EQ(line.fields.shard, "1/2");
  EXPECT_EQ(line.fields.top5_correct, 7);
  EXPECT_EQ(method_label(line.fields), "W4A4 aciq");
  EXPECT_EQ(method_label(line.fields), method_label(line.record));
  try {
    ResultLine(9, {{"top1", 1.0}, {"config", json::object()}});
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "line 9: no \"model_name\" in this results line");
  }
}

TEST(ResultRecordJson, MergeWritesTheFirstShardsLineWithTheSums) {
  const auto merged = merge_sharded_runs({{1, shard_line("1/2", 3, 1, 2)}, {2, shard_line("2/2", 4, 2, 4)}}, "f");
  ASSERT_EQ(merged.size(), 1u);
  const json& line = merged[0];
  EXPECT_EQ(line["images"], 7);
  EXPECT_EQ(line["top1"].get<double>(), percent(3, 7));
  EXPECT_EQ(line["top5"].get<double>(), percent(6, 7));
  EXPECT_EQ(line["times"], (json{{"evaluate_s", 3.0}, {"forward_s", 2.0}}));
  EXPECT_EQ(line["images_per_second"].get<double>(), 7 / 3.0);
  EXPECT_EQ(line["merged_from"], 2);
  EXPECT_TRUE(line["config"]["shard"].is_null());
  EXPECT_EQ(line["config"]["sweep_key"], "net/W4A4/aciq/1");
  EXPECT_EQ(line["future_field"], shard_line("1/2", 3, 1, 2)["future_field"]);  // kept as the first shard had it
  EXPECT_EQ(line["device"], "cpu");
  const ResultRecord r = ResultRecord::from_json(line, "merged");  // what append_result checks
  EXPECT_EQ(r.bad_images, 0);
}

TEST(ResultRecordJson, MergeKeepsRunsOfDifferentConfigsApart) {
  const auto merged = merge_sharded_runs({{1, shard_line("1/2", 3, 1, 2)},
                                          {2, shard_line("1/2", 3, 1, 2, "int8")},
                                          {3, shard_line("2/2", 4, 2, 4)},
                                          {4, shard_line("2/2", 4, 2, 4, "int8")}},
                                         "f");
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0]["config"]["qtype"], "int4");
  EXPECT_EQ(merged[1]["config"]["qtype"], "int8");
}

TEST(Percent, IsHitsOverImagesInPercent) {
  EXPECT_EQ(percent(0, 0), 0.0);
  EXPECT_EQ(percent(3, 7), 100.0 * 3 / 7);
  EXPECT_EQ(percent(7, 7), 100.0);
}

}  // namespace
