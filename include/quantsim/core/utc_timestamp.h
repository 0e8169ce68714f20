#pragma once
#include <string>

namespace quantsim {

// The current time as ISO 8601 UTC, e.g. 2026-11-25T03:14:15Z: the "timestamp" of results and "created" of statistics.
std::string utc_timestamp();

}  // namespace quantsim
