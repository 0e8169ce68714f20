#include "quantsim/app/sweep/sweep_runner.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "quantsim/app/run_inputs.h"
#include "quantsim/app/runs.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/file_lock.h"
#include "quantsim/data/image_cache.h"
#include "quantsim/quant/statistics_store.h"
#include "quantsim/results/results_file.h"

namespace quantsim {
namespace {

namespace fs = std::filesystem;

Config with_options(Config config, const SweepOptions& options) {
  if (!options.device.empty()) config.device = options.device;
  if (options.workers) config.workers = *options.workers;
  return config;
}

// Statistics a run can use as they are: of this model file and --act-sites mode, and readable.
bool reusable_statistics(const std::string& path, const ModelFile& model, ActSites act_sites) {
  if (!fs::exists(path)) return false;
  try {
    const Statistics statistics = load_statistics(path, model.name);
    return statistics.metadata.model_sha256 == model.sha256 && statistics.metadata.act_sites == to_string(act_sites);
  } catch (const UserError&) {
    return false;  // corrupt, or of another schema version: collected afresh
  }
}

// Collects each statistics file at most once across every process of the sweep.
class StatisticsProvider {
 public:
  // Returns once the statistics of `collect` exist; throws UserError when they cannot be collected.
  void ensure(const Config& collect) {
    const ModelFile model = resolve_model_file(collect);
    const std::string path = statistics_path(collect.stats_dir, model.name, collect.act_sites);
    if (ready_.count(path)) return;
    if (const auto failed = failed_.find(path); failed != failed_.end()) throw UserError(failed->second);
    // Held while collecting, so that a second process waits for these statistics instead of collecting them too.
    const FileLock lock = FileLock::acquire(path + ".lock");
    if (reusable_statistics(path, model, collect.act_sites)) {
      std::fprintf(stderr, "sweep: using the statistics in %s\n", path.c_str());
    } else {
      try {
        run_collect(collect);
      } catch (const UserError& e) {
        failed_[path] = fmt::format("collecting statistics into {} failed: {}", path, e.what());
        throw UserError(failed_[path]);
      }
    }
    ready_.insert(path);
  }

 private:
  std::set<std::string> ready_;
  std::map<std::string, std::string> failed_;  // statistics file -> why it could not be collected
};

// Builds each image cache at most once across every process of the sweep: the first to need it builds it under its
// lock, the others wait on the lock and then read it.
class CacheProvider {
 public:
  // Returns once the cache exists; throws UserError when it cannot be built.
  void ensure(const SweepCache& cache, const SweepOptions& options) {
    if (ready_.count(cache.path)) return;
    if (const auto failed = failed_.find(cache.path); failed != failed_.end()) throw UserError(failed->second);
    const FileLock lock = FileLock::acquire(cache.path + ".lock");
    if (is_image_cache_file(cache.path)) {
      std::fprintf(stderr, "sweep: reading the images from the cache %s\n", cache.path.c_str());
    } else {
      try {
        std::fprintf(stderr, "sweep: building the image cache %s\n", cache.path.c_str());
        run_cache_build(with_options(cache.build, options), cache.path);
      } catch (const UserError& e) {
        failed_[cache.path] = fmt::format("building the image cache {} failed: {}", cache.path, e.what());
        throw UserError(failed_[cache.path]);
      }
    }
    ready_.insert(cache.path);
  }

 private:
  std::set<std::string> ready_;
  std::map<std::string, std::string> failed_;  // cache file -> why it could not be built
};

std::string file_safe(const std::string& key) {
  std::string name = key;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '+') c = '_';
  }
  return name;
}

}  // namespace

std::set<std::string> finished_sweep_keys(const std::string& results_path) {
  std::set<std::string> keys;
  if (!fs::exists(results_path)) return keys;
  for (const ResultLine& line : read_results_file(results_path)) {
    // A shard line is part of a run (merged lines count); plain runs and older versions have no sweep key.
    if (line.fields.shard.empty() && !line.fields.sweep_key.empty()) keys.insert(line.fields.sweep_key);
  }
  return keys;
}

std::string claim_path(const SweepPlan& plan, const SweepRun& run) {
  return plan.results + ".claims/" + file_safe(run.key) + ".lock";
}

std::vector<SweepRunState> sweep_states(const SweepPlan& plan) {
  const std::set<std::string> finished = finished_sweep_keys(plan.results);
  std::vector<SweepRunState> states;
  for (const SweepRun& run : plan.runs) {
    const std::string claim = claim_path(plan, run);
    if (finished.count(run.key)) {
      states.push_back(SweepRunState::kDone);
    } else if (fs::exists(claim) && !FileLock::try_acquire(claim)) {
      states.push_back(SweepRunState::kRunningElsewhere);
    } else {
      states.push_back(SweepRunState::kPending);
    }
  }
  return states;
}

SweepSummary run_sweep(const SweepPlan& plan, const SweepOptions& options) {
  SweepSummary summary;
  StatisticsProvider statistics;
  CacheProvider caches;
  std::set<std::string> finished = finished_sweep_keys(plan.results);
  for (size_t i = 0; i < plan.runs.size(); ++i) {
    const SweepRun& run = plan.runs[i];
    const std::string tag = fmt::format("sweep [{}/{}] {}", i + 1, plan.runs.size(), run.key);
    if (finished.count(run.key)) {
      ++summary.already_done;
      continue;
    }
    const std::optional<FileLock> claim = FileLock::try_acquire(claim_path(plan, run));
    if (!claim) {
      std::fprintf(stderr, "%s: another process is running it\n", tag.c_str());
      ++summary.running_elsewhere;
      continue;
    }
    finished = finished_sweep_keys(plan.results);  // another process may have finished it since we last looked
    if (finished.count(run.key)) {
      ++summary.already_done;
      continue;
    }
    std::fprintf(stderr, "%s\n", tag.c_str());
    try {
      if (run.cache) caches.ensure(*run.cache, options);  // before the statistics: they are collected from it
      if (run.collect) statistics.ensure(with_options(*run.collect, options));
      run_evaluation(with_options(run.evaluation, options));
      ++summary.ran;
    } catch (const UserError& e) {
      std::fprintf(stderr, "%s: failed: %s\n", tag.c_str(), e.what());
      summary.failures.push_back(fmt::format("{}: {}", run.key, e.what()));
    }
    std::fflush(stdout);  // each run's accuracy line next to its progress line (stderr) in a piped log
  }
  return summary;
}

}  // namespace quantsim
