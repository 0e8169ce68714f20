#pragma once
// The site handler of the collect pass (-sm collect): observes every site (and the pre-activation tensor of every
// unsigned site) over the calibration images in two passes, leaving the network's values unchanged.
#include <cstdint>
#include <vector>

#include "quantsim/graph/activation_site.h"
#include "quantsim/graph/site_handler.h"
#include "quantsim/quant/statistics_store.h"

namespace quantsim {

class StatisticsCollector : public SiteHandler {
 public:
  explicit StatisticsCollector(const std::vector<Site>& sites);

  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override;
  void on_pre_activation(int64_t site_id, const at::Tensor& x) override;

  // After every calibration batch went through once: the second pass measures b = mean(|x - mu|).
  void start_second_pass();
  // After the second pass: one entry per site, followed by its ":pre_relu" entry for unsigned sites.
  std::vector<SiteStatistics> finish() const;

 private:
  void observe(StatsAccumulator& accumulator, const at::Tensor& x) const;

  const std::vector<Site>& sites_;
  bool second_pass_ = false;
  std::vector<StatsAccumulator> values_;
  std::vector<StatsAccumulator> pre_activations_;
};

// Names and per-image shapes of every statistics entry, in the collector's order; recorded by running one image
// through the instrumented model, so that `-sm use` can check a statistics file against the model.
class SiteShapeRecorder : public SiteHandler {
 public:
  explicit SiteShapeRecorder(const std::vector<Site>& sites);
  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override;
  void on_pre_activation(int64_t site_id, const at::Tensor& x) override;
  std::vector<SiteShape> shapes() const;

 private:
  const std::vector<Site>& sites_;
  std::vector<std::vector<int64_t>> values_, pre_activations_;
};

}  // namespace quantsim
