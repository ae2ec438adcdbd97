#pragma once
// What a run of a TileProgram did, from how many times each of its ops ran: the ops and the energy of each,
// the bytes each memory moved and the energy of the transfers, every unit's work and the roofline; then, once
// the run's length is known, what that adds (refresh over its time, utilization, totals). Each evaluator calls
// these with its own counts and its own cycles, so the cycle engine reports what it simulated and the two
// fidelities can disagree.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "arch/spec.hpp"
#include "arch/transfers.hpp"
#include "mappings/tile_program.hpp"
#include "sim/stats.hpp"
#include "workloads/cascade.hpp"

namespace einsim {

// executions[g][o]: how many times op o of group g ran.
using OpExecutions = std::vector<std::vector<int64_t>>;

// As the program's loops say: what the analytical evaluator assumes and the cycle engine must reproduce.
OpExecutions program_executions(const TileProgram& program);
// The memory roofline (Stats::roofline_memory_cycles): what crosses each path between the backing memory and a
// buffer over the whole run at the path's bandwidth, on every device; the busiest path's. No evaluation's cycles are
// below it, so the mapper prunes a lowered combination by it before evaluating it.
int64_t memory_roofline_cycles(const ArchSpec& arch, const TileProgram& program, const OpExecutions& executions);

// Stats with the fidelity, the status and the area: what every evaluation starts from.
Stats initial_stats(const ArchSpec& arch, const TileProgram& program, Fidelity fidelity);

struct RunWork {
  std::map<std::string, double> work;       // unit -> op slots of work (PE-cycles)
  std::map<std::string, Traffic> external;  // memory -> bytes across its own interface
  // On a many-core chip: the sum over groups of the largest floor the network sets (its reducers', its mesh's cut),
  // the network's roofline: the run is bound by the network where it is above the others.
  int64_t network_cycles = 0;
};

// Adds the run's actions to `s`: each Einsum's ops and busy cycles, op and transfer energy by action, traffic
// at every memory, the placements, and the memory roofline; returns each unit's work for finish_run.
RunWork count_actions(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program,
                      const OpExecutions& executions, BankTransfers& transfers, Stats& s);

// Once s.cycles and s.busy_cycles are the run's own: the energy of what each memory moved over the run
// (refresh from the run's time), utilization and the compute roofline, energy totals, latency and the bound.
void finish_run(const ArchSpec& arch, const RunWork& run, Stats& s);

// The energy finish_run would give `s` (its actions counted by count_actions, `run` their work) had the run taken
// `cycles`, leaving `s` as it is: no more than the run's own energy for any `cycles` up to the run's (only a DRAM's
// refresh depends on time, and grows with it). The mapper's bound on a lowered combination, before its timing.
double energy_at(const ArchSpec& arch, const RunWork& run, const Stats& s, int64_t cycles);

}  // namespace einsim
