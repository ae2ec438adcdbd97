#pragma once
// A cascade's schedule: its Einsums in dependency order, each recurrence (a strongly connected component of
// the read-after-write graph) a group iterated over its step index.
#include "workloads/cascade.hpp"

namespace einsim {

// Fills cascade.schedule from its Einsums' reads and writes; UserError for a recurrence it cannot order.
void build_schedule(Cascade& cascade);

}  // namespace einsim
