// select_logits (model_output.h): the logits of a model that returns a tuple, named tuple, list or dict, chosen by
// default (the first 2-D tensor) or by --output; the errors for outputs without logits; and PreparedModel's forward
// and export of such models (docs/QUANTIZATION.md, section 7).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "graph_test_support.h"
#include "quantsim/core/errors.h"
#include "quantsim/graph/model_output.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/graph/torchscript_loading.h"
#include "support/fixtures.h"

namespace quantsim {
namespace {
namespace fs = std::filesystem;

using graph::path_text;
using graph::select_logits;

const std::string kModel = "m.pt";

at::Tensor logits() { return at::arange(6, at::kFloat).reshape({2, 3}); }
at::Tensor features() { return at::ones({2, 4, 3, 3}); }

c10::IValue tuple(std::vector<c10::IValue> elements) { return c10::ivalue::Tuple::create(std::move(elements)); }

// googlenet's scripted output in eval mode: GoogLeNetOutputs(logits, None, None).
c10::IValue googlenet_outputs(const at::Tensor& x) {
  const c10::TypePtr optional_tensor = c10::OptionalType::create(c10::TensorType::get());
  const c10::TupleTypePtr type = c10::TupleType::createNamed(
      c10::QualifiedName("__torch__.torchvision.models.googlenet.GoogLeNetOutputs"),
      std::vector<std::string>{"logits", "aux_logits2", "aux_logits1"},
      std::vector<c10::TypePtr>{c10::TensorType::get(), optional_tensor, optional_tensor});
  return c10::ivalue::Tuple::createNamed({x, c10::IValue(), c10::IValue()}, type);
}

c10::IValue string_dict(const std::vector<std::pair<std::string, at::Tensor>>& entries) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [key, value] : entries) dict.insert(key, value);
  return dict;
}

// The UserError select_logits throws; fails the test when there is none or it spans lines.
std::string error_of(const c10::IValue& output, const std::string& choice) {
  try {
    select_logits(output, {choice}, kModel);
  } catch (const UserError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find("model " + kModel + " "), std::string::npos) << message;
    return message;
  }
  ADD_FAILURE() << "no UserError for --output '" << choice << "'";
  return "";
}

#define EXPECT_CONTAINS(text, needle) EXPECT_NE((text).find(needle), std::string::npos) << (text)

// The very tensor the model returned: same storage, so bit for bit the same values.
void expect_same_tensor(const at::Tensor& selected, const at::Tensor& expected) {
  ASSERT_TRUE(selected.defined());
  EXPECT_TRUE(selected.is_same(expected));
  EXPECT_TRUE(at::equal(selected, expected));
}

TEST(SelectLogits, PlainTensorIsTakenAsItIs) {
  const at::Tensor x = features();  // any shape: check_logits_shape judges it later
  const graph::SelectedOutput selected = select_logits(x, {}, kModel);
  expect_same_tensor(selected.logits, x);
  EXPECT_TRUE(selected.path.empty());
}

TEST(SelectLogits, TupleWithLogitsFirst) {
  const at::Tensor expected = logits();
  const graph::SelectedOutput selected = select_logits(tuple({expected, features()}), {}, kModel);
  expect_same_tensor(selected.logits, expected);
  EXPECT_EQ(path_text(selected.path), "[0]");
}

TEST(SelectLogits, TupleWithLogitsSecondAfterAFeatureMap) {
  const at::Tensor expected = logits();
  const c10::IValue output = tuple({features(), expected});
  const graph::SelectedOutput selected = select_logits(output, {}, kModel);
  expect_same_tensor(selected.logits, expected);
  EXPECT_EQ(path_text(selected.path), "[1]");
  expect_same_tensor(select_logits(output, {"1"}, kModel).logits, expected);
  EXPECT_EQ(error_of(output, "0"), "model m.pt returns a tuple of 2 (tensor [2, 4, 3, 3], tensor [2, 3]); --output "
                                   "'0' is tensor [2, 4, 3, 3], not a tensor [N, classes]");
}

TEST(SelectLogits, NamedTupleWithNoneFields) {
  const at::Tensor expected = logits();
  const c10::IValue output = googlenet_outputs(expected);
  expect_same_tensor(select_logits(output, {}, kModel).logits, expected);
  expect_same_tensor(select_logits(output, {"logits"}, kModel).logits, expected);
  expect_same_tensor(select_logits(output, {"0"}, kModel).logits, expected);
  EXPECT_EQ(error_of(output, "foo"),
            "model m.pt returns a GoogLeNetOutputs(logits, aux_logits2, aux_logits1); --output 'foo' is none of its "
            "fields");
  const std::string none = error_of(output, "aux_logits2");
  EXPECT_CONTAINS(none, "--output 'aux_logits2' is None, not a tensor");
  EXPECT_CONTAINS(none, "GoogLeNetOutputs(logits: tensor [2, 3], aux_logits2: None, aux_logits1: None)");
  EXPECT_CONTAINS(error_of(output, "3"), "--output '3' is out of range (positions 0..2)");
}

TEST(SelectLogits, List) {
  const at::Tensor expected = logits();
  const c10::IValue output = c10::List<at::Tensor>({features(), expected});
  const graph::SelectedOutput selected = select_logits(output, {}, kModel);
  expect_same_tensor(selected.logits, expected);
  EXPECT_EQ(path_text(selected.path), "[1]");
  expect_same_tensor(select_logits(output, {"1"}, kModel).logits, expected);
  EXPECT_CONTAINS(error_of(output, "2"), "returns a list of 2 (tensor [2, 4, 3, 3], tensor [2, 3]); --output '2' is "
                                         "out of range (positions 0..1)");
  EXPECT_CONTAINS(error_of(output, "logits"), "--output 'logits' is not a position (0..1): a plain list has no names");
}

TEST(SelectLogits, DictWithStringKeysInInsertionOrder) {
  const at::Tensor first = logits();
  const at::Tensor second = logits() + 1;
  // Insertion order, not key order: "z" comes first.
  const c10::IValue output = string_dict({{"features", features()}, {"z", first}, {"a", second}});
  const graph::SelectedOutput selected = select_logits(output, {}, kModel);
  expect_same_tensor(selected.logits, first);
  EXPECT_EQ(path_text(selected.path), "['z']");
  expect_same_tensor(select_logits(output, {"a"}, kModel).logits, second);
  EXPECT_EQ(error_of(output, "logits"),
            "model m.pt returns a dict with keys 'features', 'z', 'a'; --output 'logits' is none of its keys");
  EXPECT_CONTAINS(error_of(output, "0"), "--output '0' is none of its keys");
}

TEST(SelectLogits, DictWithIntegerKeys) {
  const at::Tensor expected = logits();
  c10::Dict<int64_t, at::Tensor> dict;
  dict.insert(7, expected);
  dict.insert(-1, features());
  expect_same_tensor(select_logits(dict, {"7"}, kModel).logits, expected);
  EXPECT_CONTAINS(error_of(dict, "-1"), "--output '-1' is tensor [2, 4, 3, 3], not a tensor [N, classes]");
  EXPECT_CONTAINS(error_of(dict, "8"), "returns a dict with keys 7, -1; --output '8' is none of its keys");
}

TEST(SelectLogits, NestedTupleIsSearchedAfterTheOuterLevel) {
  const at::Tensor inner = logits();
  const graph::SelectedOutput nested = select_logits(tuple({features(), tuple({inner})}), {}, kModel);
  expect_same_tensor(nested.logits, inner);
  EXPECT_EQ(path_text(nested.path), "[1][0]");
  const at::Tensor outer = logits() * 2;
  expect_same_tensor(select_logits(tuple({tuple({inner}), outer}), {}, kModel).logits, outer);
  EXPECT_CONTAINS(error_of(tuple({features(), tuple({inner})}), "1"), "--output '1' is tuple of 1, not a tensor");
}

TEST(SelectLogits, NoTwoDimensionalTensorIsRefused) {
  const std::string message = error_of(tuple({features(), at::zeros({2}), c10::IValue()}), "");
  EXPECT_EQ(message,
            "model m.pt returns a tuple of 3 (tensor [2, 4, 3, 3], tensor [2], None); expected a tensor [N, classes], "
            "or one among its elements");
  EXPECT_CONTAINS(error_of(string_dict({{"features", features()}}), ""),
                  "returns a dict {'features': tensor [2, 4, 3, 3]}; expected a tensor [N, classes]");
  EXPECT_CONTAINS(error_of(googlenet_outputs(at::zeros({2})), ""),
                  "returns a GoogLeNetOutputs(logits: tensor [2], aux_logits2: None, aux_logits1: None); expected");
}

TEST(SelectLogits, NonContainerKeepsTheOldMessage) {
  EXPECT_EQ(error_of(c10::IValue(int64_t{3}), ""), "model m.pt returns a int; expected a tensor [N, classes]");
}

TEST(SelectLogits, OutputChoiceOnAPlainTensorIsRefused) {
  EXPECT_EQ(error_of(logits(), "logits"),
            "model m.pt returns a tensor [2, 3]; --output 'logits' applies only to a model returning a tuple, named "
            "tuple, list or dict");
}

TEST(SelectLogits, MessagesStayOnOneLine) {
  EXPECT_CONTAINS(error_of(string_dict({{"a\nb", features()}}), "x\ny"), "--output 'x\\ny' is none of its keys");
}

class RecordingWarnings : public c10::WarningHandler {
 public:
  void process(const c10::SourceLocation&, const std::string& msg, bool) override { messages.push_back(msg); }
  std::vector<std::string> messages;
};

TEST(TupleOutputWarningFilter, DropsOnlyTorchvisionsTupleNotice) {
  RecordingWarnings recorded;
  const c10::Warning::WarningHandlerGuard record(&recorded);
  {
    const graph::TupleOutputWarningFilter quiet;
    TORCH_WARN("Scripted GoogleNet always returns GoogleNetOutputs Tuple");
    TORCH_WARN("Scripted Inception3 always returns Inception3 Tuple");
    TORCH_WARN("something else");
  }
  TORCH_WARN("Scripted GoogleNet always returns GoogleNetOutputs Tuple");  // the filter is gone
  EXPECT_EQ(recorded.messages,
            (std::vector<std::string>{"something else", "Scripted GoogleNet always returns GoogleNetOutputs Tuple"}));
}

// --- Scripted models: conv 3->4 (3x3) -> relu = features [N, 4, H-2, W-2]; logits = mean over H, W [N, 4]. ---

// The model whose forward returns `returned` (an expression of `features` and `logits`), saved to `path`.
std::string save_model(const std::string& dir, const std::string& name, const std::string& returned) {
  torch::manual_seed(0);
  torch::jit::Module module("MultiOutput");
  module.register_parameter("weight", torch::randn({4, 3, 3, 3}), false);
  module.register_parameter("bias", torch::randn({4}), false);
  module.define("def forward(self, x):\n"
                "    features = torch.relu(torch.conv2d(x, self.weight, self.bias))\n"
                "    logits = torch.mean(features, [2, 3])\n"
                "    return " +
                returned + "\n");
  const std::string path = (fs::path(dir) / (name + ".pt")).string();
  module.save(path);
  return path;
}

PrepareOptions with_output(const OutputChoice& choice) {
  PrepareOptions options;
  options.output = choice;
  return options;
}

class ScriptedOutputs : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::fresh_temp_dir("model_output"); }
  void TearDown() override { fs::remove_all(dir_); }

  // The model's own logits (the element at `element` of what torch::jit returns), the prepared model's, and the
  // export's: the same values bit for bit.
  void expect_logits_everywhere(const std::string& path, const OutputChoice& choice,
                                const std::function<at::Tensor(const c10::IValue&)>& element) {
    const at::Tensor x = graph_test::test_input(2, 3, 8, 8);
    torch::jit::Module module = torch::jit::load(path);
    const at::Tensor expected = element(module.forward({x}));
    ASSERT_EQ(expected.dim(), 2);
    EXPECT_TRUE(at::equal(graph::run_classifier(module, x, path, choice), expected));

    PreparedModel prepared = PreparedModel::load(path, with_output(choice));
    EXPECT_TRUE(at::equal(prepared.forward(x), expected)) << "prepared model";
    const std::string exported = dir_ + "/exported.pt";
    prepared.save_fake_quantized(exported, std::vector<std::optional<QuantParams>>(prepared.sites().size()));
    torch::jit::Module reloaded = graph::load_torchscript(exported);
    const c10::IValue output = reloaded.forward({x});
    ASSERT_TRUE(output.isTensor()) << "the export returns " << output.tagKind();
    EXPECT_TRUE(at::equal(output.toTensor(), expected)) << "exported model";
    EXPECT_EQ(reloaded.get_method("forward").function().getSchema().returns().at(0).type()->str(), "Tensor");
  }

  std::string dir_;
};

TEST_F(ScriptedOutputs, TupleWithLogitsFirst) {
  const std::string path = save_model(dir_, "tuple_first", "(logits, features)");
  expect_logits_everywhere(path, {}, [](const c10::IValue& out) { return out.toTupleRef().elements()[0].toTensor(); });
}

TEST_F(ScriptedOutputs, TupleWithLogitsSecond) {
  const std::string path = save_model(dir_, "tuple_second", "(features, logits)");
  const auto second = [](const c10::IValue& out) { return out.toTupleRef().elements()[1].toTensor(); };
  expect_logits_everywhere(path, {}, second);
  expect_logits_everywhere(path, {"1"}, second);
}

TEST_F(ScriptedOutputs, List) {
  const std::string path = save_model(dir_, "list", "[features, logits]");
  expect_logits_everywhere(path, {"1"}, [](const c10::IValue& out) { return out.toListRef()[1].toTensor(); });
}

TEST_F(ScriptedOutputs, DictWithStringKeys) {
  const std::string path = save_model(dir_, "dict",
                                      "{'features': features, 'logits': logits, "
                                      "'pooled': torch.mean(torch.max_pool2d(features, [2, 2]), [2, 3])}");
  const auto key = [](const std::string& name) {
    return [name](const c10::IValue& out) { return out.toGenericDict().at(name).toTensor(); };
  };
  expect_logits_everywhere(path, {}, key("logits"));
  expect_logits_everywhere(path, {"pooled"}, key("pooled"));
}

TEST_F(ScriptedOutputs, NestedTuple) {
  const std::string path = save_model(dir_, "nested", "(features, (features, logits))");
  expect_logits_everywhere(path, {}, [](const c10::IValue& out) {
    return out.toTupleRef().elements()[1].toTupleRef().elements()[1].toTensor();
  });
}

TEST_F(ScriptedOutputs, BadChoicesAreOneLineErrorsNamingTheFile) {
  const std::string path = save_model(dir_, "tuple_second", "(features, logits)");
  const at::Tensor x = graph_test::test_input(1, 3, 8, 8);
  PreparedModel prepared = PreparedModel::load(path, with_output({"2"}));
  try {
    prepared.forward(x);
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()), "model " + path +
                                         " returns a tuple of 2 (tensor [1, 4, 6, 6], tensor [1, 4]); --output '2' "
                                         "is out of range (positions 0..1)");
  }
  const std::string none = save_model(dir_, "no_logits", "(features, torch.sum(logits, 1))");
  torch::jit::Module module = torch::jit::load(none);
  EXPECT_THROW(graph::run_classifier(module, x, none), UserError);
  const std::string plain = save_model(dir_, "plain", "logits");
  torch::jit::Module plain_module = torch::jit::load(plain);
  EXPECT_THROW(graph::run_classifier(plain_module, x, plain, {"0"}), UserError);
}

TEST_F(ScriptedOutputs, ExportBeforeAnyForwardIsAProgrammingError) {
  const std::string path = save_model(dir_, "tuple_second", "(features, logits)");
  PreparedModel prepared = PreparedModel::load(path);
  EXPECT_THROW(
      prepared.save_fake_quantized(dir_ + "/x.pt", std::vector<std::optional<QuantParams>>(prepared.sites().size())),
      std::logic_error);
}

// Python-made fixtures: a scripted NamedTuple with a None field, and torchvision's googlenet.
TEST_F(ScriptedOutputs, NamedTupleFixture) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("named_tuple_output"), "torchvision fixtures");
  const auto logits_field = [](const c10::IValue& out) { return out.toTupleRef().elements()[1].toTensor(); };
  expect_logits_everywhere(path, {}, logits_field);
  expect_logits_everywhere(path, {"logits"}, logits_field);
  torch::jit::Module module = torch::jit::load(path);
  try {
    graph::run_classifier(module, graph_test::test_input(1, 3, 8, 8), path, {"aux"});
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_CONTAINS(std::string(e.what()), "returns a Outputs(features: tensor [1, 4, 6, 6], logits: tensor [1, 5], "
                                           "aux: None); --output 'aux' is None, not a tensor");
  }
}

TEST_F(ScriptedOutputs, TorchvisionGoogLeNet) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("googlenet"), "torchvision fixtures");
  const at::Tensor x = graph_test::test_input(1, 3, 64, 64);
  torch::jit::Module module = torch::jit::load(path);
  const c10::IValue raw = module.forward({x});
  EXPECT_EQ(graph::describe_output(raw), "GoogLeNetOutputs(logits, aux_logits2, aux_logits1)");
  const at::Tensor expected = raw.toTupleRef().elements()[0].toTensor();
  EXPECT_TRUE(at::equal(graph::run_classifier(module, x, path), expected));
  PreparedModel prepared = PreparedModel::load(path);
  const at::Tensor logits = prepared.forward(x);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{1, 1000}));
  prepared.save_fake_quantized(dir_ + "/googlenet.pt",
                               std::vector<std::optional<QuantParams>>(prepared.sites().size()));
  torch::jit::Module exported = graph::load_torchscript(dir_ + "/googlenet.pt");
  EXPECT_TRUE(at::equal(exported.forward({x}).toTensor(), logits));
}

}  // namespace
}  // namespace quantsim
