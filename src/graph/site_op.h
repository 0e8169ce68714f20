#pragma once
// Internal side of the `quantsim::site` op (the public side is quantsim/site_handler.h).
#include <exception>

namespace quantsim::graph {

// The exception the current thread's SiteHandler last threw from inside the op, cleared by the call; null if none.
// The TorchScript interpreter rewraps exceptions as std::runtime_error with a script traceback; PreparedModel::forward
// rethrows the original instead, so that a handler's UserError stays a UserError.
std::exception_ptr take_site_handler_error();

}  // namespace quantsim::graph
