#pragma once
// --verify of `model` and `map`: a design point's tile program run on values by the tile-order interpreter
// (mappings/verify.hpp), its one-line verdict printed, and the exit code it gives.
#include <cstdint>
#include <nlohmann/json.hpp>

#include "mappings/verify.hpp"

namespace einsim::app {

// Refuses (a UserError) an infeasible program, or a cascade too large to run twice on values in a minute or so.
TileCheck verify_program(const Cascade& cascade, const TileProgram& program, uint64_t seed);

nlohmann::ordered_json to_json(const TileCheck& check);

}  // namespace einsim::app
