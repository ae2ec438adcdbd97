#pragma once
// The TileProgram: what lowering a mapping produces and the only input of both evaluators. It is
// loop-compressed: each group is a loop nest with trip counts, and each tile operation sits at a depth of that
// nest, executing once per iteration of the loops above it. Its size does not depend on the sequence length.
#include <cstdint>
#include <string>
#include <vector>

#include "mappings/spec.hpp"
#include "workloads/analysis.hpp"

namespace einsim {

struct Loop {
  std::string index;
  int64_t trips = 1;
  int64_t tile = 1;  // elements of the index covered by one iteration
  bool buffer_level = false;  // iterates over tiles already in the buffer
};

struct TileOp {
  enum class Kind { load, store, compute };
  Kind kind = Kind::compute;
  int depth = 0;             // sits below loops[0, depth)
  std::vector<int> repeats;  // the loops it executes once per iteration of
  int pass = 0;              // passes of a group run one after another
  // load / store
  std::string tensor;
  std::string from;  // memory components
  std::string to;
  int64_t bytes = 0;  // per execution
  // compute
  int einsum = -1;
  std::string unit;
  OpCounts ops;            // per execution
  int64_t points = 0;      // iteration points per execution
  int64_t cycles = 0;      // per execution, from the unit's cycle model: how long it occupies the unit
  int64_t result_latency = 0;  // cycles after that until its result is ready (a reduction tree draining)
  int64_t buffer_read_bytes = 0;   // per execution: operands from the buffer
  int64_t buffer_write_bytes = 0;  // per execution: results to the buffer
};

struct TileGroup {
  std::string name;
  std::vector<Loop> loops;  // the group's own loops, then each pass's
  int outer_loops = 0;      // how many of `loops` are the group's own
  std::vector<std::pair<int, int>> pass_loops;  // per pass: [begin, end) in `loops`
  std::vector<TileOp> ops;  // in dependency order within each pass
  bool pipeline = false;
  bool double_buffer = true;
  int64_t buffer_bytes = 0;  // the buffer space the group's tiles need

  int64_t executions(const TileOp& op) const;  // product of the trips of op.repeats
};

struct TileProgram {
  std::string backing;  // memory components: where tensors live, and the buffer tiles are staged in
  std::string buffer;
  std::vector<TileGroup> groups;
  EvalStatus status;
};

}  // namespace einsim
