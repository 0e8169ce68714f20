#pragma once
// The quantization settings of a run, split into what the weight quantizer and the activation quantizer need
// (docs/QUANTIZATION.md, sections 2-5). The command line fills them (app/run_options.h).
#include <optional>

#include "quantsim/quant/choices.h"
#include "quantsim/quant/weight_correction.h"

namespace quantsim {

// Bit allocation settings (-baa/-baw, -bam, -bap, -bata/-batw, --ba-any-bits).
struct BitAllocationOptions {
  bool enabled = false;
  BitRounding rounding = BitRounding::kRound;
  Prior prior = Prior::kGauss;   // which statistic is a channel's range: sigma (gaus) or b (laplace)
  std::optional<double> target;  // average bits; unset: the site's or layer's own bits
  bool any_bits = false;         // also above 4 bits
  // docs/QUANTIZATION.md, section 3: only per-channel tensors, and only at 4 bits or fewer unless --ba-any-bits.
  bool applies(int bits, bool per_channel) const { return enabled && per_channel && (bits <= 4 || any_bits); }
};

struct ActivationQuantOptions {
  int bits = 0;              // --qtype; 0: activations stay float (every site, pools and logits included)
  int first_last_bits = 8;   // --first-last-bits; 0: those sites stay float
  bool per_channel = false;  // -pcq_a
  Clipping clipping;         // -c
  BitAllocationOptions bit_allocation;
  StatsKind stats_kind = StatsKind::kMean;  // -sk: which min/max the ranges use
};

struct WeightQuantOptions {
  int bits = 8;                      // -qw; 0: weights stay float (first and last layers included)
  int first_last_bits = 8;           // --first-last-bits; 0: those layers stay float
  bool per_channel = false;          // -pcq_w
  std::optional<Clipping> clipping;  // --clip-weights: the -c method on each weight (channel); unset: [min, max]
  BitAllocationOptions bit_allocation;
  WeightCorrections corrections;  // -vcw, -bcw
};

// Bits of a layer or site: `bits`, or `first_last_bits` for the first/last ones. --first-last-bits only ever keeps
// a layer at other precision than its neighbours; it never quantizes what -qw/--qtype f32 leave float, so
// `--qtype f32 -qw f32` is exactly the FP32 model.
inline int effective_bits(int bits, int first_last_bits, bool is_first_or_last) {
  if (bits == 0) return 0;
  return is_first_or_last ? first_last_bits : bits;
}

}  // namespace quantsim
