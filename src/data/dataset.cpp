#include "quantsim/data/dataset.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "dataset_layouts.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/splitmix64.h"

namespace quantsim {
namespace fs = std::filesystem;

namespace {

// <root>/val when it exists (a full ILSVRC2012 folder), else <root>.
fs::path images_root(const fs::path& root) {
  std::error_code ec;
  const fs::file_type type = fs::status(root, ec).type();
  if (type == fs::file_type::not_found) throw UserError(fmt::format("{}: data folder does not exist", root.string()));
  if (ec) throw UserError(fmt::format("{}: {}", root.string(), regular_file_problem(root.string())));
  if (type != fs::file_type::directory) throw UserError(fmt::format("{}: data path is not a folder", root.string()));
  return fs::is_directory(root / "val", ec) ? root / "val" : root;  // a "val" link loop is refused by the listing
}

// The first existing `name` in the given folders (duplicates and empty paths ignored), or "".
std::string first_existing(const std::vector<fs::path>& folders, const std::string& name) {
  for (const fs::path& folder : folders) {
    if (folder.empty()) continue;
    // Anything but a folder counts, so that its reader says what is wrong with a FIFO, a loop or a dangling link.
    std::error_code ec;
    const fs::file_type type = fs::symlink_status(folder / name, ec).type();
    if (!ec && type != fs::file_type::not_found && type != fs::file_type::directory) return (folder / name).string();
  }
  return "";
}

std::vector<fs::path> lookup_folders(const fs::path& given_root, const fs::path& images) {
  fs::path parent = fs::absolute(images).lexically_normal();
  if (!parent.has_filename()) parent = parent.parent_path();
  return {images, given_root, parent.parent_path()};
}

std::string find_ground_truth(const std::vector<fs::path>& folders) {
  for (const char* name : {"val.txt", "LOC_val_solution.csv"}) {
    const std::string found = first_existing(folders, name);
    if (!found.empty()) return found;
  }
  return "";
}

bool is_loc_solution_csv(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  return name.size() >= 4 && name.compare(name.size() - 4, 4, ".csv") == 0;
}

}  // namespace

bool has_image_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::unordered_set<std::string> kImageExtensions = {".jpg", ".jpeg", ".png", ".bmp", ".ppm",
                                                                   ".pgm", ".webp", ".tif", ".tiff"};
  return kImageExtensions.count(ext) > 0;
}

std::vector<std::string> read_class_order(const std::string& path) {
  std::ifstream in = open_regular_file_for_reading(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  while (!lines.empty() && lines.back().find_first_not_of(" \t\r") == std::string::npos) lines.pop_back();

  std::vector<std::string> names;
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string name;
    std::istringstream(lines[i]) >> name;  // first token: "n01440764 tench, Tinca tinca" -> "n01440764"
    if (name.empty()) throw UserError(fmt::format("{}:{}: blank line inside the class list", path, i + 1));
    if (!seen.insert(name).second) throw UserError(fmt::format("{}:{}: class '{}' is listed twice", path, i + 1, name));
    names.push_back(name);
  }
  if (names.empty()) throw UserError(path + ": the class-order file lists no classes");
  return names;
}

Dataset load_dataset(const std::string& root_arg, const DatasetOptions& options) {
  const fs::path given_root(root_arg);
  const fs::path root = images_root(given_root);
  const std::vector<fs::path> folders = lookup_folders(given_root, root);

  Dataset dataset;
  dataset.root = root.string();
  dataset.class_order_file = options.class_order_file.empty() ? first_existing(folders, "synsets.txt")
                                                              : options.class_order_file;
  if (!dataset.class_order_file.empty()) dataset.class_names = read_class_order(dataset.class_order_file);

  const bool flat = !options.ground_truth.empty() || !detail::has_class_folders(root);
  if (!flat) {
    dataset.layout = "image-folder";
    dataset.images = detail::read_image_folder(root, &dataset.class_names, dataset.class_order_file);
  } else {
    const std::string ground_truth = options.ground_truth.empty() ? find_ground_truth(folders) : options.ground_truth;
    if (ground_truth.empty()) {
      throw UserError(
          fmt::format("{}: no class folders, and no val.txt or LOC_val_solution.csv beside the images", root.string()));
    }
    if (is_loc_solution_csv(ground_truth)) {
      dataset.layout = "LOC_val_solution.csv";
      dataset.images = detail::read_loc_solution_csv(root, ground_truth, dataset.class_names, dataset.class_order_file,
                                                     &dataset.listed_but_missing);
    } else {
      dataset.layout = "val.txt";
      dataset.images = detail::read_val_txt(root, ground_truth, &dataset.listed_but_missing);
    }
    if (dataset.listed_but_missing > 0) {
      spdlog::warn("{}: {} images listed in {} are not in the folder; evaluating the {} present", root.string(),
                   dataset.listed_but_missing, ground_truth, dataset.images.size());
    }
  }
  if (dataset.images.empty()) throw UserError(fmt::format("{}: no images found", root.string()));
  return dataset;
}

std::vector<LabeledImage> select_images(const std::vector<LabeledImage>& images, std::optional<int64_t> count,
                                        bool shuffle, uint64_t seed, const std::string& what) {
  if (count && *count < 1) throw UserError(fmt::format("{}: must be at least 1, got {}", what, *count));
  std::vector<LabeledImage> selected = images;
  if (shuffle) seeded_shuffle(selected, seed);  // permute the whole canonical list, then take the head
  if (count && *count < static_cast<int64_t>(selected.size())) selected.resize(static_cast<size_t>(*count));
  return selected;
}

void check_labels_fit(const Dataset& dataset, int64_t num_classes) {
  const int64_t known = static_cast<int64_t>(dataset.class_names.size());
  if (!dataset.class_order_file.empty() && known != num_classes) {
    throw UserError(fmt::format("{}: lists {} classes but the model outputs {}; wrong class-order file?",
                                dataset.class_order_file, known, num_classes));
  }
  if (dataset.class_order_file.empty() && dataset.layout == "image-folder" && known != num_classes) {
    throw UserError(fmt::format("{}: {} class folders but the model has {} classes; labels from enumerated folders "
                                "would be wrong, pass the class-order file (--synsets)",
                                dataset.root, known, num_classes));
  }
  for (const LabeledImage& image : dataset.images) {
    if (image.label >= num_classes) {
      const std::string name = image.label < known ? dataset.class_names[image.label] : "";
      throw UserError(fmt::format("{}: class {}(index {}) is beyond the model's {} classes", image.path,
                                  name.empty() ? "" : "'" + name + "' ", image.label, num_classes));
    }
  }
}

}  // namespace quantsim
