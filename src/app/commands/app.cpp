#include "quantsim/app/commands/app.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/csrc/jit/runtime/jit_exception.h>

#include "quantsim/app/cli.h"
#include "quantsim/app/commands/cache_command.h"
#include "quantsim/app/commands/compare_command.h"
#include "quantsim/app/commands/gate_command.h"
#include "quantsim/app/commands/inspect_command.h"
#include "quantsim/app/commands/merge_command.h"
#include "quantsim/app/commands/report_command.h"
#include "quantsim/app/commands/sweep_command.h"
#include "quantsim/app/runs.h"
#include "quantsim/app/runtime_info.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/message_text.h"
#include "quantsim/graph/torchscript_loading.h"

namespace quantsim {
namespace {

int run_command(const std::vector<std::string>& args) {
  // Subcommands are a first word that no flag of the main job can be.
  if (!args.empty() && args.front() == "merge") return run_merge_command({args.begin() + 1, args.end()});
  if (!args.empty() && args.front() == "report") return run_report_command({args.begin() + 1, args.end()});
  if (!args.empty() && args.front() == "sweep") return run_sweep_command({args.begin() + 1, args.end()});
  if (!args.empty() && args.front() == "gate") return run_gate_command({args.begin() + 1, args.end()});
  if (!args.empty() && args.front() == "cache") return run_cache_command({args.begin() + 1, args.end()});
  if (!args.empty() && args.front() == "compare") return run_compare_command({args.begin() + 1, args.end()});
  if (!args.empty() && args.front() == "inspect") return run_inspect_command({args.begin() + 1, args.end()});
  const ParsedCommandLine parsed = parse_command_line(args);
  if (parsed.help) {
    std::fputs(parsed.help_text.c_str(), stdout);
    return 0;
  }
  if (parsed.version) {
    std::printf("quant-sim %s\n%s\n", QUANTSIM_VERSION, describe(runtime_info()).c_str());
    return 0;
  }
  for (const std::string& warning : parsed.warnings) std::fprintf(stderr, "quant-sim: warning: %s\n", warning.c_str());
  if (parsed.config.stats_mode == StatsMode::kCollect) return run_collect(parsed.config);
  return run_evaluation(parsed.config);
}

// What a command printed may still sit in stdio's buffer; a failed write of it (a full disk under `> table.csv`,
// /dev/full) would otherwise pass for success with the table or accuracy lost.
void check_standard_output() {
  errno = 0;
  if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return;
  const int error = errno;  // 0 when only an earlier write failed and its errno is gone
  throw UserError(fmt::format("writing standard output: {}", error != 0 ? std::strerror(error) : "write failed"));
}

// Whatever escapes a command as a LibTorch or filesystem exception leaves as one line: a path the system refuses
// (too long, not permitted) is the user's to fix; a LibTorch failure that no closer handler explained is a bug,
// reported without its C++ backtrace or TorchScript traceback.
int run_with_one_line_errors(const std::vector<std::string>& args) {
  try {
    return run_command(args);
  } catch (const std::filesystem::filesystem_error& e) {
    const std::string path = e.path1().empty() ? "file system" : abbreviated(e.path1().string(), 200);
    throw UserError(fmt::format("{}: {}", path, e.code().message()));
  } catch (const c10::Error& e) {
    throw std::runtime_error(graph::error_summary(e));
  } catch (const torch::jit::JITException& e) {
    throw std::runtime_error(graph::error_summary(e));
  }
}

}  // namespace

int run_app(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const int code = run_with_one_line_errors(args);
  check_standard_output();
  return code;
}

}  // namespace quantsim
