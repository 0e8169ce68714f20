#include "quantsim/results/results_log.h"

#include <fmt/format.h>

#include "quantsim/core/atomic_file.h"
#include "quantsim/data/shard.h"
#include "quantsim/results/result_record.h"

namespace quantsim {
namespace {

// A results line that only lacks its '\n' is kept; anything else at the end of the file is a torn write.
bool is_whole_json_line(const std::string& line) { return nlohmann::json::accept(line); }

}  // namespace

void append_result(const std::string& results_path, const nlohmann::json& record) {
  // A line the readers would refuse would make the whole file unreadable for merge, report, gate and sweep.
  ResultRecord::from_json(record, results_path + ": the line to append");
  append_line_locked(results_path, record.dump(), is_whole_json_line);
}

}  // namespace quantsim
