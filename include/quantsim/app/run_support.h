#pragma once
// Steps shared by the evaluation and collect runs.
#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantsim/data/batch_loader.h"
#include "quantsim/passes/evaluation.h"
#include "quantsim/app/run_inputs.h"

namespace quantsim {

// Runs the first decodable image through `forward`: checks the output is [1, classes] (the sidecar's count when it
// has one) and returns the number of classes.
int64_t count_model_classes(const ModelFile& model, const Forward& forward, const std::vector<LabeledImage>& images,
                            const PreprocessSpec& spec);

// check_model_output on a [1, classes] output, then the sidecar's output.num_classes against it (naming the sidecar).
void check_model_classes(const ModelFile& model, const at::Tensor& logits);

// check_logits_shape (prepared_model.h) with the model file named in the error.
void check_model_output(const at::Tensor& logits, int64_t batch, int64_t num_classes, const std::string& model_path);

// The first decodable image of `images` as a [1, 3, H, W] batch; UserError when none decodes.
at::Tensor first_decodable_image(const std::vector<LabeledImage>& images, const PreprocessSpec& spec);

// Refuses, before anything runs, output files of `config` that could not be written: --results, --save-logits,
// --layer-report and --export that name a directory, FIFO, device, dangling link or link loop. The error names the flag.
void check_output_destinations(const Config& config);

}  // namespace quantsim
