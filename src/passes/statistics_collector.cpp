#include "quantsim/passes/statistics_collector.h"

#include "quantsim/passes/activation_quantizer.h"

namespace quantsim {
namespace {

std::vector<int64_t> per_image_shape(const at::Tensor& x) {
  return std::vector<int64_t>(x.sizes().begin() + 1, x.sizes().end());
}

}  // namespace

StatisticsCollector::StatisticsCollector(const std::vector<Site>& sites)
    : sites_(sites), values_(sites.size()), pre_activations_(sites.size()) {
  // The histogram range methods look at the quantized tensor only (post-ReLU for unsigned sites): the pre-ReLU
  // entries get none (docs/QUANTIZATION.md, section 6).
  for (StatsAccumulator& value : values_) value.collect_histograms();
}

void StatisticsCollector::observe(StatsAccumulator& accumulator, const at::Tensor& x) const {
  if (second_pass_) {
    accumulator.observe_abs_deviation(x);
  } else {
    accumulator.observe(x);
  }
}

at::Tensor StatisticsCollector::on_site(int64_t site_id, const at::Tensor& x) {
  observe(values_[site_id], x);
  return x;
}

void StatisticsCollector::on_pre_activation(int64_t site_id, const at::Tensor& x) {
  observe(pre_activations_[site_id], x);
}

void StatisticsCollector::start_second_pass() {
  for (auto& a : values_) a.finish_first_pass();
  for (size_t i = 0; i < sites_.size(); ++i) {
    if (sites_[i].is_unsigned) pre_activations_[i].finish_first_pass();
  }
  second_pass_ = true;
}

std::vector<SiteStatistics> StatisticsCollector::finish() const {
  std::vector<SiteStatistics> entries;
  for (const Site& site : sites_) {
    entries.push_back({site.name, values_[site.id].sample_shape(), values_[site.id].finish()});
    if (site.is_unsigned) {
      const StatsAccumulator& pre = pre_activations_[site.id];
      entries.push_back({site.name + kPreActivationSuffix, pre.sample_shape(), pre.finish()});
    }
  }
  return entries;
}

SiteShapeRecorder::SiteShapeRecorder(const std::vector<Site>& sites)
    : sites_(sites), values_(sites.size()), pre_activations_(sites.size()) {}

at::Tensor SiteShapeRecorder::on_site(int64_t site_id, const at::Tensor& x) {
  values_[site_id] = per_image_shape(x);
  return x;
}

void SiteShapeRecorder::on_pre_activation(int64_t site_id, const at::Tensor& x) {
  pre_activations_[site_id] = per_image_shape(x);
}

std::vector<SiteShape> SiteShapeRecorder::shapes() const {
  std::vector<SiteShape> shapes;
  for (const Site& site : sites_) {
    shapes.push_back({site.name, values_[site.id]});
    if (site.is_unsigned) shapes.push_back({site.name + kPreActivationSuffix, pre_activations_[site.id]});
  }
  return shapes;
}

}  // namespace quantsim
