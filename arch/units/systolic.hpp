#pragma once
// Cycle model of a systolic array running a GEMM (M x K) . (K x N), one definition shared by every evaluator
// (and, with the RTL issue, checked against Verilog). The dataflow fixes which GEMM dimensions are spread over
// the array's rows and columns and which streams through in time:
//   dataflow | rows (S_r) | cols (S_c) | time (T)
//   os       | M          | N          | K
//   ws       | K          | N          | M
//   is       | K          | M          | N
// A fold is one placement of an R x C slice of (S_r, S_c) on the array; folds run one after another.
#include <cstdint>
#include <string_view>

namespace einsim {

enum class Dataflow { ws, os, is };
std::string_view dataflow_name(Dataflow d);

enum class FoldOverlap {
  none,       // each fold fills, streams and drains before the next starts: SCALE-Sim v2's timing, exactly
  pipelined,  // the next fold's stationary operand loads while the current one streams (double buffering)
};
std::string_view fold_overlap_name(FoldOverlap f);

struct GemmShape {
  int64_t M = 0;
  int64_t N = 0;
  int64_t K = 0;
};

struct SystolicTiming {
  int64_t cycles = 0;
  int64_t folds = 0;              // row folds x column folds
  int64_t fold_latency = 0;       // X + T - 2: fill, stream and drain of one fold
  double mapping_efficiency = 0;  // S_r.S_c / (folds x R.C): the share of PEs a fold places work on
  double utilization = 0;         // MACs / (cycles x R.C)
};

// Cycles of one tile whose S_r x S_c slice is spread over the array and whose T steps stream through it:
// folds x (X + T - 2) without overlap, or the first fold's latency plus max(T, R) per further fold.
int64_t systolic_tile_cycles(int64_t rows, int64_t cols, Dataflow dataflow, FoldOverlap overlap, int64_t sr, int64_t sc,
                             int64_t t);

// rows, cols and the shape must be positive. SCALE-Sim's count is one less than the tile's: it numbers cycles
// from zero.
SystolicTiming systolic_gemm(int64_t rows, int64_t cols, Dataflow dataflow, FoldOverlap overlap, const GemmShape& g);

}  // namespace einsim
