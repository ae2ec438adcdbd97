#pragma once
// Workload params: each a number, or an integer expression over the others, resolved in dependency order.
#include <string>
#include <vector>

#include "common/error.hpp"
#include "workloads/cascade.hpp"

namespace einsim {

struct RawParam {
  std::string name;
  std::string text;  // as written: a number or an expression
  SourceLoc loc;
  std::string key;  // where it came from, for messages
};

// Params are held as doubles: integers stay exact below this.
constexpr double kMaxExactInteger = 0x1p53;

// A whole text as a number (integer: written without a point or exponent); false when it is not one.
bool parse_number(const std::string& text, double& value, bool& integer);

// Every param's value, in the order given; UserError at a param's location for a bad expression, an undefined
// or non-integer param in one, a cycle, or an integer too large to hold exactly.
std::vector<Param> resolve_params(std::vector<RawParam> raw);

}  // namespace einsim
