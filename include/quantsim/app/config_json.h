#pragma once
// A run's Config as JSON: the "config" object of its results line (results/results_log.h) and of an export's
// settings.
#include <nlohmann/json.hpp>

#include "quantsim/app/config.h"

namespace quantsim {

// Every option of the run.
nlohmann::json config_to_json(const Config& config);

}  // namespace quantsim
