#pragma once
// Errors a user can cause (bad flag, missing file, mismatched statistics). main() prints them as one line and exits
// non-zero; anything else escaping is a bug.
#include <stdexcept>
#include <string>

namespace quantsim {

class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Exit codes: 2 for bad input the user can fix, 1 for internal failures, 3 for `quant-sim gate` finding that accuracy
// dropped (so that CI tells a regression from a broken run).
constexpr int kExitUserError = 2;
constexpr int kExitInternalError = 1;
constexpr int kExitAccuracyDropped = 3;

}  // namespace quantsim
