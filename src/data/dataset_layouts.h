#pragma once
// Readers of the two on-disk layouts behind load_dataset() (private to quantsim_data).
#include <filesystem>
#include <string>
#include <vector>

#include "quantsim/dataset.h"

namespace quantsim::detail {

// <root>/<class>/<image>; labels from `class_names` (line order), or the sorted folder names when it is empty
// (then `class_names` is filled with them).
std::vector<LabeledImage> read_image_folder(const std::filesystem::path& root, std::vector<std::string>* class_names,
                                            const std::string& class_order_file);

// True when `root` holds at least one sub-folder that is not hidden.
bool has_class_folders(const std::filesystem::path& root);

// Flat folder + Caffe val.txt ("<file> <index>"), in the file's order. Listed files absent from the folder are
// left out and counted in *missing.
std::vector<LabeledImage> read_val_txt(const std::filesystem::path& root, const std::string& ground_truth,
                                       int64_t* missing);

// Flat folder + Kaggle LOC_val_solution.csv ("ImageId,PredictionString", wnid first), in the file's order.
std::vector<LabeledImage> read_loc_solution_csv(const std::filesystem::path& root, const std::string& ground_truth,
                                                const std::vector<std::string>& class_names,
                                                const std::string& class_order_file, int64_t* missing);

}  // namespace quantsim::detail
