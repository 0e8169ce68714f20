#pragma once
// The quantization choices a run makes that the quantizers themselves read: which statistic a range uses, where
// activations are quantized, how bit allocation rounds and which prior it assumes, how weights are rounded, and how
// ranges are clipped. The command line fills them (app/config.h); docs/QUANTIZATION.md defines each.
namespace quantsim {

enum class StatsKind { kMean, kMax };      // -sk: mean of per-batch extremes, or global extremes
enum class ActSites { kOutputs, kInputs };  // paper mode / deploy mode
enum class BitRounding { kRound, kCeil };   // -bam
enum class Prior { kLaplace, kGauss };      // -bap and the ACIQ prior
enum class WeightMethod { kRtn, kGpfq };    // --weight-method: round to nearest, or GPFQ (docs/QUANTIZATION.md)

// -c/--clipping: none, ACIQ under a prior, or N standard deviations.
struct Clipping {
  enum class Kind { kNone, kLaplace, kGauss, kNStd } kind = Kind::kNone;
  double n_std = 0.0;  // only for kNStd
};

}  // namespace quantsim
