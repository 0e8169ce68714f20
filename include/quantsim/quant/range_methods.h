#pragma once
// The histogram range methods -c mse | percentile:P | entropy (docs/QUANTIZATION.md, section 2, "Histogram range
// methods"). Each chooses a clipping value T >= 0 from the histogram of the tensor that is quantized (for an unsigned
// site, the post-ReLU tensor); the range is then the interval the tensor occupies once clamped to [-T, T]:
//   signed:   [max(min, -T), min(max, T)]        unsigned: [0, min(max, T)]
// with min/max the extremes -sk picks (as for every range).
#include "quantsim/quant/choices.h"
#include "quantsim/quant/clipping.h"
#include "quantsim/quant/histogram.h"

namespace quantsim {

bool is_histogram_method(const Clipping& clipping);

// The range of clipping value `t` (see above).
ClipRange histogram_clip_range(double t, double min, double max, Signedness signedness);

// T of -c mse / percentile:P / entropy for `histogram` at `bits`; throws UserError for other kinds or bits outside
// 1..16.
double histogram_clipping_value(const Clipping& clipping, const Histogram& histogram, double min, double max, int bits,
                                Signedness signedness);

// The range of a histogram method: histogram_clip_range of histogram_clipping_value.
ClipRange histogram_method_range(const Clipping& clipping, const Histogram& histogram, double min, double max, int bits,
                                 Signedness signedness);

// The P-th percentile (0 < P <= 100) of |x|, linear within the bin where the cumulative count reaches P % of all.
double percentile_clipping_value(const Histogram& histogram, double percent);

// TensorRT's KL-divergence calibration on the |x| histogram (H bins): for every candidate i = L..H (L = 2^(bits-1)
// levels for signed tensors, 2^bits for unsigned ones), the reference P = bins 0..i-1 with the outliers added to bin
// i-1, the candidate Q = bins 0..i-1 merged into L groups and spread back over each group's non-empty bins, both
// smoothed (empty bins get 1e-4, taken from the non-empty ones); T = i * w of the smallest KL(P || Q), the first on
// ties. H <= L leaves no candidate but i = H: T = limit.
double entropy_clipping_value(const Histogram& histogram, int bits, Signedness signedness);

// The clipping value among the bin edges T = j w (j = 1..H) whose range has the least expected_quantization_mse.
double mse_clipping_value(const Histogram& histogram, double min, double max, int bits, Signedness signedness);

// Mean squared error per value of quantizing the histogram's distribution (uniform within each bin) with the
// quantizer of docs/QUANTIZATION.md, section 1, on `range` at `bits`: clipping and rounding error, integrated exactly.
double expected_quantization_mse(const Histogram& histogram, const ClipRange& range, int bits);

}  // namespace quantsim
