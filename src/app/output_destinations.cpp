#include "quantsim/app/output_destinations.h"

#include <fmt/format.h>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"

namespace quantsim {

void check_output_destinations(const Config& config) {
  const auto check = [](const char* flag, const std::string& path, void (*check_path)(const std::string&)) {
    if (path.empty()) return;
    try {
      check_path(path);
    } catch (const UserError& e) {
      throw UserError(fmt::format("flag {}: {}", flag, e.what()));
    }
  };
  check("--results", config.results, check_append_destination);
  check("--save-logits", config.save_logits, check_write_destination);
  check("--layer-report", config.layer_report, check_write_destination);
  check("--arith-report", config.arith_report, check_write_destination);
  check("--export", config.export_path, check_write_destination);
}

}  // namespace quantsim
