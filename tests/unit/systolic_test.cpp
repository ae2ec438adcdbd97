#include <gtest/gtest.h>

#include "arch/units/systolic.hpp"

namespace einsim {
namespace {

int64_t scalesim(int64_t r, int64_t c, Dataflow df, int64_t m, int64_t n, int64_t k) {
  return systolic_gemm(r, c, df, FoldOverlap::none, GemmShape{m, n, k}).cycles;
}

// SCALE-Sim v2: cycles = (X + T - 2) . ceil(S_r/R) . ceil(S_c/C) - 1, X = 2R + C (ws, is) or R + C (os).
TEST(Systolic, ReproducesScaleSimsPublishedExamples) {
  EXPECT_EQ(scalesim(32, 16, Dataflow::ws, 256, 512, 64), 21375);        // (80 + 256 - 2) . 2 . 32 - 1
  EXPECT_EQ(scalesim(32, 16, Dataflow::is, 256, 512, 64), 18879);        // (80 + 512 - 2) . 2 . 16 - 1
  EXPECT_EQ(scalesim(32, 16, Dataflow::os, 256, 512, 64), 28159);        // (48 + 64 - 2) . 8 . 32 - 1
  EXPECT_EQ(scalesim(32, 32, Dataflow::os, 1024, 1600, 1600), 2659199);  // (64 + 1600 - 2) . 32 . 50 - 1
}

TEST(Systolic, ShapesThatDoNotDivideTheArray) {
  // os, 8x8, M=10 N=3 K=5: folds ceil(10/8) . ceil(3/8) = 2; (16 + 5 - 2) . 2 - 1 = 37
  EXPECT_EQ(scalesim(8, 8, Dataflow::os, 10, 3, 5), 37);
  // ws, 4x6, M=7 N=13 K=9: S_r=9, S_c=13, T=7; X = 14; folds 3 . 3 = 9; (14 + 7 - 2) . 9 - 1 = 170
  EXPECT_EQ(scalesim(4, 6, Dataflow::ws, 7, 13, 9), 170);
  // is, 5x3, M=4 N=11 K=6: S_r=6, S_c=4, T=11; X = 13; folds 2 . 2 = 4; (13 + 11 - 2) . 4 - 1 = 87
  EXPECT_EQ(scalesim(5, 3, Dataflow::is, 4, 11, 6), 87);
  // A 1x1 array: os M=N=K=2: X = 2, folds 4; (2 + 2 - 2) . 4 - 1 = 7
  EXPECT_EQ(scalesim(1, 1, Dataflow::os, 2, 2, 2), 7);
}

TEST(Systolic, EfficiencyAndUtilization) {
  const SystolicTiming t = systolic_gemm(8, 8, Dataflow::os, FoldOverlap::none, GemmShape{10, 3, 5});
  EXPECT_DOUBLE_EQ(t.mapping_efficiency, 30.0 / (2 * 64));      // 10x3 outputs on two 8x8 folds
  EXPECT_DOUBLE_EQ(t.utilization, 10.0 * 3 * 5 / (37.0 * 64));  // MACs / (cycles . PEs)
}

TEST(Systolic, PipelinedFoldsHideFillAndDrain) {
  // ws 32x16, M=256 N=512 K=64: first fold 334 cycles, then 63 folds of max(T=256, R=32) = 256 each.
  EXPECT_EQ(systolic_gemm(32, 16, Dataflow::ws, FoldOverlap::pipelined, GemmShape{256, 512, 64}).cycles,
            334 + 63 * 256 - 1);
  // When streaming is shorter than loading the stationary tile, the load paces the folds: os 8x8, K=2:
  // folds 2 . 2 = 4, first (16 + 2 - 2) = 16, then 3 x max(2, 8).
  EXPECT_EQ(systolic_gemm(8, 8, Dataflow::os, FoldOverlap::pipelined, GemmShape{16, 16, 2}).cycles, 16 + 3 * 8 - 1);
  for (const Dataflow df : {Dataflow::ws, Dataflow::os, Dataflow::is}) {
    const GemmShape g{100, 70, 50};
    EXPECT_LE(systolic_gemm(16, 8, df, FoldOverlap::pipelined, g).cycles,
              systolic_gemm(16, 8, df, FoldOverlap::none, g).cycles);
  }
}

}  // namespace
}  // namespace einsim
