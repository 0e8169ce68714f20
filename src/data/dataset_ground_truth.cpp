// Flat folders labelled by a ground-truth file: Caffe's val.txt and Kaggle's LOC_val_solution.csv.
#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "dataset_layouts.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"

namespace quantsim::detail {
namespace fs = std::filesystem;

namespace {

std::ifstream open_ground_truth(const std::string& path) { return open_regular_file_for_reading(path); }

std::string trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

// File names in the flat folder (one listing instead of a stat per ground-truth line).
std::unordered_set<std::string> files_in(const fs::path& root) {
  std::unordered_set<std::string> files;
  for (const FolderEntry& entry : list_folder(root)) {
    if (!entry.is_folder) files.insert(entry.path.filename().string());
  }
  return files;
}

// Image stem -> file name, for CSVs that list ids without an extension.
std::unordered_map<std::string, std::string> images_by_stem(const fs::path& root) {
  std::unordered_map<std::string, std::string> by_stem;
  for (const FolderEntry& entry : list_folder(root)) {
    const std::string name = entry.path.filename().string();
    if (!entry.is_folder && has_image_extension(name)) by_stem.emplace(entry.path.stem().string(), name);
  }
  return by_stem;
}

// Remembers each image's first ground-truth entry: a repeated entry with the same label is dropped (evaluating an
// image twice would weigh it double), one with another label is an error, since either label could be the wrong one.
class GroundTruthEntries {
 public:
  explicit GroundTruthEntries(std::string file) : file_(std::move(file)) {}

  // True for the first entry of `image`; false for an identical repeat. Throws UserError for a conflicting one.
  bool first(const std::string& image, int64_t label, int64_t line, const std::string& label_text) {
    const auto [it, inserted] = seen_.emplace(image, Entry{label, line, label_text});
    if (inserted) return true;
    if (it->second.label == label) return false;
    throw UserError(fmt::format("{}:{}: image '{}' is labelled '{}', but line {} labels it '{}'", file_, line, image,
                                label_text, it->second.line, it->second.label_text));
  }

 private:
  struct Entry {
    int64_t label;
    int64_t line;
    std::string label_text;
  };
  std::string file_;
  std::unordered_map<std::string, Entry> seen_;
};

}  // namespace

std::vector<LabeledImage> read_val_txt(const fs::path& root, const std::string& ground_truth, int64_t* missing) {
  std::ifstream in = open_ground_truth(ground_truth);
  const std::unordered_set<std::string> present = files_in(root);
  GroundTruthEntries entries(ground_truth);
  std::vector<LabeledImage> images;
  std::string line;
  for (int64_t line_number = 1; std::getline(in, line); ++line_number) {
    line = trim(line);
    if (line.empty()) continue;
    // "<file> <index>": the index is the last token, so file names with spaces survive.
    const size_t split = line.find_last_of(" \t");
    int64_t label = -1;
    size_t parsed = 0;
    if (split != std::string::npos) {
      try {
        label = std::stoll(line.substr(split + 1), &parsed);
      } catch (const std::exception&) {
        label = -1;
      }
    }
    if (split == std::string::npos || label < 0 || parsed != line.size() - split - 1) {
      throw UserError(fmt::format("{}:{}: expected '<file> <class index>', got '{}'", ground_truth, line_number, line));
    }
    const std::string file = trim(line.substr(0, split));
    if (!entries.first(file, label, line_number, std::to_string(label))) continue;
    if (!present.count(file)) {
      ++*missing;
      continue;
    }
    images.push_back({(root / file).string(), label});
  }
  return images;
}

std::vector<LabeledImage> read_loc_solution_csv(const fs::path& root, const std::string& ground_truth,
                                                const std::vector<std::string>& class_names,
                                                const std::string& class_order_file, int64_t* missing) {
  if (class_names.empty()) {
    throw UserError(ground_truth + ": LOC_val_solution.csv names classes by wnid; a class-order file (synsets.txt, "
                                   "--synsets) is needed to turn them into indices");
  }
  std::unordered_map<std::string, int64_t> index_of;
  for (size_t i = 0; i < class_names.size(); ++i) index_of.emplace(class_names[i], static_cast<int64_t>(i));
  const std::unordered_map<std::string, std::string> by_stem = images_by_stem(root);

  std::ifstream in = open_ground_truth(ground_truth);
  GroundTruthEntries entries(ground_truth);
  std::vector<LabeledImage> images;
  std::string line;
  for (int64_t line_number = 1; std::getline(in, line); ++line_number) {
    line = trim(line);
    if (line.empty() || (line_number == 1 && line.rfind("ImageId", 0) == 0)) continue;  // header
    const size_t comma = line.find(',');
    std::string wnid;
    if (comma != std::string::npos) std::istringstream(line.substr(comma + 1)) >> wnid;
    if (comma == std::string::npos || comma == 0 || wnid.empty()) {
      throw UserError(fmt::format("{}:{}: expected 'ImageId,<wnid> ...', got '{}'", ground_truth, line_number, line));
    }
    const auto label = index_of.find(wnid);
    if (label == index_of.end()) {
      throw UserError(fmt::format("{}:{}: class '{}' is not listed in the class-order file {}", ground_truth,
                                  line_number, wnid, class_order_file));
    }
    const std::string image_id = line.substr(0, comma);
    if (!entries.first(image_id, label->second, line_number, wnid)) continue;
    const auto file = by_stem.find(image_id);
    if (file == by_stem.end()) {
      ++*missing;
      continue;
    }
    images.push_back({(root / file->second).string(), label->second});
  }
  return images;
}

}  // namespace quantsim::detail
