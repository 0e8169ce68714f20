// The nesting bound applied to every JSON file quant-sim reads, before it is parsed.
#include <gtest/gtest.h>

#include <string>

#include "quantsim/core/errors.h"
#include "quantsim/core/json_nesting.h"

namespace quantsim {
namespace {

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonNesting, DepthUpToTheBoundIsAccepted) {
  EXPECT_EQ(json_nesting_problem(nested(kMaxJsonNesting)), "");
  EXPECT_EQ(json_nesting_problem(R"({"a": [{"b": [1, 2]}], "c": {}})"), "");
}

TEST(JsonNesting, DeeperIsRefusedNamingTheByte) {
  EXPECT_EQ(json_nesting_problem(nested(kMaxJsonNesting + 1)),
            "nested deeper than 64 levels at byte " + std::to_string(kMaxJsonNesting));
  try {
    check_json_nesting(nested(100000), "f.json");
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("f.json: not valid JSON: nested deeper than 64 levels", 0), 0u) << e.what();
  }
}

TEST(JsonNesting, BracketsInStringsDoNotCount) {
  const std::string deep_string = "\"" + nested(1000) + "\\\"[[[\"";
  EXPECT_EQ(json_nesting_problem("[" + deep_string + "]"), "");
}

}  // namespace
}  // namespace quantsim
