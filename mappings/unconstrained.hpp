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
// own; on a many-core chip whose cores each have the buffer, `cores: auto`. A UserError names an Einsum no unit can
// compute.
MappingSpec unconstrained(const Cascade& cascade, const ArchSpec& arch);

// Every spatial map of `unit` for Einsum `e` that gives each of the unit's dimensions an index of its own, or two
// where neither fills the dimension alone (indices of extent 1 left out); one empty map for a unit without
// dimensions, none when the Einsum has too few indices.
std::vector<SpatialMap> spatial_maps(const ComponentSpec& unit, const Einsum& e);

// Constraints `m` with each Einsum's `spatial: auto` (EinsumBinding::maps_auto) made its unit's spatial_maps (every
// unit's that can compute it, for unit: auto) at `cascade`'s extents, as unit choices the mapper searches. A
// UserError at the Einsum names a unit the architecture lacks, or one that has no map for it.
MappingSpec with_spatial_maps(MappingSpec m, const Cascade& cascade, const ArchSpec& arch);
bool has_auto_maps(const MappingSpec& m);  // whether any Einsum of `m` says `spatial: auto`

// Why groups [first, last) of `templ` cannot be fused into one, or empty (always for one group): each must be one
// pass with no loops of its own (no collective), and what a group says beyond its loops and Einsums (pipelining,
// buffer stages, tensor settings, place, cores, devices, the settings left to the mapper) must be the same for all
// of them.
std::string unfusable(const MappingSpec& templ, size_t first, size_t last);

// `templ` (such constraints: unconstrained()'s, or a user's groups of one pass each) with consecutive groups fused:
// the first sizes[0] groups become one, the next sizes[1] the next, and so on (the sizes add up to the groups). A
// fused group runs its groups' Einsums in one pass, in their order, inside loops over all their indices (each
// group's loops in turn, an index's from the first group that has it, the backing memory's before the buffer's),
// `order: auto` over them, and the first group's settings (`cores: auto` over the fused loops); its intermediates stay
// in the buffer unless a later group reads them. Its name joins theirs with "+". A group of one is as it was. A
// UserError when a fused group's groups are unfusable.
MappingSpec fused(const MappingSpec& templ, const std::vector<size_t>& sizes);

}  // namespace einsim
