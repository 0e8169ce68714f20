#pragma once
// `quant-sim cache build --data DIR [--model M | -a NAME | --resize N --crop N --interpolation I] [--synsets F]
// [-ss N [-sh --seed S]] [-j N] [-b N] --out FILE`: decodes a dataset once into an image cache (docs/CACHE.md) that
// `quant-sim --data FILE` and sweeps read instead of the image files.
#include <string>
#include <vector>

namespace quantsim {

// The subcommand; `args` follow "cache".
int run_cache_command(const std::vector<std::string>& args);

}  // namespace quantsim
