#include "arch/units/systolic.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"

namespace einsim {

std::string_view dataflow_name(Dataflow d) { return d == Dataflow::ws ? "ws" : d == Dataflow::os ? "os" : "is"; }

std::string_view fold_overlap_name(FoldOverlap f) { return f == FoldOverlap::none ? "none" : "pipelined"; }

namespace {

__extension__ using Wide = __int128;  // exact, where folds times cycles per fold could pass int64

// Past 2^62 cycles no count of this model means anything, and int64 arithmetic on it would wrap.
int64_t fits(Wide cycles, const char* what) {
  if (cycles > (Wide{1} << 62))
    throw UserError(SourceLoc{}, "", fmt::format("{} would take more than 2^62 cycles on this array", what));
  return static_cast<int64_t>(cycles);
}

Wide folds_of(int64_t rows, int64_t cols, int64_t sr, int64_t sc) {
  return Wide{(sr + rows - 1) / rows} * Wide{(sc + cols - 1) / cols};
}

}  // namespace

int64_t systolic_tile_cycles(int64_t rows, int64_t cols, Dataflow dataflow, FoldOverlap overlap, int64_t sr, int64_t sc,
                             int64_t t) {
  // Skewed operands cross the array once to fill it and once more to drain it; weight- and input-stationary
  // arrays first shift the stationary operand in through the rows.
  const Wide x = dataflow == Dataflow::os ? Wide{rows} + cols : 2 * Wide{rows} + cols;
  const Wide folds = folds_of(rows, cols, sr, sc);
  const Wide fold_latency = x + t - 2;
  if (overlap == FoldOverlap::none) return fits(fold_latency * folds, "a tile");
  // After the first fold, each fold costs its streaming time, or the time to move the next stationary tile
  // through the R rows when streaming is shorter.
  return fits(fold_latency + (folds - 1) * std::max(t, rows), "a tile");
}

SystolicTiming systolic_gemm(int64_t rows, int64_t cols, Dataflow dataflow, FoldOverlap overlap, const GemmShape& g) {
  if (rows < 1 || cols < 1 || g.M < 1 || g.N < 1 || g.K < 1)
    throw InternalError("systolic_gemm: sizes must be positive");
  int64_t sr = 0, sc = 0, t = 0;
  switch (dataflow) {
    case Dataflow::os:
      sr = g.M, sc = g.N, t = g.K;
      break;
    case Dataflow::ws:
      sr = g.K, sc = g.N, t = g.M;
      break;
    case Dataflow::is:
      sr = g.K, sc = g.M, t = g.N;
      break;
  }
  SystolicTiming s;
  s.folds = fits(folds_of(rows, cols, sr, sc), "the GEMM's folds");
  s.fold_latency = (dataflow == Dataflow::os ? rows + cols : 2 * rows + cols) + t - 2;
  s.cycles = systolic_tile_cycles(rows, cols, dataflow, overlap, sr, sc, t) - 1;
  const double pes = static_cast<double>(rows * cols);
  s.mapping_efficiency = static_cast<double>(sr) * static_cast<double>(sc) / (static_cast<double>(s.folds) * pes);
  s.utilization = static_cast<double>(g.M) * static_cast<double>(g.N) * static_cast<double>(g.K) /
                  (static_cast<double>(s.cycles) * pes);
  return s;
}

}  // namespace einsim
