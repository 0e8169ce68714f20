#pragma once
// A labelled image dataset in the canonical order of docs/QUANTIZATION.md, section 7, and the selections
// (-ss, -cs, -sh) drawn from it.
//
// Layouts read by load_dataset(root):
//   - ImageFolder: <root>/<class>/<image>. Labels are line numbers in the class-order file: the explicit one
//     (model sidecar's output.class_order_file or --synsets), else synsets.txt in <root> or its parent folder,
//     else the sorted folder names. A folder missing from the class-order file is an error naming it; a subset of
//     classes keeps the right indices.
//   - Flat folder of images plus ground truth, in the ground-truth file's order:
//       val.txt                "<file> <index>" per line (Caffe), or
//       LOC_val_solution.csv   "ImageId,PredictionString" with the wnid as first token (Kaggle; needs the
//                              class-order file). The file's extension is found in the folder.
//     Looked up in <root>, then its parent (the Kaggle layout keeps the CSV beside the val folder), unless given.
//     An image listed twice with the same label counts once; with another label it is an error naming the file,
//     the line and the image.
// If <root>/val exists it is used instead of <root> (an ILSVRC2012 folder holding train/ and val/).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace quantsim {

struct LabeledImage {
  std::string path;
  int64_t label = 0;
};

struct Dataset {
  std::string root;                      // the folder the images were read from (after the val/ rule)
  std::string layout;                    // "image-folder", "val.txt" or "LOC_val_solution.csv"
  std::string class_order_file;          // the file labels came from; empty when folders were enumerated
  std::vector<std::string> class_names;  // class index -> name (wnid, CIFAR class name, ...)
  std::vector<LabeledImage> images;      // canonical order
  int64_t listed_but_missing = 0;        // flat layouts: ground-truth entries whose file is not in the folder
};

struct DatasetOptions {
  std::string class_order_file;  // explicit class-order file; empty: look for synsets.txt (see above)
  std::string ground_truth;      // explicit val.txt / LOC_val_solution.csv for a flat folder; empty: look for one
};

// Reads a dataset. Throws UserError for a missing root, an unreadable or malformed class-order or ground-truth
// file (naming file and line), a class folder not in the class-order file, or a dataset without images.
Dataset load_dataset(const std::string& root, const DatasetOptions& options = {});

// Class names, one per line (the first whitespace-separated token, so synset_words.txt works too); the class
// index is the line number. Throws UserError for a missing file, blank or duplicate entries.
std::vector<std::string> read_class_order(const std::string& path);

// The first `count` images (all when unset or larger than the dataset) of the canonical order, or with `shuffle`
// the first `count` of the seeded Fisher-Yates permutation of docs/QUANTIZATION.md, section 7 (seeded_shuffle over the
// whole list). Used for both evaluation (-ss) and calibration (-cs). Throws UserError for a count below 1, naming
// `what`.
std::vector<LabeledImage> select_images(const std::vector<LabeledImage>& images, std::optional<int64_t> count,
                                        bool shuffle, uint64_t seed, const std::string& what = "--subset");

// Throws UserError when a label is not below the model's number of classes, naming the class (and its image) so
// that a wrong class-order file or model is caught before an evaluation reports nonsense. Also when the class
// order cannot be the model's: a class-order file with a different number of classes than the model, or labels
// from enumerated folders whose count differs from the model's (a class subset needs --synsets).
void check_labels_fit(const Dataset& dataset, int64_t num_classes);

// Lower-case file extensions read as images: .jpg .jpeg .png .bmp .ppm .pgm .webp .tif .tiff.
bool has_image_extension(const std::string& path);

}  // namespace quantsim
