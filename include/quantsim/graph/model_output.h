#pragma once
// Which part of what a model's forward returns is the [N, classes] logits (docs/QUANTIZATION.md, section 7): the
// tensor itself, or one element of a tuple, named tuple, list or dict (torchvision's googlenet and inception_v3,
// scripted, return the named tuples GoogLeNetOutputs / InceptionOutputs with None auxiliary logits in eval mode).
// By default the first 2-D tensor element; --output KEY|INDEX (docs/CLI.md) names one.
#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <string>
#include <vector>

namespace c10 {
struct IValue;
}  // namespace c10

namespace quantsim {

// --output: "" takes the first 2-D tensor element; digits are a position in a tuple, named tuple or list; any other
// text is a named-tuple field name or a dict key (a dict with integer keys reads the text as an integer).
struct OutputChoice {
  std::string key;

  bool given() const { return !key.empty(); }
};

namespace graph {

// One step from a container to one of its elements.
struct OutputStep {
  enum class Kind { kTupleIndex, kListIndex, kStringKey, kIntKey };
  Kind kind = Kind::kTupleIndex;
  int64_t index = 0;  // kTupleIndex, kListIndex: the position; kIntKey: the key
  std::string key;    // kStringKey
};
// From the returned value to the logits; empty when the model returns the tensor itself.
using OutputPath = std::vector<OutputStep>;

struct SelectedOutput {
  at::Tensor logits;
  OutputPath path;
};

// The logits in a forward's `output`, and where they were. A tensor is taken as it is (its shape is checked later,
// check_logits_shape); in a tuple, named tuple, list or dict the element `choice` names, else the first 2-D tensor
// element (elements in order, dicts in insertion order; nested tuples, lists and dicts after every element of the
// level above). Throws UserError naming `model_path`, what the model returns and what is available: no 2-D tensor
// element, a choice given for a plain tensor, an unknown key or field, an index out of range, a chosen element that
// is not a 2-D tensor.
SelectedOutput select_logits(const c10::IValue& output, const OutputChoice& choice, const std::string& model_path);

// What a forward returned, for messages: "tensor [2, 10]", "tuple of 2 (tensor [2, 10], None)",
// "GoogLeNetOutputs(logits, aux_logits2, aux_logits1)", "dict with keys 'logits', 'aux'".
std::string describe_output(const c10::IValue& output);

// The steps in Python subscript form, e.g. "[0]" or "['logits']"; "" for the tensor itself.
std::string path_text(const OutputPath& path);

// While alive, drops (in this thread: LibTorch keeps one handler per thread) the warning torchvision's scripted
// googlenet and inception_v3 emit on every forward ("Scripted GoogleNet always returns GoogleNetOutputs Tuple"):
// quant-sim reads the logits from that tuple, and one line per batch would bury the run's output. Every other warning
// goes to the handler installed before.
class TupleOutputWarningFilter : public c10::WarningHandler {
 public:
  TupleOutputWarningFilter();
  ~TupleOutputWarningFilter() override;
  TupleOutputWarningFilter(const TupleOutputWarningFilter&) = delete;
  TupleOutputWarningFilter& operator=(const TupleOutputWarningFilter&) = delete;

  void process(const c10::SourceLocation& source_location, const std::string& msg, bool verbatim) override;

 private:
  c10::WarningHandler* previous_;
};

}  // namespace graph
}  // namespace quantsim
