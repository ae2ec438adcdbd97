#pragma once
// A cycle-level part runs in its own einsim process (SystemC elaborates once per process), so a crash costs one
// point; and the flag a sweep's Ctrl-C sets.
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "explore/sweep.hpp"
#include "mappings/spec_cache.hpp"
#include "sim/stats.hpp"

namespace einsim {

// What evaluating a point came to: Stats (an infeasible point's say why), or an error and why.
enum class PointStatus { ok, infeasible, error };
inline std::string_view status_name(PointStatus s) {
  return s == PointStatus::ok ? "ok" : s == PointStatus::infeasible ? "infeasible" : "error";
}

struct Outcome {
  Stats stats;
  PointStatus status = PointStatus::ok;
  std::string reason;
  bool interrupted = false;
  // The parts that named constraints, by name: what the mapper chose for them (a constraints file or one of its
  // alternatives, with its choice, and the search), saved beside the point's result row.
  std::vector<std::pair<std::string, std::shared_ptr<const ChosenMapping>>> mapped;
  std::optional<PipelineRun> pipeline;  // a sweep with `pipeline:`: its figures at this point
  // A sweep with `fit:`: the largest value of its axis at which the point fits its memory (explore/residency.hpp),
  // empty when nothing grows with the axis or no capacity is given.
  std::optional<int64_t> fit;
  // Each part that ran, its Stats (count times) as it went into the point's: name, cycles, seconds, pJ.
  struct PartFigures {
    std::string name;
    int64_t cycles = 0;
    double latency_s = 0, energy_pJ = 0;
  };
  std::vector<PartFigures> parts;
};

// Set by SIGINT while a sweep runs: workers stop taking points, and a worker that dies of it is not a result.
std::atomic<bool>& interrupted();

// A cycle-level evaluation of `point` (the Specs of the part named `part`) in a new `exe worker` process; its
// Stats, or `out` says why not.
Stats run_worker(const std::string& exe, const SpecInputs& point, const std::string& part, Outcome& out);

}  // namespace einsim
