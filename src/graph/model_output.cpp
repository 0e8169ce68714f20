#include "quantsim/graph/model_output.h"

#include <ATen/core/Dict.h>
#include <ATen/core/function_schema.h>
#include <ATen/core/ivalue.h>
#include <ATen/core/jit_type.h>

#include <fmt/format.h>

#include <charconv>
#include <deque>
#include <optional>

#include "quantsim/core/errors.h"
#include "quantsim/core/message_text.h"

namespace quantsim::graph {
namespace {

// Elements listed in a description before "...": a message stays one readable line.
constexpr size_t kDescribedElements = 8;
// How deep the default search looks into nested tuples, lists and dicts.
constexpr size_t kSearchDepth = 3;

// A key or a --output value in quotes, cut short and without line breaks: messages are one line.
std::string quoted(const std::string& text) {
  std::string out;
  for (const char c : abbreviated(text, 60)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return "'" + out + "'";
}

// The type of a named tuple (it has field names), else nullptr.
c10::TupleTypePtr named_tuple_type(const c10::IValue& value) {
  if (!value.isTuple()) return nullptr;
  c10::TupleTypePtr type = value.type()->cast<c10::TupleType>();
  return type && type->schema() && type->name() ? type : nullptr;
}

std::vector<std::string> field_names(const c10::TupleType& type) {
  std::vector<std::string> names;
  for (const c10::Argument& argument : type.schema()->arguments()) names.push_back(argument.name());
  return names;
}

std::string key_text(const c10::IValue& key) {
  if (key.isString()) return quoted(key.toStringRef());
  if (key.isInt()) return std::to_string(key.toInt());
  return key.type()->str();
}

std::string short_description(const c10::IValue& value);

std::string element_list(const std::vector<std::string>& parts) {
  std::vector<std::string> shown(parts.begin(), parts.begin() + std::min(parts.size(), kDescribedElements));
  if (parts.size() > kDescribedElements) shown.push_back("...");
  return fmt::format("{}", fmt::join(shown, ", "));
}

// One element inside a description: tensors with their shape, containers by kind only.
std::string short_description(const c10::IValue& value) {
  if (value.isTensor()) {
    const at::Tensor& tensor = value.toTensor();
    return tensor.defined() ? fmt::format("tensor [{}]", fmt::join(tensor.sizes(), ", ")) : "undefined tensor";
  }
  if (value.isNone()) return "None";
  if (const c10::TupleTypePtr type = named_tuple_type(value)) return type->name()->name();
  if (value.isTuple()) return fmt::format("tuple of {}", value.toTupleRef().elements().size());
  if (value.isList()) return fmt::format("list of {}", value.toListRef().size());
  if (value.isGenericDict()) return fmt::format("dict of {}", value.toGenericDict().size());
  return value.type()->str();
}

// What a choice failed on: the element kinds with their positions or names, for "what is available".
std::string detailed_description(const c10::IValue& value) {
  if (const c10::TupleTypePtr type = named_tuple_type(value)) {
    const std::vector<std::string> names = field_names(*type);
    const auto& elements = value.toTupleRef().elements();
    std::vector<std::string> parts;
    for (size_t i = 0; i < elements.size(); ++i) {
      parts.push_back(
          fmt::format("{}: {}", i < names.size() ? names[i] : std::to_string(i), short_description(elements[i])));
    }
    return fmt::format("{}({})", type->name()->name(), element_list(parts));
  }
  if (value.isGenericDict()) {
    std::vector<std::string> parts;
    for (const auto& entry : value.toGenericDict()) {
      parts.push_back(fmt::format("{}: {}", key_text(entry.key()), short_description(entry.value())));
    }
    return fmt::format("dict {{{}}}", element_list(parts));
  }
  return describe_output(value);
}

bool is_logits_candidate(const c10::IValue& value) {
  return value.isTensor() && value.toTensor().defined() && value.toTensor().dim() == 2;
}

struct Element {
  const c10::IValue* value;
  OutputStep step;
};

// The direct elements of a tuple, list or dict, in order; empty for anything else.
std::vector<Element> elements_of(const c10::IValue& container) {
  std::vector<Element> elements;
  if (container.isTuple()) {
    const auto& values = container.toTupleRef().elements();
    for (size_t i = 0; i < values.size(); ++i) {
      elements.push_back({&values[i], {OutputStep::Kind::kTupleIndex, static_cast<int64_t>(i), {}}});
    }
  } else if (container.isList()) {
    const c10::ArrayRef<c10::IValue> values = container.toListRef();
    for (size_t i = 0; i < values.size(); ++i) {
      elements.push_back({&values[i], {OutputStep::Kind::kListIndex, static_cast<int64_t>(i), {}}});
    }
  } else if (container.isGenericDict()) {
    // Dict iteration is insertion order; the entries' values live in the dict (the IValue holds it alive).
    for (const auto& entry : container.toGenericDict()) {
      OutputStep step;
      if (entry.key().isString()) {
        step = {OutputStep::Kind::kStringKey, 0, entry.key().toStringRef()};
      } else if (entry.key().isInt()) {
        step = {OutputStep::Kind::kIntKey, entry.key().toInt(), {}};
      } else {
        continue;  // a key the export could not index by; such a value is never chosen
      }
      elements.push_back({&entry.value(), step});
    }
  }
  return elements;
}

bool is_container(const c10::IValue& value) { return value.isTuple() || value.isList() || value.isGenericDict(); }

// Breadth first: every element of one level before those nested in it.
std::optional<SelectedOutput> first_2d_tensor(const c10::IValue& output) {
  struct Pending {
    const c10::IValue* value;
    OutputPath path;
  };
  std::deque<Pending> pending{{&output, {}}};
  while (!pending.empty()) {
    const Pending current = pending.front();
    pending.pop_front();
    for (const Element& element : elements_of(*current.value)) {
      OutputPath path = current.path;
      path.push_back(element.step);
      if (is_logits_candidate(*element.value)) return SelectedOutput{element.value->toTensor(), path};
      if (is_container(*element.value) && path.size() < kSearchDepth) pending.push_back({element.value, path});
    }
  }
  return std::nullopt;
}

std::optional<int64_t> index_of(const std::string& text, bool allow_sign) {
  int64_t index = 0;
  const char* begin = text.data();
  if (text.empty() || (!allow_sign && text[0] == '-')) return std::nullopt;
  const auto [end, error] = std::from_chars(begin, begin + text.size(), index);
  if (error != std::errc() || end != begin + text.size()) return std::nullopt;
  return index;
}

// The element `choice` names, or a UserError saying what the output offers instead.
Element chosen_element(const c10::IValue& output, const OutputChoice& choice, const std::string& model_path) {
  const std::string returns = fmt::format("model {} returns a {}", model_path, describe_output(output));
  const std::string given = fmt::format("--output {}", quoted(choice.key));
  const std::vector<Element> elements = elements_of(output);
  if (output.isTuple() || output.isList()) {
    const c10::TupleTypePtr named = named_tuple_type(output);
    if (const std::optional<int64_t> index = index_of(choice.key, false)) {
      if (*index >= static_cast<int64_t>(elements.size())) {
        throw UserError(fmt::format("{}; {} is out of range (positions 0..{})", returns, given,
                                    static_cast<int64_t>(elements.size()) - 1));
      }
      return elements[static_cast<size_t>(*index)];
    }
    if (!named) {
      throw UserError(fmt::format("{}; {} is not a position (0..{}): a plain {} has no names", returns, given,
                                  static_cast<int64_t>(elements.size()) - 1, output.isList() ? "list" : "tuple"));
    }
    const std::vector<std::string> names = field_names(*named);
    for (size_t i = 0; i < names.size() && i < elements.size(); ++i) {
      if (names[i] == choice.key) return elements[i];
    }
    throw UserError(fmt::format("{}; {} is none of its fields", returns, given));
  }
  const bool int_keys = output.toGenericDict().keyType()->kind() == c10::TypeKind::IntType;
  const std::optional<int64_t> int_key = int_keys ? index_of(choice.key, true) : std::nullopt;
  for (const Element& element : elements) {
    const OutputStep& step = element.step;
    if ((step.kind == OutputStep::Kind::kStringKey && step.key == choice.key) ||
        (step.kind == OutputStep::Kind::kIntKey && int_key && step.index == *int_key)) {
      return element;
    }
  }
  throw UserError(fmt::format("{}; {} is none of its keys", returns, given));
}

}  // namespace

std::string describe_output(const c10::IValue& value) {
  if (const c10::TupleTypePtr type = named_tuple_type(value)) {
    return fmt::format("{}({})", type->name()->name(), fmt::join(field_names(*type), ", "));
  }
  if (value.isTuple() || value.isList()) {
    std::vector<std::string> parts;
    for (const Element& element : elements_of(value)) parts.push_back(short_description(*element.value));
    return fmt::format("{} of {} ({})", value.isTuple() ? "tuple" : "list", parts.size(), element_list(parts));
  }
  if (value.isGenericDict()) {
    std::vector<std::string> keys;
    for (const auto& entry : value.toGenericDict()) keys.push_back(key_text(entry.key()));
    return keys.empty() ? "empty dict" : fmt::format("dict with keys {}", element_list(keys));
  }
  return short_description(value);
}

std::string path_text(const OutputPath& path) {
  std::string text;
  for (const OutputStep& step : path) {
    text += step.kind == OutputStep::Kind::kStringKey ? "[" + quoted(step.key) + "]"
                                                      : "[" + std::to_string(step.index) + "]";
  }
  return text;
}

SelectedOutput select_logits(const c10::IValue& output, const OutputChoice& choice, const std::string& model_path) {
  if (output.isTensor()) {
    if (choice.given()) {
      throw UserError(fmt::format("model {} returns a {}; --output {} applies only to a model returning a tuple, "
                                  "named tuple, list or dict",
                                  model_path, describe_output(output), quoted(choice.key)));
    }
    return {output.toTensor(), {}};
  }
  if (!is_container(output)) {
    // What quant-sim has always said of a model that returns no tensor.
    throw UserError(
        fmt::format("model {} returns a {}; expected a tensor [N, classes]", model_path, output.type()->str()));
  }
  if (!choice.given()) {
    if (std::optional<SelectedOutput> found = first_2d_tensor(output)) return *found;
    throw UserError(fmt::format("model {} returns a {}; expected a tensor [N, classes], or one among its elements",
                                model_path, detailed_description(output)));
  }
  const Element element = chosen_element(output, choice, model_path);
  if (!is_logits_candidate(*element.value)) {  // a feature map chosen by mistake is named here, with the model
    throw UserError(fmt::format("model {} returns a {}; --output {} is {}, not a tensor [N, classes]", model_path,
                                detailed_description(output), quoted(choice.key), short_description(*element.value)));
  }
  return {element.value->toTensor(), {element.step}};
}

TupleOutputWarningFilter::TupleOutputWarningFilter() : previous_(c10::Warning::get_warning_handler()) {
  c10::Warning::set_warning_handler(this);
}

TupleOutputWarningFilter::~TupleOutputWarningFilter() { c10::Warning::set_warning_handler(previous_); }

void TupleOutputWarningFilter::process(const c10::SourceLocation& source_location, const std::string& msg,
                                       bool verbatim) {
  // torchvision 0.14: "Scripted GoogleNet always returns GoogleNetOutputs Tuple",
  // "Scripted Inception3 always returns Inception3 Tuple".
  const std::string tail = " Tuple";
  const bool tuple_notice = msg.rfind("Scripted ", 0) == 0 && msg.find(" always returns ") != std::string::npos &&
                            msg.size() >= tail.size() && msg.compare(msg.size() - tail.size(), tail.size(), tail) == 0;
  if (!tuple_notice) previous_->process(source_location, msg, verbatim);
}

}  // namespace quantsim::graph
