#pragma once
// Constraints for a workload and an architecture alone (`einsim map` without --constraints, a sweep part's
// `mapping: auto` without `constraints:`): what the mapper searches when nobody has said how the cascade runs.
#include "arch/spec.hpp"
#include "mappings/spec.hpp"
#include "workloads/cascade.hpp"

namespace einsim {

// Every Einsum in a group of its own (a recurrence's Einsums together), its intermediates through the backing
// memory; each group's loops over all its indices, tiles `auto` and `order: auto`; each Einsum `unit: auto` over
// every unit that can compute it, with every spatial map that gives each of the unit's dimensions an index of its
// own. A UserError names an Einsum no unit can compute.
MappingSpec unconstrained(const Cascade& cascade, const ArchSpec& arch);

}  // namespace einsim
