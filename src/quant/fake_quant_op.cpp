// The quantsim fake-quant ops: their schemas, and the C++ API (include/quantsim/quant/fake_quant.h) that calls them
// through the dispatcher. Backends register their kernels separately (fake_quant_cpu_kernel.cpp,
// fake_quant_cuda_kernel.cpp).
#include "quantsim/quant/fake_quant.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <utility>

#include "fake_quant_common.h"
#include "quantsim/core/errors.h"

namespace quantsim {

// FRAGMENT: other files add more ops to the quantsim namespace.
TORCH_LIBRARY_FRAGMENT(quantsim, m) {
  m.def("fake_quant_per_tensor(Tensor x, float lo, float hi, int bits) -> Tensor");
  m.def("fake_quant_per_tensor.out(Tensor x, float lo, float hi, int bits, *, Tensor(a!) out) -> Tensor(a!)");
  m.def("fake_quant_per_channel(Tensor x, Tensor lo, Tensor hi, Tensor bits, int axis) -> Tensor");
  m.def("fake_quant_per_channel.out(Tensor x, Tensor lo, Tensor hi, Tensor bits, int axis, *, Tensor(a!) out) "
        "-> Tensor(a!)");
  // The same with the quantizer parameters precomputed by fake_quant_channel_params and kept on x's device: nothing
  // is computed or copied per call, so a CUDA call only enqueues its kernel.
  m.def("fake_quant_per_channel.params(Tensor x, Tensor params, int axis) -> Tensor");
  m.def("fake_quant_per_channel.params_out(Tensor x, Tensor params, int axis, *, Tensor(a!) out) -> Tensor(a!)");
}

namespace {

template <typename Signature>
c10::TypedOperatorHandle<Signature> find_op(const char* name, const char* overload) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, overload).typed<Signature>();
}

// The ops reject bad arguments with c10::ValueError / c10::TypeError; to callers of the C++ API those are user errors.
template <typename Call>
decltype(auto) rethrowing_user_errors(Call&& call) {
  try {
    return std::forward<Call>(call)();
  } catch (const c10::ValueError& e) {
    throw UserError(e.what_without_backtrace());
  } catch (const c10::TypeError& e) {
    throw UserError(e.what_without_backtrace());
  }
}

}  // namespace

at::Tensor fake_quant_per_tensor(const at::Tensor& x, float lo, float hi, int bits) {
  static const auto op = find_op<at::Tensor(const at::Tensor&, double, double, int64_t)>(
      "quantsim::fake_quant_per_tensor", "");
  return rethrowing_user_errors([&] { return op.call(x, lo, hi, bits); });
}

at::Tensor fake_quant_per_channel(const at::Tensor& x, const at::Tensor& lo, const at::Tensor& hi,
                                  const at::Tensor& bits, int64_t axis) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t)>(
          "quantsim::fake_quant_per_channel", "");
  return rethrowing_user_errors([&] { return op.call(x, lo, hi, bits, axis); });
}

at::Tensor fake_quant_channel_params(const at::Tensor& lo, const at::Tensor& hi, const at::Tensor& bits) {
  return rethrowing_user_errors([&] {
    TORCH_CHECK_VALUE(lo.dim() == 1, "fake_quant_channel_params: lo must have one dimension, got ", lo.sizes());
    return fake_quant_detail::channel_params_table(lo, hi, bits, lo.size(0));
  });
}

at::Tensor fake_quant_per_channel(const at::Tensor& x, const at::Tensor& params, int64_t axis) {
  static const auto op = find_op<at::Tensor(const at::Tensor&, const at::Tensor&, int64_t)>(
      "quantsim::fake_quant_per_channel", "params");
  return rethrowing_user_errors([&] { return op.call(x, params, axis); });
}

at::Tensor& fake_quant_per_channel_out(const at::Tensor& x, const at::Tensor& params, int64_t axis, at::Tensor& out) {
  static const auto op = find_op<at::Tensor&(const at::Tensor&, const at::Tensor&, int64_t, at::Tensor&)>(
      "quantsim::fake_quant_per_channel", "params_out");
  return rethrowing_user_errors([&]() -> at::Tensor& { return op.call(x, params, axis, out); });
}

at::Tensor& fake_quant_per_tensor_out(const at::Tensor& x, float lo, float hi, int bits, at::Tensor& out) {
  static const auto op = find_op<at::Tensor&(const at::Tensor&, double, double, int64_t, at::Tensor&)>(
      "quantsim::fake_quant_per_tensor", "out");
  return rethrowing_user_errors([&]() -> at::Tensor& { return op.call(x, lo, hi, bits, out); });
}

at::Tensor& fake_quant_per_channel_out(const at::Tensor& x, const at::Tensor& lo, const at::Tensor& hi,
                                       const at::Tensor& bits, int64_t axis, at::Tensor& out) {
  static const auto op = find_op<at::Tensor&(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                             int64_t, at::Tensor&)>("quantsim::fake_quant_per_channel", "out");
  return rethrowing_user_errors([&]() -> at::Tensor& { return op.call(x, lo, hi, bits, axis, out); });
}

}  // namespace quantsim
