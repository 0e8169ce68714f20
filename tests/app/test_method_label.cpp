// The report's row of a results line: the run's --label when it has one (a sweep's method name), else its flags.
#include <gtest/gtest.h>

#include "quantsim/results/results_table.h"

using namespace quantsim;

namespace {

nlohmann::json line(nlohmann::json label, const std::string& mode = "static") {
  return {{"precision", "W4A4"},
          {"mode", mode},
          {"config", {{"qtype", "int4"}, {"pcq_w", true}, {"clipping", "laplace"}, {"label", label}}}};
}

TEST(MethodLabel, TheLabelNamesTheRow) {
  EXPECT_EQ(method_label(line("aciq")), "W4A4 aciq");
  EXPECT_EQ(method_label(line("aciq", "dynamic")), "W4A4 aciq [dynamic]");
}

TEST(MethodLabel, WithoutALabelTheFlagsDo) {
  EXPECT_EQ(method_label(line("")), "W4A4 -pcq_w -c laplace");
  EXPECT_EQ(method_label(line(nullptr)), "W4A4 -pcq_w -c laplace");  // hand-edited or older lines
  nlohmann::json older = line("");
  older["config"].erase("label");
  EXPECT_EQ(method_label(older), "W4A4 -pcq_w -c laplace");
}

}  // namespace
