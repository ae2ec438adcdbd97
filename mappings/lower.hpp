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

// What a device holds of `cascade`'s tensors shared as `shares` says (TileProgram::held_shares): the sum of
// ceil(bytes / shares) over those held. The cascade may be bound to other params than the program's (the same
// workload file): its tensors' sizes at those.
int64_t held_bytes(const Cascade& cascade, const IdVector<TensorId, int64_t>& shares);

// Why compute unit `unit` cannot run Einsum `e` (the first of its ops the unit lacks), or empty: what makes a
// binding infeasible whatever the tiles.
std::string unit_cannot_run(const ComponentSpec& unit, const Einsum& e);

}  // namespace einsim
