#pragma once
// --arith int (docs/QUANTIZATION.md, section 16): every batch runs twice on the same images, through the float
// fake-quant forward (recording each site's codes) and through forward_integer (comparing its codes with them site
// by site), so that the integer path's accuracy comes with the float path's and with the gap between the two.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "quantsim/data/batch_loader.h"
#include "quantsim/graph/integer_execution.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/passes/accuracy.h"
#include "quantsim/passes/activation_quantizer.h"

namespace quantsim {

// The gap at one site, over every image compared: code differences q_int - q_float, in steps of the site's scale.
struct SiteCodeGap {
  int64_t elements = 0;          // codes compared
  int64_t differing = 0;         // codes with q_int != q_float
  int64_t max_step = 0;          // largest |q_int - q_float|
  int64_t abs_step_sum = 0;      // sum of |q_int - q_float|
  int64_t images = 0;            // images compared
  int64_t images_differing = 0;  // images with at least one differing code here

  // `integer_codes` and `float_codes`: the same site's codes of the same images, [N, ...] (any integer dtype).
  void add(const at::Tensor& integer_codes, const at::Tensor& float_codes);
  double differing_share() const { return elements > 0 ? static_cast<double>(differing) / elements : 0.0; }
  double mean_abs_step() const { return elements > 0 ? static_cast<double>(abs_step_sum) / elements : 0.0; }
  double images_differing_share() const { return images > 0 ? static_cast<double>(images_differing) / images : 0.0; }
};

// The gap at the logits: integer-path logits against the float path's, [N, classes] each.
struct LogitGap {
  int64_t images = 0;
  int64_t elements = 0;
  int64_t differing = 0;         // logits not equal
  int64_t images_differing = 0;  // images with at least one unequal logit
  int64_t top1_differs = 0;      // images whose top-1 class differs (ties: the lower class index, as accuracy.h)
  double abs_sum = 0.0;          // sum of |logit_int - logit_float|
  double max_abs = 0.0;          // largest |logit_int - logit_float|
  double float_sum = 0.0;        // sum and sum of squares of the float logits, for their standard deviation
  double float_square_sum = 0.0;

  void add(const at::Tensor& integer_logits, const at::Tensor& float_logits);
  // Population standard deviation of every float logit compared (all images, all classes).
  double float_std() const;
  // mean and max |logit_int - logit_float| divided by float_std() (0 when that is 0).
  double mean_abs_relative() const;
  double max_abs_relative() const;
  double differing_share() const { return elements > 0 ? static_cast<double>(differing) / elements : 0.0; }
  double images_differing_share() const { return images > 0 ? static_cast<double>(images_differing) / images : 0.0; }
  double top1_differs_share() const { return images > 0 ? static_cast<double>(top1_differs) / images : 0.0; }
};

struct ArithGap {
  std::vector<SiteCodeGap> sites;  // by Site::id
  std::vector<int64_t> order;      // site ids in the order forward_integer first reported them (graph order)
  LogitGap logits;

  int64_t codes_compared() const;
  int64_t codes_differing() const;
  int64_t max_step_difference() const;
  double codes_differing_share() const;
};

class ArithComparison {
 public:
  // `quantizer` holds the static ranges `program` was built from (passes/integer_program.h); all must outlive this.
  // `chunk`: images per float/integer pair of forwards, which bounds the memory the recorded codes take.
  ArithComparison(const PreparedModel& model, ActivationQuantizer& quantizer, const IntegerProgram& program,
                  int64_t chunk = 64);

  // Float fake-quant forward of `input` recording every site's codes, then forward_integer comparing its codes with
  // them; the float logits are scored against the labels given by set_labels (if any) and compared with the
  // integer ones. Returns the integer path's logits [N, classes].
  at::Tensor forward(const at::Tensor& input);
  // The labels of the next forward's images (int64 [N]); BatchLabelTap sets them. Used once.
  void set_labels(const at::Tensor& labels) { labels_ = labels; }
  // Forgets every comparison and score so far (after a probe forward that is not an evaluated image).
  void reset();

  const PreparedModel& model() const { return model_; }
  const ArithGap& gap() const { return gap_; }
  const TopKAccuracy& float_accuracy() const { return float_accuracy_; }
  double float_seconds() const { return float_seconds_; }
  double integer_seconds() const { return integer_seconds_; }

 private:
  const PreparedModel& model_;
  ActivationQuantizer& quantizer_;
  const IntegerProgram& program_;
  const int64_t chunk_;
  at::Tensor labels_;
  ArithGap gap_;
  TopKAccuracy float_accuracy_;
  double float_seconds_ = 0.0;
  double integer_seconds_ = 0.0;
};

// A batch source that hands each batch's labels to `comparison` as it passes the batch on, so that the forward
// evaluate() calls next on those images can score the float path too.
class BatchLabelTap : public BatchSource {
 public:
  BatchLabelTap(BatchSource& source, ArithComparison& comparison) : source_(source), comparison_(comparison) {}
  std::optional<Batch> next() override;
  int64_t total() const override { return source_.total(); }
  std::vector<BadImage> bad_images() const override { return source_.bad_images(); }
  int64_t bad_count() const override { return source_.bad_count(); }

 private:
  BatchSource& source_;
  ArithComparison& comparison_;
};

// The codes the fake quantizer's output x_hat stands for: rint(x_hat / scale) + zero_point, int32. Exact, since
// x_hat = (q - zero_point) * scale in float32 with |q - zero_point| < 2^16.
at::Tensor codes_of_fake_quantized(const at::Tensor& x_hat, const ActivationCodes& codes);

}  // namespace quantsim
