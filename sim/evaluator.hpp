#pragma once
// Evaluators behind one interface. Each consumes a design point's TileProgram and emits Stats computed from what
// it modelled, so the gap between fidelities is measured per point: analytical (closed form, sim/analytical) and
// cycle level (SystemC, sim/cycle) today; an RTL fidelity will be a third.
#include <optional>
#include <string_view>

#include "arch/spec.hpp"
#include "mappings/tile_program.hpp"
#include "sim/stats.hpp"
#include "workloads/cascade.hpp"

namespace einsim {

class Evaluator {
 public:
  virtual ~Evaluator() = default;
  virtual Fidelity fidelity() const = 0;
  virtual Stats evaluate(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program) = 0;
};

}  // namespace einsim
