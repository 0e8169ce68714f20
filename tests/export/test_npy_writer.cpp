#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "quantsim/core/atomic_file.h"
#include "quantsim/export/npy_writer.h"

using namespace quantsim;

TEST(NpyWriter, HeaderAndDataFollowTheFormat) {
  const auto path = std::filesystem::temp_directory_path() / "quantsim_test_logits.npy";
  const at::Tensor m = at::arange(12, at::kFloat).reshape({3, 4});
  write_npy_float32(path.string(), m);
  const std::string bytes = read_file(path.string());
  ASSERT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  const size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  const std::string header = bytes.substr(10, header_len);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos);
  EXPECT_NE(header.find("'shape': (3, 4)"), std::string::npos);
  ASSERT_EQ(bytes.size(), 10 + header_len + 12 * sizeof(float));
  float last = 0;
  std::memcpy(&last, bytes.data() + bytes.size() - sizeof(float), sizeof(float));
  EXPECT_EQ(last, 11.0f);
  std::filesystem::remove(path);
}
