#pragma once
// The cycle-level engine: the same TileProgram the analytical evaluator reads, executed on SystemC models of
// the hardware (a DRAM channel with bandwidth, latency and a request queue; one module per compute unit; a
// controller that walks the loop nests and issues tile operations in dependency order). Tile operations are
// events, not per-PE processes. SystemC elaborates once per process: call simulate_cycles at most once.
#include <cstdint>
#include <string>

#include "arch/spec.hpp"
#include "mappings/tile_program.hpp"
#include "sim/evaluator.hpp"
#include "sim/stats.hpp"
#include "workloads/cascade.hpp"

namespace einsim {

struct CycleOptions {
  bool exact = false;            // simulate every iteration instead of extrapolating loops in steady state
  std::string trace_file;        // Chrome/Perfetto trace-event JSON, one track per unit and for DRAM (the
                                 // simulated tiles: use exact for every one)
  std::string vcd_file;          // signal-level waves (.vcd): per unit running/waiting, per DMA engine busy; time
                                 // skipped by extrapolation is not in them (use exact for the whole run)
  double stall_probability = 0;  // tests: each job waits a random extra 1..stall_cycles cycles with this probability
  int64_t stall_cycles = 0;
  uint64_t seed = 1;
  int unit_queue_depth = 16;  // jobs a unit looks at to start the oldest ready one
  // Tile operations the engine may simulate one by one (concurrent groups, or every one with `exact`): beyond
  // this a point is refused with its reason (about three minutes at three million a second).
  double max_full_jobs = 5e8;
};

// Stats with fidelity "cycle", all of what it simulated: cycles, busy and stall cycles per unit by cause; ops,
// traffic and energy from the tiles it ran (sim/actions), refresh over its own run; gap_vs_analytical.
Stats simulate_cycles(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program,
                      const CycleOptions& options = {});

// The cycle engine as an Evaluator: once per process, like simulate_cycles.
class CycleEvaluator : public Evaluator {
 public:
  explicit CycleEvaluator(CycleOptions options = {}) : options_(std::move(options)) {}
  Fidelity fidelity() const override { return Fidelity::cycle; }
  Stats evaluate(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program) override {
    return simulate_cycles(cascade, arch, program, options_);
  }

 private:
  CycleOptions options_;
};

}  // namespace einsim
