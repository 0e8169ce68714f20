// The statistics of --arith int's gap (passes/arith_comparison.h) and its report (passes/arith_report.h):
// docs/QUANTIZATION.md, section 16.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/passes/arith_comparison.h"
#include "quantsim/passes/arith_report.h"
#include "quantsim/quant/choices.h"
#include "quantsim/quant/integer_layer.h"
#include "support/fixtures.h"

using namespace quantsim;

namespace {

at::Tensor ints(std::vector<int32_t> values, std::vector<int64_t> shape) {
  return at::tensor(values, at::kInt).reshape(shape);
}

TEST(SiteCodeGap, CountsDifferencesInSteps) {
  SiteCodeGap gap;
  // Two images of 3 codes: image 0 equal, image 1 off by +2 and -1.
  gap.add(ints({1, 2, 3, 4, 7, 4}, {2, 3}), ints({1, 2, 3, 4, 5, 5}, {2, 3}).to(at::kByte));
  EXPECT_EQ(gap.elements, 6);
  EXPECT_EQ(gap.differing, 2);
  EXPECT_EQ(gap.max_step, 2);
  EXPECT_EQ(gap.abs_step_sum, 3);
  EXPECT_EQ(gap.images, 2);
  EXPECT_EQ(gap.images_differing, 1);
  EXPECT_DOUBLE_EQ(gap.differing_share(), 2.0 / 6.0);
  EXPECT_DOUBLE_EQ(gap.mean_abs_step(), 0.5);
  EXPECT_DOUBLE_EQ(gap.images_differing_share(), 0.5);
  // Accumulates over batches; the largest difference is the largest of any.
  gap.add(ints({0, 0, 0}, {1, 3}), ints({0, 0, 1}, {1, 3}));
  EXPECT_EQ(gap.elements, 9);
  EXPECT_EQ(gap.differing, 3);
  EXPECT_EQ(gap.max_step, 2);
  EXPECT_EQ(gap.images_differing, 2);
}

TEST(SiteCodeGap, EqualCodesGiveZeroAndEmptyGivesNothing) {
  SiteCodeGap gap;
  EXPECT_DOUBLE_EQ(gap.differing_share(), 0.0);
  gap.add(ints({}, {0, 3}), ints({}, {0, 3}));
  EXPECT_EQ(gap.elements, 0);
  const at::Tensor codes = at::randint(0, 256, {4, 2, 3, 3}, at::kInt);
  gap.add(codes, codes.to(at::kByte));
  EXPECT_EQ(gap.elements, 72);
  EXPECT_EQ(gap.differing, 0);
  EXPECT_EQ(gap.max_step, 0);
  EXPECT_EQ(gap.images_differing, 0);
}

TEST(LogitGap, RelativeToTheFloatLogitsSpreadAndTop1) {
  LogitGap gap;
  const at::Tensor float_logits = at::tensor({1.0f, 3.0f, 1.0f, 3.0f}).reshape({2, 2});  // std 1, top-1 class 1
  const at::Tensor integer_logits = at::tensor({1.0f, 3.0f, 3.5f, 3.0f}).reshape({2, 2});
  gap.add(integer_logits, float_logits);
  EXPECT_EQ(gap.images, 2);
  EXPECT_EQ(gap.elements, 4);
  EXPECT_EQ(gap.differing, 1);
  EXPECT_EQ(gap.images_differing, 1);
  EXPECT_EQ(gap.top1_differs, 1);  // image 1: class 0 on the integer path
  EXPECT_DOUBLE_EQ(gap.float_std(), 1.0);
  EXPECT_DOUBLE_EQ(gap.mean_abs_relative(), 2.5 / 4.0);
  EXPECT_DOUBLE_EQ(gap.max_abs_relative(), 2.5);
  EXPECT_DOUBLE_EQ(gap.top1_differs_share(), 0.5);
}

TEST(LogitGap, TiesGoToTheLowerClassOnBothPaths) {
  LogitGap gap;
  // Float: tie between classes 0 and 1 -> class 0; integer: class 0 strictly. Same top-1.
  gap.add(at::tensor({2.0f, 1.0f, 0.0f}).reshape({1, 3}), at::tensor({2.0f, 2.0f, 0.0f}).reshape({1, 3}));
  EXPECT_EQ(gap.top1_differs, 0);
  EXPECT_EQ(gap.differing, 1);
}

TEST(LogitGap, ShapeMismatchIsAUserError) {
  LogitGap gap;
  EXPECT_THROW(gap.add(at::zeros({2, 3}), at::zeros({2, 4})), UserError);
}

TEST(ArithGap, TotalsOverSites) {
  ArithGap gap;
  gap.sites.resize(3);
  gap.sites[0].add(ints({1, 2}, {1, 2}), ints({1, 3}, {1, 2}));
  gap.sites[2].add(ints({9, 2, 4}, {1, 3}), ints({5, 2, 4}, {1, 3}));
  EXPECT_EQ(gap.codes_compared(), 5);
  EXPECT_EQ(gap.codes_differing(), 2);
  EXPECT_EQ(gap.max_step_difference(), 4);
  EXPECT_DOUBLE_EQ(gap.codes_differing_share(), 0.4);
}

// rint(x_hat / scale) + zero_point recovers the fake quantizer's code exactly, for every code of 8 and 16 bits and
// scales of very different sizes.
TEST(CodesOfFakeQuantized, ExactForEveryCode) {
  for (const float scale : {0.0123f, 3.7e-5f, 17.25f, 1.0f / 255.0f}) {
    for (const int bits : {8, 16}) {
      ActivationCodes codes;
      codes.scale = scale;
      codes.bits = bits;
      codes.zero_point = bits == 8 ? 131 : 30001;
      const at::Tensor q = at::arange(0, codes.max_code() + 1, at::kInt);
      const at::Tensor x_hat = (q - codes.zero_point).to(at::kFloat) * scale;  // float32, as the fake quantizer
      EXPECT_TRUE(at::equal(codes_of_fake_quantized(x_hat, codes), q)) << "scale " << scale << " bits " << bits;
    }
  }
}

ArithGap small_gap() {
  ArithGap gap;
  gap.sites.resize(2);
  gap.sites[1].add(ints({1, 2, 3, 4}, {2, 2}), ints({1, 2, 3, 5}, {2, 2}));
  gap.sites[0].add(ints({1, 2, 3, 4}, {2, 2}), ints({1, 2, 3, 4}, {2, 2}));
  gap.order = {1, 0};  // the order forward_integer reported them
  gap.logits.add(at::tensor({1.0f, 2.0f, 2.5f, 0.0f}).reshape({2, 2}),
                 at::tensor({1.0f, 2.0f, 3.0f, 0.0f}).reshape({2, 2}));
  return gap;
}

std::vector<Site> two_sites() {
  Site a;
  a.id = 0;
  a.name = "input";
  Site b;
  b.id = 1;
  b.name = "layer1.conv1:in, with \"quotes\"";
  return {a, b};
}

TEST(ArithReport, RowsInGraphOrderThenLogits) {
  const std::vector<nlohmann::ordered_json> rows = arith_report_rows(two_sites(), small_gap());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["tensor"], "layer1.conv1:in, with \"quotes\"");
  EXPECT_EQ(rows[0]["kind"], "site");
  EXPECT_EQ(rows[0]["elements"], 4);
  EXPECT_DOUBLE_EQ(rows[0]["differing_share"].get<double>(), 0.25);
  EXPECT_EQ(rows[0]["max_step_difference"], 1);
  EXPECT_TRUE(rows[0]["logit_mean_abs_rel"].is_null());
  EXPECT_EQ(rows[1]["tensor"], "input");
  EXPECT_DOUBLE_EQ(rows[1]["differing_share"].get<double>(), 0.0);
  EXPECT_EQ(rows[2]["tensor"], "logits");
  EXPECT_EQ(rows[2]["kind"], "logits");
  EXPECT_TRUE(rows[2]["max_step_difference"].is_null());
  EXPECT_DOUBLE_EQ(rows[2]["top1_differs_share"].get<double>(), 0.0);
  EXPECT_GT(rows[2]["logit_max_abs_rel"].get<double>(), 0.0);
}

TEST(ArithReport, CsvAndJsonWrittenByExtension) {
  const std::string dir = quantsim::testing::fresh_temp_dir("arith_report");
  write_arith_report(dir + "/r.csv", {"m", "abc", "W8A8"}, two_sites(), small_gap());
  const std::string csv = read_file(dir + "/r.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "tensor,kind,elements,differing_share,max_step_difference,mean_abs_step_difference,"
            "images_differing_share,logit_mean_abs_rel,logit_max_abs_rel,top1_differs_share");
  EXPECT_NE(csv.find("\n\"layer1.conv1:in, with \"\"quotes\"\"\",site,4,0.25,1,0.25,0.5,,,\n"), std::string::npos)
      << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
  write_arith_report(dir + "/r.JSON", {"m", "abc", "W8A8"}, two_sites(), small_gap());
  const nlohmann::json json = nlohmann::json::parse(read_file(dir + "/r.JSON"));
  EXPECT_EQ(json["model"], "m");
  EXPECT_EQ(json["images"], 2);
  ASSERT_EQ(json["tensors"].size(), 3u);
  EXPECT_EQ(json["tensors"][2]["tensor"], "logits");
  EXPECT_THROW(write_arith_report(dir + "/r.txt", {}, two_sites(), small_gap()), UserError);
  std::filesystem::remove_all(dir);
}

TEST(ArithChoice, NamesRoundTrip) {
  EXPECT_EQ(to_string(ArithChoice::kFloat), "float");
  EXPECT_EQ(to_string(ArithChoice::kInt), "int");
  EXPECT_EQ(parse_choice<ArithChoice>("int"), ArithChoice::kInt);
  EXPECT_EQ(parse_choice<ArithChoice>("float"), ArithChoice::kFloat);
  EXPECT_FALSE(parse_choice<ArithChoice>("integer"));
  EXPECT_EQ(accepted_names<ArithChoice>(), "float, int");
}

}  // namespace
