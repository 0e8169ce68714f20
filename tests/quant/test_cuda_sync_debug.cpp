// QUANTSIM_CUDA_SYNC_DEBUG: what the variable may say. (Whether LibTorch then flags a synchronisation can only be seen
// in a CUDA build on a GPU: scripts/gpu/check.sh.)
#include "quantsim/quant/cuda_sync_debug.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "quantsim/core/errors.h"

namespace quantsim {
namespace {

class CudaSyncDebugEnvironment : public ::testing::Test {
 protected:
  void TearDown() override { unsetenv("QUANTSIM_CUDA_SYNC_DEBUG"); }
};

TEST_F(CudaSyncDebugEnvironment, UnsetOrEmptyMeansOff) {
  unsetenv("QUANTSIM_CUDA_SYNC_DEBUG");
  EXPECT_EQ(cuda_sync_debug_from_environment(), std::nullopt);
  setenv("QUANTSIM_CUDA_SYNC_DEBUG", "", 1);
  EXPECT_EQ(cuda_sync_debug_from_environment(), std::nullopt);
  EXPECT_NO_THROW(CudaSyncDebugScope scope);
}

TEST_F(CudaSyncDebugEnvironment, WarnAndError) {
  setenv("QUANTSIM_CUDA_SYNC_DEBUG", "warn", 1);
  EXPECT_EQ(cuda_sync_debug_from_environment(), CudaSyncDebug::kWarn);
  setenv("QUANTSIM_CUDA_SYNC_DEBUG", "error", 1);
  EXPECT_EQ(cuda_sync_debug_from_environment(), CudaSyncDebug::kError);
  EXPECT_NO_THROW(CudaSyncDebugScope scope);
}

TEST_F(CudaSyncDebugEnvironment, AnythingElseIsAUserError) {
  setenv("QUANTSIM_CUDA_SYNC_DEBUG", "1", 1);
  EXPECT_THROW(cuda_sync_debug_from_environment(), UserError);
  EXPECT_THROW(CudaSyncDebugScope scope, UserError);
  EXPECT_NO_THROW(CudaSyncDebugScope scope(/*active=*/false));  // dynamic ranges do not read it
}

}  // namespace
}  // namespace quantsim
