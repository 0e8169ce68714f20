#include "quantsim/quant/cuda_sync_debug.h"

#include <cstdlib>
#include <string>

#include <fmt/format.h>

#ifdef QUANTSIM_TORCH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

#include "quantsim/core/errors.h"

namespace quantsim {

std::optional<CudaSyncDebug> cuda_sync_debug_from_environment() {
  const char* value = std::getenv("QUANTSIM_CUDA_SYNC_DEBUG");
  if (value == nullptr || *value == '\0') return std::nullopt;
  const std::string text = value;
  if (text == "warn") return CudaSyncDebug::kWarn;
  if (text == "error") return CudaSyncDebug::kError;
  throw UserError(fmt::format("QUANTSIM_CUDA_SYNC_DEBUG must be warn or error (or unset), got '{}'", text));
}

CudaSyncDebugScope::CudaSyncDebugScope(bool active) {
  if (!active) return;
  const std::optional<CudaSyncDebug> mode = cuda_sync_debug_from_environment();
  if (!mode) return;
#ifdef QUANTSIM_TORCH_CUDA
  c10::cuda::WarningState& state = c10::cuda::warning_state();
  previous_ = static_cast<int>(state.get_sync_debug_mode());
  state.set_sync_debug_mode(*mode == CudaSyncDebug::kError ? c10::cuda::SyncDebugMode::L_ERROR
                                                           : c10::cuda::SyncDebugMode::L_WARN);
  set_ = true;
#endif
}

CudaSyncDebugScope::~CudaSyncDebugScope() {
#ifdef QUANTSIM_TORCH_CUDA
  if (set_) c10::cuda::warning_state().set_sync_debug_mode(static_cast<c10::cuda::SyncDebugMode>(previous_));
#endif
}

}  // namespace quantsim
