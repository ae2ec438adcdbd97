#pragma once
// What a sweep point keeps in memory on each device, its parts' `resident:` copies of their footprints, against
// the memory's capacity: whether the point fits, and with `fit:`, the largest value of an axis at which it would.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "explore/pipeline.hpp"
#include "explore/sweep.hpp"
#include "explore/worker.hpp"
#include "mappings/spec_cache.hpp"

namespace einsim {

// Marks `s` infeasible, with what the point needs part by part, when its parts' resident copies of their
// footprints (each part's Stats of `count` runs, by name, in `parts`) together exceed the smallest capacity of
// their backing memories. For a sweep without `fit:`.
void check_capacity(const SweepPoint& point, const std::vector<std::pair<std::string, Stats>>& parts, SpecCache& specs,
                    Stats& s);

// A point of a sweep with `fit:`, its footprint counted at any value of that axis, the other axes as the point's:
// each part's tensors as its program at the point holds them (TileProgram::held_shares), their sizes bound at the
// value, times its resident copies. With a pipeline, a stage's: ceil(copies / stages) of each part's layers, each
// holding the tensors that grow with the axis once per micro-batch in flight (a micro-batch's cache and
// activations, told apart by their sizes at twice the point's value) and the rest (its weights) once.
class Residency {
 public:
  // `mapped`: the parts the mapper chose mappings for (Outcome::mapped); `run`: the point's pipeline, or null.
  Residency(const SweepPoint& point,
            const std::vector<std::pair<std::string, std::shared_ptr<const ChosenMapping>>>& mapped, SpecCache& specs,
            const PipelineRun* run);

  // Whether anything is counted: a part keeps copies, in a memory with a capacity.
  bool counted() const { return capacity_ > 0 && !parts_.empty(); }
  // Why the point does not fit, or empty when it does.
  std::string overflow() const;
  // The largest value of the axis, a multiple of the micro-batches with a pipeline, at which the point's parts
  // bind and fit (0: not even the smallest); nullopt when nothing grows with the axis (or nothing is counted).
  std::optional<int64_t> largest() const;

 private:
  struct Part {
    std::string name;
    SweepPart written;  // as the sweep wrote it
    SpecInputs in;      // as the point resolved it (for a mapped part, the mapper's choice)
    int64_t copies = 0;
    IdVector<TensorId, int64_t> shares;        // per tensor: devices sharing it, 0 where not held
    IdVector<TensorId, char> per_micro_batch;  // with a pipeline: grows with the axis, held once per micro-batch
  };
  // Bytes on each device at axis value v, and part by part for a message; throws UserError where a part's params
  // do not bind at v.
  double need(int64_t v, std::string* terms = nullptr) const;
  SpecInputs at(const Part& p, int64_t v) const;

  const SweepPoint& point_;
  SpecCache& specs_;
  int64_t value_ = 0;  // the point's value of the axis
  int64_t stages_ = 1, micro_batches_ = 1;
  bool pipelined_ = false;
  double capacity_ = 0;
  std::string backing_;
  std::vector<Part> parts_;
};

}  // namespace einsim
