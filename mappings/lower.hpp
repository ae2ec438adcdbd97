#pragma once
// Lowering: a cascade, an architecture and a mapping -> one TileProgram. Malformed mappings (unknown names,
// Einsums mapped twice or not at all) are UserErrors; infeasible design points (a tile that does not divide
// its index, a buffer too small, an op the unit cannot do, a loop order that reads a tensor before it is complete)
// come back as the program's EvalStatus.
#include "arch/spec.hpp"
#include "mappings/spec.hpp"
#include "mappings/tile_program.hpp"
#include "workloads/cascade.hpp"

namespace einsim {

TileProgram lower(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& mapping);

// Only the groups [first, last) of the mapping, after every check of the whole of it: what the mapper evaluates
// when it searches a run of groups on its own (runs one after another add their times).
TileProgram lower_groups(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& mapping, size_t first,
                         size_t last);

// Why compute unit `unit` cannot run Einsum `e` (the first of its ops the unit lacks), or empty: what makes a
// binding infeasible whatever the tiles.
std::string unit_cannot_run(const ComponentSpec& unit, const Einsum& e);

}  // namespace einsim
