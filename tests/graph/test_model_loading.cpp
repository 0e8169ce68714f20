// Loading errors a user can cause: each is one UserError line naming the file (and, for ops, the op and module).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "graph_test_support.h"
#include "quantsim/core/errors.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/graph/site_handler.h"

namespace quantsim {
namespace {

namespace fs = std::filesystem;

// The UserError message load() throws for `path`, or "" when it does not throw one.
std::string load_error(const std::string& path) {
  try {
    PreparedModel::load(path);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(ModelLoading, MissingFileNamesThePath) {
  const std::string path = "/nonexistent/quantsim/model.pt";
  const std::string message = load_error(path);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("not found"), std::string::npos) << message;
}

TEST(ModelLoading, DirectoryIsRefused) {
  const std::string message = load_error(fs::temp_directory_path().string());
  EXPECT_NE(message.find("directory"), std::string::npos) << message;
}

TEST(ModelLoading, CorruptFileIsOneLineUserError) {
  const fs::path path = fs::temp_directory_path() / ("quantsim_corrupt_" + std::to_string(::getpid()) + ".pt");
  std::ofstream(path) << "this is not a TorchScript archive\n";
  const std::string message = load_error(path.string());
  fs::remove(path);
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("TorchScript"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "stack trace leaked: " << message;
}

TEST(ModelLoading, MatmulOfTwoActivationsIsRefusedNamingItsModule) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("activation_matmul"), "torchvision fixtures");
  const std::string message = load_error(path);
  EXPECT_NE(message.find("aten::matmul"), std::string::npos) << message;
  EXPECT_NE(message.find("module 'head'"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(ModelLoading, WrongInputShapeIsUserError) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::real_model_path("resnet8_cifar10"), "resnet8_cifar10");
  PreparedModel model = PreparedModel::load(path);
  try {
    model.forward(at::zeros({1, 5, 32, 32}));
    FAIL() << "no error";
  } catch (const UserError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("[1, 5, 32, 32]"), std::string::npos) << message;
    EXPECT_NE(message.find("channels"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

// A handler's own error (e.g. statistics that do not match) reaches the caller as it was thrown.
class FailingHandler : public SiteHandler {
 public:
  at::Tensor on_site(int64_t, const at::Tensor&) override { throw UserError("statistics do not match"); }
};

TEST(ModelLoading, HandlerUserErrorPropagatesUnchanged) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::real_model_path("resnet8_cifar10"), "resnet8_cifar10");
  PreparedModel model = PreparedModel::load(path);
  FailingHandler failing;
  ScopedSiteHandler scope(failing);
  try {
    model.forward(at::zeros({1, 3, 32, 32}));
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "statistics do not match");
  }
}

}  // namespace
}  // namespace quantsim
