#pragma once
// One co-simulation by name: the unit (pe, systolic, softmax_lane, dequant), its datatype and size.
#include <string>
#include <vector>

#include "rtl/cosim/bench.hpp"

namespace einsim::cosim {

struct Request {
  std::string unit;
  std::string dtype = "int8";  // pe and systolic: int8 or bf16
  int size = 4;                // systolic: N of the N x N array (one of systolic_sizes())
  Options options;
};

std::vector<std::string> units();
std::vector<int> systolic_sizes();  // the array sizes verilated in this build

// Throws UserError for an unknown unit, datatype or size. One call per process (SystemC elaborates once).
Result run(const Request& request);

}  // namespace einsim::cosim
