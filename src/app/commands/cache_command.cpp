#include "quantsim/app/commands/cache_command.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include <fmt/format.h>

#include "quantsim/app/cli.h"
#include "quantsim/app/runs.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"

namespace quantsim {
namespace {

constexpr const char* kUsage =
    "usage: quant-sim cache build --data DIR --out FILE [--model M.pt | -a NAME [--models-dir D]]\n"
    "                             [--resize N] [--crop N] [--interpolation bilinear|nearest] [--synsets FILE]\n"
    "                             [-ss N [-sh] [--seed S]] [-j N] [-b N] [--no-progress]\n"
    "Decodes the images of DIR once, resized and center-cropped as the model's sidecar (and the flags) say, into\n"
    "the image cache FILE; `quant-sim --data FILE ...` and sweeps then read it instead of the images "
    "(docs/CACHE.md).\n";

// The main job's flags that mean something to a cache build; anything else (bits, statistics, ...) is refused, so
// that a flag copied from a run by mistake is not silently ignored.
const std::set<std::string> kBuildFlags = {
    "a",   "arch", "model",      "models-dir", "data",    "synsets",     "resize", "crop", "interpolation", "mean",
    "std", "b",    "batch-size", "j",          "workers", "no-progress", "sh",     "ss",   "subset",        "seed"};

// The flag name of an argument ("--crop=224" -> "crop", "-ss" -> "ss"), or "" for a value.
std::string flag_name(const std::string& arg) {
  if (arg.size() < 2 || arg[0] != '-' || (arg[1] >= '0' && arg[1] <= '9') || arg[1] == '.') return "";
  const size_t start = arg[1] == '-' ? 2 : 1;
  return arg.substr(start, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - start);
}

}  // namespace

int run_cache_command(const std::vector<std::string>& args) {
  if (args.empty() || args.front() == "-h" || args.front() == "--help" ||
      (args.front() == "build" && std::find_if(args.begin(), args.end(), [](const std::string& a) {
                                    return a == "-h" || a == "--help";
                                  }) != args.end())) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.front() != "build") {
    throw UserError(fmt::format("quant-sim cache: unknown action '{}'; the action is build (quant-sim cache build "
                                "--help)",
                                args.front()));
  }
  std::vector<std::string> rest;
  std::string out;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--out") {
      if (i + 1 >= args.size()) throw UserError("quant-sim cache build: flag --out needs a file");
      out = args[++i];
      continue;
    }
    if (arg.rfind("--out=", 0) == 0) {
      out = arg.substr(6);
      continue;
    }
    const std::string name = flag_name(arg);
    if (!name.empty() && !kBuildFlags.count(name)) {
      throw UserError(fmt::format("quant-sim cache build: flag {} does not apply to building a cache", arg));
    }
    rest.push_back(arg);
  }
  if (out.empty()) throw UserError("quant-sim cache build: --out FILE is required (the cache to write)");
  const ParsedCommandLine parsed = parse_command_line(rest);
  run_cache_build(parsed.config, expand_user(out));
  return 0;
}

}  // namespace quantsim
