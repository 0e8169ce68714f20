// optimal-alpha: prints the ACIQ optimal clipping values solved by the library (not a stored table), and writes
// them and the expected-MSE curves as CSV for tools/plot_alpha.py.
//
//   optimal-alpha [--max-bits N] [--csv FILE] [--curve FILE]
#include <fmt/format.h>
#include <cxxopts.hpp>

#include <exception>
#include <iostream>
#include <string>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/quant/aciq.h"

namespace {

using quantsim::Prior;

constexpr int kCurveBits[] = {2, 3, 4};
constexpr int kCurvePoints = 400;
constexpr double kCurveReach = 1.6;  // the curves span alpha in (0, 1.6 * alpha*(4 bits)]

const char* prior_name(Prior prior) { return prior == Prior::kLaplace ? "laplace" : "gauss"; }

std::string table_text(int max_bits) {
  std::string text = "ACIQ optimal clipping, unit scale (Laplace: alpha / b, Gauss: alpha / sigma)\n";
  text += fmt::format("{:>4}  {:>9}  {:>9}\n", "bits", "laplace", "gauss");
  for (int bits = 1; bits <= max_bits; ++bits) {
    text += fmt::format("{:>4}  {:>9.4f}  {:>9.4f}\n", bits, quantsim::optimal_alpha(Prior::kLaplace, bits),
                        quantsim::optimal_alpha(Prior::kGauss, bits));
  }
  return text;
}

std::string table_csv(int max_bits) {
  std::string csv = "bits,laplace_alpha,gauss_alpha\n";
  for (int bits = 1; bits <= max_bits; ++bits) {
    csv += fmt::format("{},{:.12g},{:.12g}\n", bits, quantsim::optimal_alpha(Prior::kLaplace, bits),
                       quantsim::optimal_alpha(Prior::kGauss, bits));
  }
  return csv;
}

// Long format, one row per (prior, bits, alpha): easy to filter and plot.
std::string curve_csv() {
  std::string csv = "prior,bits,alpha,expected_mse,clipping_mse,quantization_mse\n";
  for (Prior prior : {Prior::kLaplace, Prior::kGauss}) {
    const double alpha_max = kCurveReach * quantsim::optimal_alpha(prior, 4);
    for (int bits : kCurveBits) {
      for (int i = 1; i <= kCurvePoints; ++i) {
        const double alpha = alpha_max * i / kCurvePoints;
        csv += fmt::format("{},{},{:.10g},{:.10g},{:.10g},{:.10g}\n", prior_name(prior), bits, alpha,
                           quantsim::expected_mse(prior, alpha, bits), quantsim::expected_clipping_mse(prior, alpha),
                           quantsim::expected_quantization_mse(alpha, bits));
      }
    }
  }
  return csv;
}

int run(int argc, char** argv) {
  cxxopts::Options options("optimal-alpha", "ACIQ optimal clipping values for Laplace and Gaussian priors");
  options.add_options()("max-bits", "print bit widths 1..N (N <= 16)", cxxopts::value<int>()->default_value("8"))(
      "csv", "write the table as CSV (bits,laplace_alpha,gauss_alpha)", cxxopts::value<std::string>())(
      "curve", "write expected MSE against alpha for 2, 3, 4 bits as CSV", cxxopts::value<std::string>())(
      "h,help", "show this help");
  const cxxopts::ParseResult args = options.parse(argc, argv);
  if (args.count("help")) {
    std::cout << options.help() << "\n";
    return 0;
  }
  const int max_bits = args["max-bits"].as<int>();
  if (max_bits < quantsim::kMinAciqBits || max_bits > quantsim::kMaxAciqBits) {
    throw quantsim::UserError(
        fmt::format("--max-bits: must be in {}..{}, got {}", quantsim::kMinAciqBits, quantsim::kMaxAciqBits, max_bits));
  }
  std::cout << table_text(max_bits);
  if (args.count("csv")) quantsim::write_file_atomically(args["csv"].as<std::string>(), table_csv(max_bits));
  if (args.count("curve")) quantsim::write_file_atomically(args["curve"].as<std::string>(), curve_csv());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const quantsim::UserError& e) {
    std::cerr << "optimal-alpha: " << e.what() << "\n";
  } catch (const cxxopts::exceptions::exception& e) {  // unknown flag, missing or malformed value
    std::cerr << "optimal-alpha: " << e.what() << "\n";
  }
  return quantsim::kExitUserError;
}
