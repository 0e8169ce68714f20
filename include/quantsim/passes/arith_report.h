#pragma once
// --arith-report FILE.csv|FILE.json (docs/QUANTIZATION.md, section 16): the gap between the integer path and the float
// fake-quant path, one row per quantized tensor (site) in graph order, then one row for the logits.
//
// Columns: tensor, kind ("site" or "logits"), elements, differing_share, max_step_difference,
// mean_abs_step_difference, images_differing_share, logit_mean_abs_rel, logit_max_abs_rel, top1_differs_share.
// Site rows leave the logit_* and top1 columns empty; the logits row leaves the step columns empty. Each site's
// codes on the integer path carry every difference of the sites before it, so the rows show the gap as it builds
// up along the graph.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantsim/graph/activation_site.h"
#include "quantsim/passes/arith_comparison.h"

namespace quantsim {

enum class ArithReportFormat { kCsv, kJson };

// By the extension (case-insensitive); UserError naming the flag for anything but .csv and .json.
ArithReportFormat arith_report_format(const std::string& path);

// Who the report is about, written into the JSON form.
struct ArithReportHeader {
  std::string model;
  std::string model_sha256;
  std::string precision;
};

// The rows as JSON objects, keys in column order (null for an empty cell).
std::vector<nlohmann::ordered_json> arith_report_rows(const std::vector<Site>& sites, const ArithGap& gap);

// The CSV text (header line, then one line per row) and the JSON document ({"model", "model_sha256", "precision",
// "images", "float_logits_std", "tensors": [rows]}).
std::string arith_report_csv(const std::vector<Site>& sites, const ArithGap& gap);
nlohmann::ordered_json arith_report_json(const ArithReportHeader& header, const std::vector<Site>& sites,
                                         const ArithGap& gap);

// Writes the report atomically (core/atomic_file.h) in the format `path` names.
void write_arith_report(const std::string& path, const ArithReportHeader& header, const std::vector<Site>& sites,
                        const ArithGap& gap);

}  // namespace quantsim
