#pragma once
// The main job's runs. Each returns the process exit code and throws UserError for bad input.
#include <string>

#include "quantsim/app/config.h"
#include "quantsim/data/image_cache.h"

namespace quantsim {

// Evaluates the model on --data: FP32 when nothing is quantized, else with fake-quantized weights and activations,
// static ranges from a statistics file (-sm use) or dynamic ones (-sm no). Prints top-1/top-5 and appends a line to
// the results file.
int run_evaluation(const Config& config);

// `quant-sim cache build`: decodes --data once with the preprocessing of --model's sidecar and the flags, and writes
// the image cache `out` atomically (data/image_cache.h). -ss (with -sh/--seed) caches a head of that selection.
ImageCacheSummary run_cache_build(const Config& config, const std::string& out);

// -sm collect: runs the FP32 model over the calibration images and writes the statistics file atomically.
int run_collect(const Config& config);

}  // namespace quantsim
