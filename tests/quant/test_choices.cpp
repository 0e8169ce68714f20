// The name tables of the quantization choices (quant/choices.h): every value has a canonical name that parses back
// to it, every alias parses to its value, and the written names are those results lines and statistics files hold.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "quantsim/quant/choices.h"

namespace quantsim {
namespace {

// Every value of the enum round-trips through its table, and every entry of the table parses to its own value.
template <typename Enum>
void expect_round_trips(const std::vector<Enum>& all_values) {
  for (const Enum value : all_values) {
    const std::string name = to_string(value);
    EXPECT_EQ(parse_choice<Enum>(name), value) << name;
  }
  std::set<std::string> names;
  for (const ChoiceName<Enum>& entry : choice_names<Enum>()) {
    EXPECT_TRUE(names.insert(entry.name).second) << "listed twice: " << entry.name;
    EXPECT_EQ(parse_choice<Enum>(entry.name), entry.value) << entry.name;
  }
  EXPECT_FALSE(parse_choice<Enum>(""));
  EXPECT_FALSE(parse_choice<Enum>("nonsense"));
}

TEST(Choices, EveryValueRoundTrips) {
  expect_round_trips<StatsKind>({StatsKind::kMean, StatsKind::kMax});
  expect_round_trips<ActSites>({ActSites::kOutputs, ActSites::kInputs});
  expect_round_trips<BitRounding>({BitRounding::kRound, BitRounding::kCeil});
  expect_round_trips<Prior>({Prior::kLaplace, Prior::kGauss});
  expect_round_trips<WeightMethod>({WeightMethod::kRtn, WeightMethod::kGpfq});
}

TEST(Choices, WrittenNamesAreTheCanonicalOnes) {
  EXPECT_EQ(to_string(StatsKind::kMean), "mean");
  EXPECT_EQ(to_string(StatsKind::kMax), "max");
  EXPECT_EQ(to_string(ActSites::kOutputs), "outputs");
  EXPECT_EQ(to_string(ActSites::kInputs), "inputs");
  EXPECT_EQ(to_string(BitRounding::kRound), "round");
  EXPECT_EQ(to_string(BitRounding::kCeil), "ceil");
  EXPECT_EQ(to_string(Prior::kGauss), "gaus");
  EXPECT_EQ(to_string(Prior::kLaplace), "laplace");
  EXPECT_EQ(to_string(WeightMethod::kRtn), "rtn");
  EXPECT_EQ(to_string(WeightMethod::kGpfq), "gpfq");
}

TEST(Choices, AliasesParseButAreNotWritten) {
  EXPECT_EQ(parse_choice<Prior>("gauss"), Prior::kGauss);
  EXPECT_EQ(parse_choice<Clipping::Kind>("gauss"), Clipping::Kind::kGauss);
  EXPECT_EQ(accepted_names<Prior>(), "gaus, gauss, laplace");
  EXPECT_EQ(canonical_names<Prior>(), "gaus, laplace");
  EXPECT_EQ(canonical_names<Clipping::Kind>(), "no, laplace, gaus, mse, entropy");
}

TEST(Choices, EveryClippingRoundTrips) {
  for (const Clipping::Kind kind : {Clipping::Kind::kNone, Clipping::Kind::kLaplace, Clipping::Kind::kGauss}) {
    const std::optional<Clipping> parsed = parse_clipping(to_string(Clipping{kind, 0.0}));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->kind, kind);
  }
  for (const double n_std : {0.5, 2.0, 2.5, 123456.123456789012}) {
    const std::optional<Clipping> parsed = parse_clipping(to_string(Clipping{Clipping::Kind::kNStd, n_std}));
    ASSERT_TRUE(parsed) << n_std;
    EXPECT_EQ(parsed->kind, Clipping::Kind::kNStd);
    EXPECT_EQ(parsed->n_std, n_std);
  }
  EXPECT_EQ(to_string(Clipping{Clipping::Kind::kNone, 0.0}), "no");
  EXPECT_EQ(to_string(Clipping{Clipping::Kind::kGauss, 0.0}), "gaus");
  EXPECT_EQ(to_string(Clipping{Clipping::Kind::kNStd, 2.5}), "2.5std");
}

TEST(Choices, ClippingRefusesWhatIsNotANameOrNstd) {
  for (const char* text : {"", "Nstd", "std", "0std", "-1std", "1e3std", "1234567std", "2.5", "cauchy", "gaussian"}) {
    EXPECT_FALSE(parse_clipping(text)) << text;
  }
}

}  // namespace
}  // namespace quantsim
