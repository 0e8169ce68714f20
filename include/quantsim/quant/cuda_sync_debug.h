#pragma once
// A debugging hook for the GPU use pass: inside a CudaSyncDebugScope, every CUDA call that makes the host wait for
// the device (a blocking copy, .item(), a stream or device synchronize) warns or throws, as LibTorch's
// torch.cuda.set_sync_debug_mode does. The environment variable QUANTSIM_CUDA_SYNC_DEBUG chooses: `warn` or
// `error`; unset or empty, nothing happens. It acts only in a build against a CUDA LibTorch (QUANTSIM_TORCH_CUDA);
// a CPU build reads and checks the variable but has nothing to watch.
#include <optional>

namespace quantsim {

enum class CudaSyncDebug { kWarn, kError };

// The mode QUANTSIM_CUDA_SYNC_DEBUG asks for, or nullopt when it is unset or empty. Throws UserError for any other
// value, naming the variable.
std::optional<CudaSyncDebug> cuda_sync_debug_from_environment();

class CudaSyncDebugScope {
 public:
  // `active` false: the scope does nothing (e.g. dynamic ranges, which read their statistics back by design).
  explicit CudaSyncDebugScope(bool active = true);
  ~CudaSyncDebugScope();
  CudaSyncDebugScope(const CudaSyncDebugScope&) = delete;
  CudaSyncDebugScope& operator=(const CudaSyncDebugScope&) = delete;

 private:
  bool set_ = false;
  int previous_ = 0;  // LibTorch's mode before the scope, restored after it
};

}  // namespace quantsim
