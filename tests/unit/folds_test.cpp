// What a tile wider than a 2D array moves through the buffer, fold by fold (mappings/fold_reads.hpp).
#include <gtest/gtest.h>

#include "mappings/fold_reads.hpp"
#include "test_util.hpp"

namespace einsim {
namespace {

// A ws GEMM tile of m = 64, n = 512, k = 32 on a 32 x 32 array, k over the rows and n over the columns: 16 folds
// of n. A (m x k, 4 KiB) is not indexed by n: read in each fold unless each PE keeps its 64 values of m.
FoldShape columns(int64_t regfile_entries) {
  FoldShape s;
  s.dims.push_back({32, {512}});
  s.regfile_entries = regfile_entries;
  return s;
}

TEST(Folds, AnOperandTheFoldsDoNotIndexIsReadInEachFold) {
  const FoldOperand a{4096, {{false}}, 64}, b{32768, {{true}}, 1};
  const FoldOperand z{131072, {{true}}, 64};
  const FoldTraffic t = fold_traffic(columns(1), {a, b}, z);
  EXPECT_EQ(t.reads, (std::vector<int64_t>{16 * 4096, 32768}));
  EXPECT_EQ(t.result_writes, 131072);  // the result is split among the folds: written once
  EXPECT_EQ(t.result_reads, 0);
  // With 64 registers a PE the array keeps A over the folds: read once.
  EXPECT_EQ(fold_traffic(columns(64), {a, b}, z).reads, (std::vector<int64_t>{4096, 32768}));
  // With 63 its share does not fit.
  EXPECT_EQ(fold_traffic(columns(63), {a, b}, z).reads, (std::vector<int64_t>{16 * 4096, 32768}));
}

TEST(Folds, AResultSummedOverFoldingRowsIsWrittenInEachAndReadBackInAllButTheFirst) {
  // k = 128 over 32 rows: 4 folds of the sum; the result (1 KiB) is partial in each.
  FoldShape s;
  s.dims.push_back({32, {128}});
  const FoldOperand a{8192, {{true}}, 1}, z{1024, {{false}}, 1};
  FoldTraffic t = fold_traffic(s, {a}, z);
  EXPECT_EQ(t.reads, (std::vector<int64_t>{8192}));
  EXPECT_EQ(t.result_writes, 4 * 1024);
  EXPECT_EQ(t.result_reads, 3 * 1024);
  // One register a PE holds the partial sum over the folds (an output-stationary array's accumulator).
  s.regfile_entries = 1;
  t = fold_traffic(s, {a}, z);
  EXPECT_EQ(t.result_writes, 1024);
  EXPECT_EQ(t.result_reads, 0);
}

TEST(Folds, TwoIndicesOnADimensionFlattenInTheOrderThatMovesLeast) {
  // h = 128 heads and m0 = 512 keys over 512 columns: 128 folds. Q indexes h alone (256 KiB), the keys m0 alone
  // (512 KiB). With h outer each fold covers one head: Q read once, the keys 128 times; with m0 outer each fold
  // covers 4 keys of every head: the keys once, Q 128 times. The second moves less.
  FoldShape s;
  s.dims.push_back({512, {128, 512}});
  const FoldOperand q{262144, {{true, false}}, 512}, keys{524288, {{false, true}}, 512};
  const FoldTraffic t = fold_traffic(s, {q, keys}, FoldOperand{});
  EXPECT_EQ(t.reads, (std::vector<int64_t>{128 * 262144, 524288}));
  // A PE sees the same head in every fold (512 is a multiple of 128 heads): one register keeps its Q value.
  s.regfile_entries = 1;
  const FoldOperand q1{262144, {{true, false}}, 1}, keys1{524288, {{false, true}}, 1};
  EXPECT_EQ(fold_traffic(s, {q1, keys1}, FoldOperand{}).reads, (std::vector<int64_t>{262144, 524288}));
}

TEST(Folds, ARunOfPositionsCountsTheValuesOfTheIndexItCovers) {
  // n = 4 and ff = 32 over 48 rows: 3 folds of 48, 48 and 32 positions. W indexes ff alone (6,400 B), X n alone
  // (1,000 B). With n outer, the folds cover 32, 32 and 32 values of ff (W read 3 times) and n 0-1, 1-2 and 3 (X
  // 5/4 times): 20,450 B. With ff outer, runs of 4: ff 0-11, 12-23 and 24-31 (W once), every n in each (X 3
  // times): 9,400 B, the order taken.
  FoldShape s;
  s.dims.push_back({48, {4, 32}});
  const FoldOperand w{6400, {{false, true}}, 1}, x{1000, {{true, false}}, 1};
  EXPECT_EQ(fold_traffic(s, {w, x}, FoldOperand{}).reads, (std::vector<int64_t>{6400, 3000}));
  // One register a PE: with ff outer a PE sees the same n in every fold (48 is a multiple of 4), so it keeps X.
  s.regfile_entries = 1;
  EXPECT_EQ(fold_traffic(s, {w, x}, FoldOperand{}).reads, (std::vector<int64_t>{6400, 1000}));
}

TEST(Folds, AnInnerIndexThatDoesNotDivideTheDimensionShiftsEachFold) {
  // 528 rows over n = 64 and ff = 32 (2,048 positions: 4 folds, the last of 464). W (64 KiB) indexes ff alone, X
  // (4 KiB) n alone. With n outer every fold covers all 32 values of ff (W read 4 times) and n 0-16, 16-32, 33-49
  // and 49-63 (X 66/64 times); with ff outer, ff 0-8, 8-16, 16-24 and 24-31 (W 35/32 times) and every n in each
  // (X 4 times). Without registers, ff outer: 71,680 + 16,384 B.
  FoldShape s;
  s.dims.push_back({528, {64, 32}});
  const FoldOperand w{65536, {{false, true}}, 1}, x{4096, {{true, false}}, 1};
  EXPECT_EQ(fold_traffic(s, {w, x}, FoldOperand{}).reads, (std::vector<int64_t>{71680, 16384}));
  // With n outer a PE's ff moves by 528 mod 32 = 16 each fold: it sees two values, which two registers keep.
  s.regfile_entries = 2;
  EXPECT_EQ(fold_traffic(s, {w, x}, FoldOperand{}).reads, (std::vector<int64_t>{65536, 4224}));
  // One is not enough (with ff outer a PE's n moves by 528 mod 64 = 16: four values).
  s.regfile_entries = 1;
  EXPECT_EQ(fold_traffic(s, {w, x}, FoldOperand{}).reads, (std::vector<int64_t>{71680, 16384}));
}

}  // namespace
}  // namespace einsim
