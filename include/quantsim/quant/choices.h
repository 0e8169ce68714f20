#pragma once
// The quantization choices a run makes that the quantizers themselves read: which statistic a range uses, where
// activations are quantized, how bit allocation rounds and which prior it assumes, how weights are rounded, and how
// ranges are clipped. The command line fills them (app/config.h); docs/QUANTIZATION.md defines each.
//
// Each choice has one name table, used both to parse a flag's value and to write the value back (results lines,
// statistics files, layer reports): a value's first entry is its canonical name, the one written; later entries are
// aliases that parsing accepts too. The order of a table is the order error messages list the names in.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quantsim {

enum class StatsKind { kMean, kMax };       // -sk: mean of per-batch extremes, or global extremes
enum class ActSites { kOutputs, kInputs };  // paper mode / deploy mode
enum class BitRounding { kRound, kCeil };   // -bam
enum class Prior { kLaplace, kGauss };      // -bap and the ACIQ prior
// --weight-method: round to nearest, GPFQ or AdaRound (docs/QUANTIZATION.md, sections 12 and 13)
enum class WeightMethod { kRtn, kGpfq, kAdaround };
// --arith: float32 fake quantization, or the network on integer codes as integer hardware runs it
// (docs/QUANTIZATION.md, section 16).
enum class ArithChoice { kFloat, kInt };

// -c/--clipping: none, ACIQ under a prior, N standard deviations, or a histogram method (mse, percentile:P,
// entropy; docs/QUANTIZATION.md, section 2).
struct Clipping {
  enum class Kind { kNone, kLaplace, kGauss, kNStd, kMse, kPercentile, kEntropy } kind = Kind::kNone;
  double n_std = 0.0;       // only for kNStd
  double percentile = 0.0;  // only for kPercentile: P in (0, 100]
};

template <typename Enum>
struct ChoiceName {
  const char* name;
  Enum value;
};

// The name table of each choice (specialized below and, for app's choices, beside them).
template <typename Enum>
const std::vector<ChoiceName<Enum>>& choice_names();
template <>
const std::vector<ChoiceName<StatsKind>>& choice_names<StatsKind>();
template <>
const std::vector<ChoiceName<ActSites>>& choice_names<ActSites>();
template <>
const std::vector<ChoiceName<BitRounding>>& choice_names<BitRounding>();
template <>
const std::vector<ChoiceName<Prior>>& choice_names<Prior>();
template <>
const std::vector<ChoiceName<WeightMethod>>& choice_names<WeightMethod>();
template <>
const std::vector<ChoiceName<ArithChoice>>& choice_names<ArithChoice>();
// The named kinds only: kNStd is written and read as "<N>std", kPercentile as "percentile:<P>" (to_string and
// parse_clipping below).
template <>
const std::vector<ChoiceName<Clipping::Kind>>& choice_names<Clipping::Kind>();

// The value `name` stands for (canonical name or alias); nullopt for any other text.
template <typename Enum>
std::optional<Enum> parse_choice(std::string_view name) {
  for (const ChoiceName<Enum>& entry : choice_names<Enum>()) {
    if (name == entry.name) return entry.value;
  }
  return std::nullopt;
}

// The canonical name of `value`: its first entry in the table.
template <typename Enum>
std::string canonical_name(Enum value) {
  for (const ChoiceName<Enum>& entry : choice_names<Enum>()) {
    if (entry.value == value) return entry.name;
  }
  return "?";  // not reached: every value has an entry (tests/quant/test_choices.cpp)
}

// For messages: every name parsing accepts ("gaus, gauss, laplace"), or only the canonical ones ("gaus, laplace"),
// in table order.
template <typename Enum>
std::string accepted_names() {
  std::string text;
  for (const ChoiceName<Enum>& entry : choice_names<Enum>())
    text += (text.empty() ? "" : ", ") + std::string(entry.name);
  return text;
}
template <typename Enum>
std::string canonical_names() {
  std::string text;
  for (const ChoiceName<Enum>& entry : choice_names<Enum>()) {
    if (canonical_name(entry.value) == entry.name) text += (text.empty() ? "" : ", ") + std::string(entry.name);
  }
  return text;
}

// Canonical names: "mean", "outputs", "round", "gaus", "rtn", "float".
std::string to_string(StatsKind kind);
std::string to_string(ActSites act_sites);
std::string to_string(BitRounding rounding);
std::string to_string(Prior prior);
std::string to_string(WeightMethod method);
std::string to_string(ArithChoice arith);
// "no", "laplace", "gaus", "mse", "entropy", "<N>std" with N the shortest text of n_std ("2.5std"), or
// "percentile:<P>" ("percentile:99.99").
std::string to_string(const Clipping& clipping);

// A name of the kind table, "<N>std" with N a positive decimal (at most 6 digits, then at most 12 decimals), or
// "percentile:<P>" with P a decimal in (0, 100] (at most 3 digits, then at most 12 decimals); nullopt for anything
// else.
std::optional<Clipping> parse_clipping(std::string_view text);

}  // namespace quantsim
