// The ImageFolder layout: <root>/<class>/<image>, classes in class-order-file order, files sorted bytewise.
#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "dataset_layouts.h"
#include "quantsim/errors.h"

namespace quantsim::detail {
namespace fs = std::filesystem;

namespace {

bool is_hidden(const fs::path& path) { return path.filename().string().rfind('.', 0) == 0; }

std::vector<std::string> sorted_class_folders(const fs::path& root) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(root)) {
    if (entry.is_directory() && !is_hidden(entry.path())) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());  // std::string's < compares bytes as unsigned char, like memcmp
  return names;
}

std::vector<std::string> sorted_image_files(const fs::path& folder) {
  std::vector<std::string> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && !is_hidden(entry.path()) && has_image_extension(name)) files.push_back(name);
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

bool has_class_folders(const fs::path& root) {
  for (const fs::directory_entry& entry : fs::directory_iterator(root)) {
    if (entry.is_directory() && !is_hidden(entry.path())) return true;
  }
  return false;
}

std::vector<LabeledImage> read_image_folder(const fs::path& root, std::vector<std::string>* class_names,
                                            const std::string& class_order_file) {
  const std::vector<std::string> folders = sorted_class_folders(root);
  if (class_names->empty()) *class_names = folders;  // no class-order file: folder enumeration order
  std::unordered_map<std::string, int64_t> index_of;
  for (size_t i = 0; i < class_names->size(); ++i) index_of.emplace((*class_names)[i], static_cast<int64_t>(i));

  std::vector<std::pair<int64_t, std::string>> labelled_folders;
  for (const std::string& folder : folders) {
    const auto it = index_of.find(folder);
    if (it == index_of.end()) {
      throw UserError(fmt::format("{}: class folder '{}' is not listed in the class-order file {}",
                                  (root / folder).string(), folder, class_order_file));
    }
    labelled_folders.emplace_back(it->second, folder);
  }
  std::sort(labelled_folders.begin(), labelled_folders.end());  // synset order, not folder-name order

  std::vector<LabeledImage> images;
  for (const auto& [label, folder] : labelled_folders) {
    for (const std::string& file : sorted_image_files(root / folder)) {
      images.push_back({(root / folder / file).string(), label});
    }
  }
  return images;
}

}  // namespace quantsim::detail
