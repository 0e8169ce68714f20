// The --export size report: byte counts per layer and in total, widths under bit allocation, wide grids flagged.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "quantsim/export/size_report.h"

namespace quantsim {
namespace {

// A packed [channels, 10] weight with the given code widths and level counts per channel (codes all zero).
WeightRecord packed_record(const std::string& name, const std::vector<int>& code_bits,
                           const std::vector<int64_t>& levels) {
  WeightRecord record;
  record.name = name;
  record.bits = 4;
  PackedWeight p;
  const auto channels = static_cast<int64_t>(code_bits.size());
  p.shape = {channels, 10};
  p.code_bits = code_bits;
  p.levels = levels;
  p.scale.assign(code_bits.size(), 0.5f);
  p.zero_point.assign(code_bits.size(), 0);
  int bits = 0;
  for (int b : code_bits) bits += 10 * b;
  p.codes.assign(static_cast<size_t>((bits + 7) / 8), '\0');
  record.packed = p;
  record.bias = at::zeros({channels});
  return record;
}

TEST(SizeReport, CountsCodesParametersAndBiases) {
  WeightRecord record = packed_record("conv", {4, 4, 4}, {16, 16, 16});
  record.corrections.mean = MeanCorrection{at::zeros({3, 1}, at::kDouble), at::zeros({3, 1}, at::kDouble)};
  const LayerSize size = layer_size(record);
  EXPECT_EQ(size.bits, "4");
  EXPECT_FALSE(size.wide_grid);
  EXPECT_EQ(size.parameters, 33);
  EXPECT_EQ(size.fp32_bytes, 4 * 33);
  EXPECT_EQ(size.code_bytes, 15);               // 30 codes of 4 bits
  EXPECT_EQ(size.param_bytes, 3 * 8 + 3 * 16);  // scale + zero point, and two float64 per channel for the mean step
  EXPECT_EQ(size.bias_bytes, 12);
  EXPECT_EQ(size.quantized_bytes(), 15 + 72 + 12);
}

TEST(SizeReport, BitAllocatedWidthsShowTheirRangeAndCostAByteEach) {
  const LayerSize size = layer_size(packed_record("conv", {3, 5, 4}, {8, 32, 16}));
  EXPECT_EQ(size.bits, "3-5 (mean 4.00)");
  EXPECT_FALSE(size.wide_grid);  // power-of-two grids, whatever the widths
  EXPECT_EQ(size.param_bytes, 3 * 8 + 3);
}

TEST(SizeReport, GridsOfNonPowerOfTwoLevelsAreFlagged) {
  const std::vector<LayerSize> sizes = {layer_size(packed_record("gpfq", {5}, {17})),
                                        layer_size(packed_record("rtn", {4}, {16}))};
  EXPECT_TRUE(sizes[0].wide_grid);
  const std::string table = format_size_report(sizes);
  EXPECT_NE(table.find("5*"), std::string::npos) << table;
  EXPECT_NE(table.find("2^b + 1"), std::string::npos) << table;
}

TEST(SizeReport, FloatLayersKeepFloat32BytesAndTheTotalSumsTheRows) {
  WeightRecord float_layer;
  float_layer.name = "fc";
  float_layer.float_weight = at::zeros({10, 8});
  const std::vector<LayerSize> sizes = {layer_size(packed_record("conv", {2, 2}, {4, 4})), layer_size(float_layer)};
  EXPECT_EQ(sizes[1].bits, "f32");
  EXPECT_EQ(sizes[1].quantized_bytes(), sizes[1].fp32_bytes);
  const std::string table = format_size_report(sizes);
  const int64_t fp32 = sizes[0].fp32_bytes + sizes[1].fp32_bytes;
  const int64_t quantized = sizes[0].quantized_bytes() + sizes[1].quantized_bytes();
  const std::string total = table.substr(table.find("total"));
  EXPECT_NE(total.find(" " + std::to_string(fp32) + " "), std::string::npos) << table;
  EXPECT_NE(total.find(" " + std::to_string(quantized) + " "), std::string::npos) << table;
}

}  // namespace
}  // namespace quantsim
