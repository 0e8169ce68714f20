#include "quantsim/quant/choices.h"

#include <cstdlib>
#include <regex>

#include <fmt/format.h>

namespace quantsim {

// The names are those of the command line (docs/QUANTIZATION.md); results lines and statistics files hold the
// canonical ones, so a table may gain aliases but never change a value's first name.
template <>
const std::vector<ChoiceName<StatsKind>>& choice_names<StatsKind>() {
  static const std::vector<ChoiceName<StatsKind>> names = {{"mean", StatsKind::kMean}, {"max", StatsKind::kMax}};
  return names;
}

template <>
const std::vector<ChoiceName<ActSites>>& choice_names<ActSites>() {
  static const std::vector<ChoiceName<ActSites>> names = {{"outputs", ActSites::kOutputs},
                                                          {"inputs", ActSites::kInputs}};
  return names;
}

template <>
const std::vector<ChoiceName<BitRounding>>& choice_names<BitRounding>() {
  static const std::vector<ChoiceName<BitRounding>> names = {{"round", BitRounding::kRound},
                                                             {"ceil", BitRounding::kCeil}};
  return names;
}

// "gaus" as in the public code's flags; "gauss" accepted too.
template <>
const std::vector<ChoiceName<Prior>>& choice_names<Prior>() {
  static const std::vector<ChoiceName<Prior>> names = {
      {"gaus", Prior::kGauss}, {"gauss", Prior::kGauss}, {"laplace", Prior::kLaplace}};
  return names;
}

template <>
const std::vector<ChoiceName<WeightMethod>>& choice_names<WeightMethod>() {
  static const std::vector<ChoiceName<WeightMethod>> names = {
      {"rtn", WeightMethod::kRtn}, {"gpfq", WeightMethod::kGpfq}, {"adaround", WeightMethod::kAdaround}};
  return names;
}

template <>
const std::vector<ChoiceName<ArithChoice>>& choice_names<ArithChoice>() {
  static const std::vector<ChoiceName<ArithChoice>> names = {{"float", ArithChoice::kFloat},
                                                             {"int", ArithChoice::kInt}};
  return names;
}

template <>
const std::vector<ChoiceName<Clipping::Kind>>& choice_names<Clipping::Kind>() {
  static const std::vector<ChoiceName<Clipping::Kind>> names = {
      {"no", Clipping::Kind::kNone},     {"laplace", Clipping::Kind::kLaplace}, {"gaus", Clipping::Kind::kGauss},
      {"gauss", Clipping::Kind::kGauss}, {"mse", Clipping::Kind::kMse},         {"entropy", Clipping::Kind::kEntropy}};
  return names;
}

std::string to_string(StatsKind kind) { return canonical_name(kind); }
std::string to_string(ActSites act_sites) { return canonical_name(act_sites); }
std::string to_string(BitRounding rounding) { return canonical_name(rounding); }
std::string to_string(Prior prior) { return canonical_name(prior); }
std::string to_string(WeightMethod method) { return canonical_name(method); }
std::string to_string(ArithChoice arith) { return canonical_name(arith); }

std::string to_string(const Clipping& clipping) {
  if (clipping.kind == Clipping::Kind::kNStd) return fmt::format("{}std", clipping.n_std);
  if (clipping.kind == Clipping::Kind::kPercentile) return fmt::format("percentile:{}", clipping.percentile);
  return canonical_name(clipping.kind);
}

std::optional<Clipping> parse_clipping(std::string_view text) {
  if (const std::optional<Clipping::Kind> kind = parse_choice<Clipping::Kind>(text)) return Clipping{*kind, 0.0};
  const std::string value(text);
  std::smatch match;
  if (std::regex_match(value, match, std::regex("([0-9]{1,6}(\\.[0-9]{0,12})?)std"))) {
    const double n_std = std::strtod(match[1].str().c_str(), nullptr);
    if (n_std > 0) return Clipping{Clipping::Kind::kNStd, n_std};
  }
  if (std::regex_match(value, match, std::regex("percentile:([0-9]{1,3}(\\.[0-9]{0,12})?)"))) {
    const double percent = std::strtod(match[1].str().c_str(), nullptr);
    if (percent > 0 && percent <= 100) return Clipping{Clipping::Kind::kPercentile, 0.0, percent};
  }
  return std::nullopt;
}

}  // namespace quantsim
