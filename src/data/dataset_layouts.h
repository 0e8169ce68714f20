#pragma once
// Readers of the two on-disk layouts behind load_dataset() (private to quantsim_data).
#include <filesystem>
#include <string>
#include <vector>

#include "quantsim/data/dataset.h"

namespace quantsim::detail {

// One entry of a dataset folder, symbolic links followed.
struct FolderEntry {
  std::filesystem::path path;
  bool is_folder = false;  // false for files, FIFOs, devices and dangling links alike: reading them says what they are
};

// The entries of `folder` (hidden ones too), in directory order. The walk of a dataset never goes deeper than
// <root>/<class>/<image>, so a folder link pointing back up cannot make it loop; a link that loops on itself cannot
// be classified, and stops the run. Throws UserError naming the path for a folder that cannot be listed and for an
// entry that is or passes through a symbolic link loop.
std::vector<FolderEntry> list_folder(const std::filesystem::path& folder);

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
