#pragma once
// Statistics of one tensor or one channel of it (docs/QUANTIZATION.md, sections 2 and 6), as collected by `-sm collect`
// and consumed by clipping and bit allocation.
namespace quantsim {

struct TensorStats {
  double min = 0.0;             // global minimum over all calibration images
  double max = 0.0;             // global maximum
  double min_batch_mean = 0.0;  // equal-weight mean over batches of per-batch minima (-sk mean)
  double max_batch_mean = 0.0;  // equal-weight mean over batches of per-batch maxima (-sk mean)
  double mean = 0.0;            // mu
  double std = 0.0;             // population standard deviation (sigma)
  double b = 0.0;               // mean(|x - mu|), the Laplace scale estimate
};

}  // namespace quantsim
