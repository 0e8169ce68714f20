// The ImageFolder layout: <root>/<class>/<image>, classes in class-order-file order, files sorted bytewise; and the
// folder listing that every layout walks with.
#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "dataset_layouts.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"

namespace quantsim::detail {
namespace fs = std::filesystem;

namespace {

bool is_hidden(const fs::path& path) { return path.filename().string().rfind('.', 0) == 0; }

// True when `path` is `ancestor` or lies inside it (both canonical).
bool is_inside(const fs::path& path, const fs::path& ancestor) {
  auto p = path.begin();
  for (auto a = ancestor.begin(); a != ancestor.end(); ++a, ++p) {
    if (p == path.end() || *a != *p) return false;
  }
  return true;
}

// A class folder that is a link to the data folder or one of its parents would hold the other classes, not images
// of its own: refused, rather than counted as an empty or duplicate class.
void refuse_link_to_ancestor(const fs::path& class_folder, const fs::path& root) {
  std::error_code ec;
  if (!fs::is_symlink(class_folder, ec)) return;
  const fs::path target = fs::canonical(class_folder, ec);
  if (ec) return;  // cannot happen for a folder just listed; reading it will tell
  const fs::path canonical_root = fs::canonical(root, ec);
  if (!ec && is_inside(canonical_root, target)) {
    throw UserError(fmt::format("{}: class folder is a symbolic link to {}, which contains the data folder (a loop)",
                                class_folder.string(), target.string()));
  }
}

std::vector<std::string> sorted_class_folders(const fs::path& root) {
  std::vector<std::string> names;
  for (const FolderEntry& entry : list_folder(root)) {
    if (!entry.is_folder || is_hidden(entry.path)) continue;
    refuse_link_to_ancestor(entry.path, root);
    names.push_back(entry.path.filename().string());
  }
  std::sort(names.begin(), names.end());  // std::string's < compares bytes as unsigned char, like memcmp
  return names;
}

std::vector<std::string> sorted_image_files(const fs::path& folder) {
  std::vector<std::string> files;
  for (const FolderEntry& entry : list_folder(folder)) {
    const std::string name = entry.path.filename().string();
    if (!entry.is_folder && !is_hidden(entry.path) && has_image_extension(name)) files.push_back(name);
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

std::vector<FolderEntry> list_folder(const fs::path& folder) {
  std::vector<FolderEntry> entries;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    const fs::file_type type = it->status(type_ec).type();
    if (type_ec && type != fs::file_type::not_found) {  // not found: a dangling link, listed as a file
      throw UserError(fmt::format("{}: {}", it->path().string(), regular_file_problem(it->path().string())));
    }
    entries.push_back({it->path(), type == fs::file_type::directory});
  }
  if (ec) throw UserError(fmt::format("{}: cannot list the folder: {}", folder.string(), ec.message()));
  return entries;
}

bool has_class_folders(const fs::path& root) {
  const std::vector<FolderEntry> entries = list_folder(root);
  return std::any_of(entries.begin(), entries.end(),
                     [](const FolderEntry& entry) { return entry.is_folder && !is_hidden(entry.path); });
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
