// The statistics of comparisons (docs/QUANTIZATION.md, section 15): Wilson intervals and McNemar's exact test
// against hand-computed values, per-image bitsets through JSON and shard merges, and the CI/per-image/stability
// fields of a results line checked against its counts.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "quantsim/core/errors.h"
#include "quantsim/core/percent.h"
#include "quantsim/results/comparison_stats.h"
#include "quantsim/results/per_image.h"
#include "quantsim/results/result_record.h"
#include "quantsim/results/results_table.h"

using namespace quantsim;
using nlohmann::json;

namespace {

// Hand-computed with z = 1.959964, z^2 = 3.841459: for 0 of 10, hi = (z^2/20 + z sqrt(z^2/400)) / (1 + z^2/10)
// = (0.192073 + 0.192073) / 1.384146 = 0.277533; for 5 of 10, 0.5 -+ z/1.384146 * sqrt(0.025 + 0.009604)
// = 0.5 -+ 0.263407.
TEST(WilsonInterval, MatchesHandComputedValues) {
  const auto none = wilson_interval_percent(0, 10);
  EXPECT_EQ(none.first, 0.0);
  EXPECT_NEAR(none.second, 27.7533, 1e-3);
  const auto all = wilson_interval_percent(10, 10);
  EXPECT_NEAR(all.first, 72.2467, 1e-3);
  EXPECT_EQ(all.second, 100.0);
  const auto half = wilson_interval_percent(5, 10);
  EXPECT_NEAR(half.first, 23.6593, 1e-3);
  EXPECT_NEAR(half.second, 76.3407, 1e-3);
  // Narrower with more images, and always around the observed share.
  const auto many = wilson_interval_percent(799, 1300);
  EXPECT_LT(many.first, percent(799, 1300));
  EXPECT_GT(many.second, percent(799, 1300));
  EXPECT_LT(many.second - many.first, 6.0);
}

// Exact two-sided binomial test: p = 2 * sum_{i <= min(b, c)} C(b + c, i) / 2^(b + c), at most 1. 1 vs 9:
// 2 * (1 + 10) / 1024; 3 vs 12: 2 * (1 + 15 + 105 + 455) / 32768; 400 vs 500 from exact integer sums.
TEST(McNemar, ExactPMatchesHandComputedValues) {
  EXPECT_NEAR(mcnemar_exact_p(1, 9), 22.0 / 1024.0, 1e-15);
  EXPECT_NEAR(mcnemar_exact_p(9, 1), 22.0 / 1024.0, 1e-15);
  EXPECT_NEAR(mcnemar_exact_p(3, 12), 1152.0 / 32768.0, 1e-15);
  EXPECT_NEAR(mcnemar_exact_p(0, 6), 2.0 / 64.0, 1e-15);
  EXPECT_EQ(mcnemar_exact_p(5, 5), 1.0);
  EXPECT_EQ(mcnemar_exact_p(0, 0), 1.0);
  EXPECT_NEAR(mcnemar_exact_p(400, 500) / 0.0009564441369189461, 1.0, 1e-9);
  EXPECT_NEAR(mcnemar_exact_p(37, 63) / 0.012032975725363477, 1.0, 1e-9);
}

TEST(Base64, RoundTripsAndRefusesNonCanonicalText) {
  EXPECT_EQ(base64_encode("Man"), "TWFu");
  EXPECT_EQ(base64_encode("Ma"), "TWE=");
  EXPECT_EQ(base64_encode("M"), "TQ==");
  std::string bytes;
  for (const std::string text : {"TWFu", "TWE=", "TQ==", ""}) {
    ASSERT_TRUE(base64_decode(text, bytes)) << text;
    EXPECT_EQ(base64_encode(bytes), text);
  }
  for (const std::string bad : {"TWF", "TW=u", "TQ=A", "TR==", "T*Fu", "TQ==TQ=="}) {
    EXPECT_FALSE(base64_decode(bad, bytes)) << bad;
  }
}

PerImageCorrectness pattern(int64_t images, int64_t first_position = 0, int64_t stride = 1) {
  PerImageCorrectness data;
  for (int64_t i = 0; i < images; ++i) {
    const int64_t position = first_position + i * stride;
    data.top1.push_back(position % 3 == 0);
    data.top5.push_back(position % 3 == 0 || position % 5 == 0);
    data.order.add(position, "class/" + std::to_string(position) + ".jpg", position % 7);
  }
  return data;
}

TEST(PerImage, BitsetsRoundTripThroughJson) {
  for (const int64_t images : {1, 8, 13, 40000}) {  // 40000 images: 5000 bytes, more than one base64 string
    const PerImageCorrectness data = pattern(images);
    const json written = per_image_to_json(data);
    EXPECT_EQ(written["images"], images);
    EXPECT_EQ(written["top1"].size(), images == 40000 ? 2u : 1u);
    for (const json& chunk : written["top1"]) EXPECT_LE(chunk.get<std::string>().size(), kMaxResultStringBytes);
    const PerImageCorrectness back = per_image_from_json(written, "f:1");
    EXPECT_EQ(back.top1, data.top1);
    EXPECT_EQ(back.top5, data.top5);
    EXPECT_TRUE(back.order == data.order);
    EXPECT_EQ(back.order.hex().size(), 32u);
  }
}

TEST(PerImage, RefusesImpossibleBitsets) {
  const json good = per_image_to_json(pattern(13));
  const auto refused = [](json value, const std::string& what) {
    try {
      per_image_from_json(value, "f:1");
      ADD_FAILURE() << "accepted " << value.dump();
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  json longer = good;
  longer["images"] = 17;
  refused(longer, "holds 2 bytes, not the 3 of 17 images");
  json padding = good;
  padding["top1"] = json::array({base64_encode(std::string("\x01\xff", 2))});  // bits 13..15 set
  refused(padding, "past the last image");
  json not_top5 = good;
  not_top5["top5"] = json::array({base64_encode(std::string(2, '\0'))});
  refused(not_top5, "a top-1 hit but not a top-5 hit");
  json order = good;
  order["order"] = "xyz";
  refused(order, "per_image.order");
}

TEST(PerImage, ShardsMergeBackIntoTheWholeRun) {
  const PerImageCorrectness whole = pattern(11);
  std::vector<PerImageCorrectness> shards;
  for (int64_t k = 0; k < 3; ++k) shards.push_back(pattern((11 - k + 2) / 3, k, 3));  // 4, 4, 3 images
  const PerImageCorrectness merged = merge_shard_correctness({&shards[0], &shards[1], &shards[2]});
  EXPECT_EQ(merged.top1, whole.top1);
  EXPECT_EQ(merged.top5, whole.top5);
  EXPECT_TRUE(merged.order == whole.order);
  EXPECT_TRUE(same_images(merged, whole));
  EXPECT_FALSE(same_images(merged, pattern(11, 1)));                                       // same count, other images
  EXPECT_THROW(merge_shard_correctness({&shards[2], &shards[0], &shards[1]}), UserError);  // 3, 4, 4: no striding
}

TEST(PerImage, DiscordantPairsCountEachSide) {
  PerImageCorrectness a = pattern(30);
  PerImageCorrectness b = a;
  b.top1[0] = false;  // position 0: a right, b wrong
  b.top1[1] = true;   // b right, a wrong
  b.top1[2] = true;
  const DiscordantPairs pairs = discordant_top1(a, b);
  EXPECT_EQ(pairs.only_a, 1);
  EXPECT_EQ(pairs.only_b, 2);
}

json counted_line(int64_t top1_correct, int64_t top5_correct, int64_t images) {
  return {{"model_name", "m"},       {"top1", percent(top1_correct, images)}, {"top5", percent(top5_correct, images)},
          {"images", images},        {"top1_correct", top1_correct},          {"top5_correct", top5_correct},
          {"config", json::object()}};
}

TEST(ResultRecordComparisons, ReadsCheckedCiPerImageAndStability) {
  const PerImageCorrectness data = pattern(30);
  json line = counted_line(data.top1_correct(), data.top5_correct(), 30);
  EXPECT_NO_THROW(ResultRecord::from_json(line, "f:1"));  // an older line without them
  line["top1_ci95"] = ci95_json(data.top1_correct(), 30);
  line["top5_ci95"] = ci95_json(data.top5_correct(), 30);
  line["per_image"] = per_image_to_json(data);
  line["stability"] = stability_json(data.top1_correct(), 30, {9, 11, 10}, 16);
  const ResultRecord r = ResultRecord::from_json(line, "f:1");
  ASSERT_TRUE(r.per_image && r.top1_ci95 && r.stability_top1_correct);
  EXPECT_EQ(*r.stability_top1_correct, (std::vector<int64_t>{9, 11, 10}));
  EXPECT_NEAR(line["stability"]["top1_min"].get<double>(), 30.0, 1e-12);  // 9 of 30
  EXPECT_NEAR(line["stability"]["top1_max"].get<double>(), 100.0 * 11 / 30, 1e-12);
  // Main 10 and reruns 9, 11, 10 of 30: mean 10/30, sample std sqrt(2 / 3) hits = 2.7217 points.
  EXPECT_NEAR(line["stability"]["top1_std"].get<double>(), 100.0 * std::sqrt(2.0 / 3.0) / 30, 1e-9);
  EXPECT_EQ(r.to_json()["per_image"], line["per_image"]);
  EXPECT_EQ(ResultRecord::from_json(r.to_json(), "f:1").to_json(), r.to_json());
}

TEST(ResultRecordComparisons, RefusesFieldsThatDisagreeWithTheCounts) {
  const PerImageCorrectness data = pattern(30);
  const json base = counted_line(data.top1_correct(), data.top5_correct(), 30);
  const auto refused = [](const json& line, const std::string& what) {
    try {
      ResultRecord::from_json(line, "f:1");
      ADD_FAILURE() << "accepted " << line.dump();
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  json ci = base;
  ci["top1_ci95"] = {10.0, 90.0};
  refused(ci, "f:1: top1_ci95: [10, 90] is not the 95% Wilson interval");
  json ci_shape = base;
  ci_shape["top5_ci95"] = 3;
  refused(ci_shape, "top5_ci95: must be [lo, hi]");
  json other_counts = counted_line(data.top1_correct() - 1, data.top5_correct(), 30);
  other_counts["per_image"] = per_image_to_json(data);
  refused(other_counts, "per_image: holds 10 top-1 and");
  json other_images = counted_line(data.top1_correct(), data.top5_correct(), 31);
  other_images["per_image"] = per_image_to_json(data);
  refused(other_images, "per_image.images: 30 is not images (31)");
  json stability = base;
  stability["stability"] = stability_json(data.top1_correct(), 30, {9, 11}, 16);
  stability["stability"]["top1_max"] = 50.0;
  refused(stability, "stability.top1_max");
  json too_many = base;
  too_many["stability"] = stability_json(data.top1_correct(), 30, {31}, 16);
  refused(too_many, "stability.top1_correct");
}

TEST(ReportComparisons, CiAndStabilityCellsStayAligned) {
  json with_stability = counted_line(10, 20, 30);
  with_stability["precision"] = "W4A4";
  with_stability["config"] = {{"qtype", "int4"}, {"label", "a"}};
  with_stability["stability"] = stability_json(10, 30, {9, 12}, 16);
  json plain = counted_line(12, 20, 30);
  plain["precision"] = "W4A4";
  plain["config"] = {{"qtype", "int4"}, {"label", "b"}};
  const std::vector<ResultLine> lines = {ResultLine(1, with_stability), ResultLine(2, plain)};
  const std::string text = render_results_table(build_results_table(lines, {true, true}), TableFormat::kTable);
  const auto [lo, hi] = wilson_interval_percent(10, 30);
  EXPECT_NE(text.find(fmt::format("33.33 [{:.2f}, {:.2f}] (stability 30.00-40.00)", lo, hi)), std::string::npos)
      << text;
  std::vector<size_t> lengths;
  for (size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lengths.push_back(end - start);
  }
  ASSERT_EQ(lengths.size(), 3u) << text;
  EXPECT_EQ(lengths[0], lengths[1]) << text;
  EXPECT_EQ(lengths[1], lengths[2]) << text;
  // Without the options the cells are the two-decimal top-1 alone, as before.
  EXPECT_EQ(build_results_table(lines).cells[0][0], "33.33");
}

}  // namespace
