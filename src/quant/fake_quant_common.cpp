#include "fake_quant_common.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <string>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace quantsim::fake_quant_detail {
namespace {

void check_float32(const at::Tensor& t, const char* what) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat, "fake_quant: ", what, " must be float32, got ", t.scalar_type());
}

void check_bits(int64_t bits, const char* where) {
  TORCH_CHECK_VALUE(bits >= kernels::kMinQuantBits && bits <= kernels::kMaxQuantBits, "fake_quant: bits", where,
                    " must be in [", kernels::kMinQuantBits, ", ", kernels::kMaxQuantBits, "], got ", bits);
}

// The range must be finite and its width representable, otherwise the step would be inf or NaN.
void check_range(float lo, float hi, const char* where) {
  const float width = std::max(hi, 0.0f) - std::min(lo, 0.0f);
  TORCH_CHECK_VALUE(std::isfinite(lo) && std::isfinite(hi) && std::isfinite(width), "fake_quant: range", where,
                    " must be finite with a float32-representable width, got [", lo, ", ", hi, "]");
}

// lo/hi/bits as CPU tensors of one dimension holding `channels` entries.
at::Tensor channel_vector(const at::Tensor& t, const char* name, int64_t channels) {
  TORCH_CHECK_VALUE(t.dim() == 1 && t.size(0) == channels, "fake_quant_per_channel: ", name, " must have shape [",
                    channels, "] (the size of the channel axis), got ", t.sizes());
  return t.to(at::kCPU).contiguous();
}

// Outputs this large live in memory fresh from mmap, whose first touch faults in one 4 KiB page at a time: that
// costs several times the quantization itself. Asking for transparent huge pages (where the system leaves them to
// madvise) cuts the faults 512-fold. Only a hint: failure changes nothing but speed.
constexpr size_t kHugePageMinBytes = size_t{32} << 20;

void advise_huge_pages(const at::Tensor& t) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (!t.is_cpu() || t.nbytes() < kHugePageMinBytes) return;
  constexpr uintptr_t kPage = 4096;
  const auto start = reinterpret_cast<uintptr_t>(t.data_ptr());
  const uintptr_t first = (start + kPage - 1) & ~(kPage - 1);
  const uintptr_t last = (start + t.nbytes()) & ~(kPage - 1);
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#else
  (void)t;
#endif
}

}  // namespace

kernels::AffineQuantParams per_tensor_params(const at::Tensor& x, double lo, double hi, int64_t bits) {
  check_float32(x, "x");
  check_bits(bits, "");
  const auto lo_f = static_cast<float>(lo);
  const auto hi_f = static_cast<float>(hi);
  check_range(lo_f, hi_f, "");
  return kernels::make_affine_quant_params(lo_f, hi_f, static_cast<int>(bits));
}

int64_t normalized_axis(const at::Tensor& x, int64_t axis) {
  const int64_t dim = x.dim();
  TORCH_CHECK_VALUE(axis >= -dim && axis < dim, "fake_quant_per_channel: axis ", axis, " is out of range for a ", dim,
                    "-d tensor");
  return axis < 0 ? axis + dim : axis;
}

at::Tensor channel_params_table(const at::Tensor& lo, const at::Tensor& hi, const at::Tensor& bits, int64_t channels) {
  check_float32(lo, "lo");
  check_float32(hi, "hi");
  TORCH_CHECK_TYPE(bits.scalar_type() == at::kInt || bits.scalar_type() == at::kLong,
                   "fake_quant_per_channel: bits must be int32 (or int64), got ", bits.scalar_type());
  const at::Tensor lo_cpu = channel_vector(lo, "lo", channels);
  const at::Tensor hi_cpu = channel_vector(hi, "hi", channels);
  const at::Tensor bits_cpu = channel_vector(bits, "bits", channels).to(at::kLong);

  at::Tensor params = at::empty({3, channels}, at::TensorOptions().dtype(at::kFloat));
  const float* lo_data = lo_cpu.data_ptr<float>();
  const float* hi_data = hi_cpu.data_ptr<float>();
  const int64_t* bits_data = bits_cpu.data_ptr<int64_t>();
  float* scale = params[0].data_ptr<float>();
  float* zero_point = params[1].data_ptr<float>();
  float* q_max = params[2].data_ptr<float>();
  for (int64_t c = 0; c < channels; ++c) {
    const std::string where = " of channel " + std::to_string(c);
    check_bits(bits_data[c], where.c_str());
    check_range(lo_data[c], hi_data[c], where.c_str());
    const auto p = kernels::make_affine_quant_params(lo_data[c], hi_data[c], static_cast<int>(bits_data[c]));
    scale[c] = p.scale;
    zero_point[c] = p.zero_point;
    q_max[c] = p.q_max;
  }
  return params;
}

at::Tensor per_channel_params(const at::Tensor& x, const at::Tensor& lo, const at::Tensor& hi, const at::Tensor& bits,
                              int64_t axis) {
  check_float32(x, "x");
  return channel_params_table(lo, hi, bits, x.size(normalized_axis(x, axis)));
}

void check_params_table(const at::Tensor& x, const at::Tensor& params, int64_t axis) {
  check_float32(x, "x");
  check_float32(params, "params");
  const int64_t channels = x.size(normalized_axis(x, axis));
  TORCH_CHECK_VALUE(params.dim() == 2 && params.size(0) == 3 && params.size(1) == channels && params.is_contiguous(),
                    "fake_quant_per_channel: params must be a contiguous [3, ", channels,
                    "] table from fake_quant_channel_params, got ", params.sizes());
  TORCH_CHECK_VALUE(params.device() == x.device(), "fake_quant_per_channel: params are on ", params.device(),
                    " but x is on ", x.device());
}

kernels::ChannelQuantParams channel_params_view(const at::Tensor& params) {
  const float* base = params.data_ptr<float>();
  const int64_t channels = params.size(1);
  return kernels::ChannelQuantParams{base, base + channels, base + 2 * channels};
}

ChannelLayout channel_layout(const at::Tensor& dense, int64_t axis) {
  const int64_t channels = dense.size(axis);
  if (channels <= 1) {
    return ChannelLayout{1, 1, dense.numel()};  // one channel: its stride means nothing
  }
  // In a non-overlapping dense tensor, the stride of a dimension of size > 1 is the number of elements of all the
  // dimensions laid out inside it: exactly the `inner` block.
  const int64_t inner = dense.stride(axis);
  return ChannelLayout{dense.numel() / (channels * inner), channels, inner};
}

at::Tensor empty_output(const at::Tensor& x) {
  at::Tensor out = x.is_non_overlapping_and_dense() ? at::empty_strided(x.sizes(), x.strides(), x.options())
                                                    : at::empty(x.sizes(), x.options());
  advise_huge_pages(out);
  return out;
}

void compute_into(const at::Tensor& x, at::Tensor& out,
                  const std::function<void(const at::Tensor& src, at::Tensor& dst)>& compute) {
  TORCH_CHECK_TYPE(out.scalar_type() == at::kFloat, "fake_quant: out must be float32, got ", out.scalar_type());
  TORCH_CHECK_VALUE(out.device() == x.device(), "fake_quant: out is on ", out.device(), " but x is on ", x.device());
  TORCH_CHECK_VALUE(out.sizes() == x.sizes(), "fake_quant: out has shape ", out.sizes(), " but x has shape ",
                    x.sizes());
  const at::Tensor src = x.is_non_overlapping_and_dense() ? x : x.contiguous();
  if (src.numel() == 0) return;
  if (out.is_non_overlapping_and_dense() && out.strides() == src.strides()) {
    compute(src, out);
    return;
  }
  at::Tensor dst = at::empty_strided(src.sizes(), src.strides(), src.options());
  compute(src, dst);
  out.copy_(dst);
}

}  // namespace quantsim::fake_quant_detail
