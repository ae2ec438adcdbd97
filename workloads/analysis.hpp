#pragma once
// Hardware-independent analyses of a cascade: operation counts, compulsory traffic and passes.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "workloads/cascade.hpp"

namespace einsim {

using OpCounts = std::map<std::string, int64_t>;  // kind ("mac", "add", "exp", ...) -> count

struct EinsumAnalysis {
  std::string name;
  int64_t points = 0;  // size of the iteration space
  OpCounts ops;
};

struct Analysis {
  IdVector<EinsumId, EinsumAnalysis> einsums;
  OpCounts ops;
  int64_t compulsory_bytes = 0;                     // inputs read once + outputs written once
  std::vector<std::pair<std::string, int>> passes;  // rank of an input tensor -> passes, in order of appearance
  // Legal but probably mistyped: an index summed over a rank that the output indexes with another index,
  // which nothing reads (W2[h1,h3] for W2[h1,h2] in Y[n,h2] = H[n,h1] * W2[h1,h3]).
  std::vector<std::string> warnings;
};

OpCounts einsum_ops(const Einsum& e);
// The same for one point of its iteration space (what each point the where clause keeps costs).
// The operations of one point of `e`, as count_ops_per_point counted them when the workload was compiled.
inline const OpCounts& einsum_ops_per_point(const Einsum& e) { return e.ops_per_point; }
OpCounts count_ops_per_point(const Einsum& e);
// The least number of passes over the fibers of `rank` (a rank name of an input tensor) the cascade forces.
int passes_over(const Cascade& c, const std::string& rank);
Analysis analyze(const Cascade& c);
// Every operation the cascade does, of every kind (a double: the guards that read it compare with 1e10 and up).
double total_ops(const Cascade& c);

}  // namespace einsim
