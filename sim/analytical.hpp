#pragma once
// The analytical evaluator: a TileProgram's cost in closed form (milliseconds per design point).
#include "arch/spec.hpp"
#include "mappings/tile_program.hpp"
#include "sim/actions.hpp"
#include "sim/evaluator.hpp"
#include "sim/stats.hpp"
#include "arch/transfers.hpp"
#include "workloads/cascade.hpp"

namespace einsim {

// `transfers` memoizes the bank-level model's runs of the program's transfers (energy from their commands); the
// cycle engine passes its own, which times the same transfers.
Stats evaluate_analytical(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program,
                          BankTransfers* transfers = nullptr);

// evaluate_analytical in two steps, for the mapper to bound a program by its actions before timing it: the
// program's actions counted (count_actions), then its timing and the run's totals. `counted` is consumed.
struct CountedRun {
  Stats stats;  // its actions so far (a status that is not ok: nothing counted)
  RunWork run;
};
CountedRun count_analytical(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program,
                            BankTransfers* transfers = nullptr);
Stats time_analytical(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program, CountedRun counted);

class AnalyticalEvaluator : public Evaluator {
 public:
  Fidelity fidelity() const override { return Fidelity::analytical; }
  Stats evaluate(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program) override {
    return evaluate_analytical(cascade, arch, program);
  }
};

}  // namespace einsim
