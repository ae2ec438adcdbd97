#pragma once
// The analytical evaluator: a TileProgram's cost in closed form (milliseconds per design point).
#include "arch/spec.hpp"
#include "mappings/tile_program.hpp"
#include "sim/stats.hpp"
#include "workloads/cascade.hpp"

namespace einsim {

Stats evaluate_analytical(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program);

}  // namespace einsim
