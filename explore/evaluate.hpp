#pragma once
// One sweep point evaluated: each part's Specs from the sweep's cache (analytical) or a worker process (cycle
// level), run its count of times, the parts added up. Whatever goes wrong is the point's error, not the sweep's.
#include <cstdint>

#include "explore/sweep.hpp"
#include "explore/worker.hpp"
#include "mappings/spec_cache.hpp"

namespace einsim {

// What names a part's Specs: its files, and its `set:` split into workload params and arch fields.
SpecInputs inputs_of(const SweepPart& part);

// Throws UserError at the part's `count` unless it is a positive integer at this point.
int64_t part_count(const SweepPart& part, const SweepPoint* at = nullptr);
// Likewise its `resident` copies (0 when it gives none).
int64_t part_resident(const SweepPart& part, const SweepPoint* at = nullptr);

Outcome evaluate(const SweepPoint& point, const std::string& exe, SpecCache& specs);

}  // namespace einsim
