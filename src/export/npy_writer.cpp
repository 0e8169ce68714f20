#include "quantsim/export/npy_writer.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "quantsim/core/atomic_file.h"

namespace quantsim {

void write_npy_float32(const std::string& path, const at::Tensor& matrix) {
  const at::Tensor data = matrix.to(at::kCPU, at::kFloat).contiguous();
  std::string shape;
  for (int64_t d = 0; d < data.dim(); ++d) shape += fmt::format("{}, ", data.size(d));
  if (data.dim() > 1) shape.resize(shape.size() - 2);  // a 1-tuple keeps its trailing comma: "(5,)"
  else if (data.dim() == 1) shape.resize(shape.size() - 1);
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", shape);
  // The magic, version, length and header together are padded with spaces to a multiple of 64, ending in '\n'.
  const size_t preamble = 10;
  header.append((64 - (preamble + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes = "\x93NUMPY";
  bytes.push_back('\x01');
  bytes.push_back('\x00');
  bytes.push_back(static_cast<char>(header.size() & 0xff));
  bytes.push_back(static_cast<char>((header.size() >> 8) & 0xff));
  bytes += header;
  bytes.append(static_cast<const char*>(data.data_ptr()), data.numel() * sizeof(float));
  write_file_atomically(path, bytes);
}

}  // namespace quantsim
