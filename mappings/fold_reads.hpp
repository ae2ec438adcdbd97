#pragma once
// How much of a tile's operands a 2D array reads from its buffer when the tile is wider than the array: it computes
// the tile fold by fold, each fold a pass over the tile's indices in time (its dataflow keeps one operand in the
// PEs for the whole fold), and each fold reads the part of every operand it needs. An operand indexed by all of a
// dimension's spread indices is split among that dimension's folds; one indexed by none is read again in each of
// them; one indexed by one of two, as often as the folds' runs of positions cover its values. A PE keeps what it
// sees again fold after fold while it fits the PE's register file. Results spread over a dimension that sums (or
// takes a max) across PEs are partial in each fold of it: written in each, and read back to be combined in all but
// the first. The nesting of the dimensions' folds and the order of two indices on one dimension change nothing but
// this traffic (not the cycles of work, not the DRAM's), so they are the ones that move least. See docs/model.md
// (folds).
#include <cstdint>
#include <vector>

namespace einsim {

struct FoldShape {
  struct Dim {
    int64_t size = 0;              // PEs along the dimension
    std::vector<int64_t> extents;  // the tile's extents of the indices spread over it, outermost first
  };
  std::vector<Dim> dims;
  int64_t regfile_entries = 0;  // per PE
};

struct FoldOperand {
  int64_t bytes = 0;                       // its tile, read once
  std::vector<std::vector<bool>> indexed;  // per dim, per spread index: whether the operand has it
  int64_t per_pe_share = 0;                // elements of it one PE uses in one fold (its indices in time)
};

// Bytes read from the buffer for each operand (in order), and bytes written and read back for the result (a
// `result` of 0 bytes: none goes through the buffer).
struct FoldTraffic {
  std::vector<int64_t> reads;
  int64_t result_writes = 0, result_reads = 0;
};
FoldTraffic fold_traffic(const FoldShape& shape, const std::vector<FoldOperand>& operands, const FoldOperand& result);

}  // namespace einsim
