// The tile-order interpreter (mappings/verify.hpp): every mapping in configs/mappings computes its cascade's values
// tile by tile, and programs broken the ways a lowering could break them are caught on numbers.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>

#include "mappings/verify.hpp"
#include "test_util.hpp"
#include "workloads/interpreter.hpp"

namespace einsim {
namespace {

// Smaller params where a mapping's defaults take the interpreter more than a few tenths of a second.
const std::map<std::string, std::vector<std::pair<std::string, std::string>>> kSmall = {
    {"encoder-gemms.yaml", {{"P", "32"}}},
    {"decode-fa2-cores.yaml", {{"L", "1024"}}},
    {"decode-split-cores.yaml", {{"L", "1024"}}},
    {"mamba-scan-xpu.yaml", {{"T", "256"}, {"D", "1024"}}},
    {"mla-decode-fusemax.yaml", {{"B", "2"}, {"H", "8"}, {"M", "1024"}}},
    {"mla-decode-xpu.yaml", {{"B", "2"}, {"H", "8"}, {"M", "1024"}}},
    {"ffn-swiglu.yaml", {{"N", "64"}, {"D", "256"}, {"FF", "512"}}},
    {"ffn-swiglu-fusemax.yaml", {{"N", "64"}, {"D", "256"}, {"FF", "512"}}},
    {"decode-attention-pruned.yaml", {{"L", "1024"}}},
    {"serving-ffn.yaml", {{"P", "64"}}},
    {"kda-decode-xpu.yaml", {{"B", "2"}}},
    {"kda-decode-fusemax.yaml", {{"B", "2"}}},
    {"serving-attention.yaml", {{"L", "256"}, {"P", "64"}}},
    {"serving-attention-tp.yaml", {{"L", "256"}, {"P", "64"}}},
};

TileOp& compute_op(TileGroup& g, const Cascade& c, const std::string& einsum) {
  for (TileOp& op : g.ops)
    if (op.kind == TileOp::Kind::compute && c.einsums[op.einsum].name == einsum) return op;
  throw InternalError("no computation of " + einsum);
}

// Every hand mapping (causal skipping, passes, spills, bypasses, many cores, devices, PIM, guards, gathers,
// recurrences, quantization) gives its cascade's results the interpreter's values at these params.
TEST(Verify, EveryMappingInConfigsComputesTheCascadesValues) {
  int checked = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator("configs/mappings")) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string name = entry.path().filename().string();
    const auto small = kSmall.find(name);
    const DesignPoint p =
        test::point(entry.path().string(), small == kSmall.end() ? decltype(small->second){} : small->second);
    ASSERT_TRUE(p.program.status.ok) << name << ": " << p.program.status.reason;
    const TileCheck check = verify_values(p.cascade, p.program, 1);
    EXPECT_TRUE(check.ok) << name << ": " << check.summary();
    EXPECT_GT(check.computations, 0) << name;
    ++checked;
  }
  EXPECT_GE(checked, 35);
}

// One computation per execution of each compute op, no more: the ws GEMM's 16 tiles of n by 2 of k.
TEST(Verify, RunsEachExecutionOfEachComputationOnce) {
  const DesignPoint p = test::point("configs/mappings/gemm-systolic-ws.yaml");
  int64_t executions = 0;
  for (const TileGroup& g : p.program.groups)
    for (const TileOp& op : g.ops)
      if (op.kind == TileOp::Kind::compute) executions += g.executions(op);
  const TileCheck check = verify_values(p.cascade, p.program, 7);
  EXPECT_TRUE(check.ok) << check.summary();
  EXPECT_EQ(check.computations, executions);
  EXPECT_EQ(check.computations, 32);
  EXPECT_EQ(check.tensors, 1);
  EXPECT_EQ(check.seed, 7u);
}

// A computation listed twice adds the tiles of k after the first twice into Z.
TEST(Verify, CatchesATileComputedTwice) {
  DesignPoint p = test::point("configs/mappings/gemm-systolic-ws.yaml");
  TileGroup& g = p.program.groups[0];
  g.ops.push_back(compute_op(g, p.cascade, "Z"));
  const TileCheck check = verify_values(p.cascade, p.program, 1);
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.tensor, "Z");
  EXPECT_GT(check.wrong, 0);
}

// A loop whose tile says less than its iterations cover leaves part of every tile of n uncomputed.
TEST(Verify, CatchesTilesThatLeaveElementsOut) {
  DesignPoint p = test::point("configs/mappings/gemm-systolic-ws.yaml");
  TileGroup& g = p.program.groups[0];
  auto n = std::find_if(g.loops.begin(), g.loops.end(), [](const Loop& l) { return l.index == "n"; });
  ASSERT_NE(n, g.loops.end());
  n->tile /= 2;
  const TileCheck check = verify_values(p.cascade, p.program, 1);
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.tensor, "Z");
  EXPECT_EQ(check.wrong, p.cascade.tensors[p.cascade.tensor_id("Z")].elements() / 2);
}

// FLAT's second pass with the denominator's sum listed before the exponentials it sums: each tile of SD adds the
// numerators of a tile not computed yet, so A, and then AV, come out wrong.
TEST(Verify, CatchesAComputationBeforeWhatItReads) {
  DesignPoint p = test::point("configs/mappings/attention-flat.yaml");
  TileGroup& g = p.program.groups[0];
  auto is = [&](const TileOp& op, const std::string& name) {
    return op.kind == TileOp::Kind::compute && p.cascade.einsums[op.einsum].name == name;
  };
  auto sn = std::find_if(g.ops.begin(), g.ops.end(), [&](const TileOp& op) { return is(op, "SN"); });
  auto sd = std::find_if(g.ops.begin(), g.ops.end(), [&](const TileOp& op) { return is(op, "SD"); });
  ASSERT_TRUE(sn != g.ops.end() && sd != g.ops.end() && sn < sd);
  std::iter_swap(sn, sd);
  const TileCheck check = verify_values(p.cascade, p.program, 1);
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.tensor, "AV");
  EXPECT_NE(check.summary().find("AV["), std::string::npos) << check.summary();
}

// The box evaluator: a GEMM computed tile by tile, output tiles in a random order and the reduction's tiles in
// order within each, equals the interpreter's whole evaluation (fp64, to rounding).
TEST(Verify, BoxesInAnyOrderOfOutputTilesEqualTheWholeEvaluation) {
  const uint64_t seed = test::seed();
  std::mt19937_64 rng(seed);
  const Cascade c = test::load("configs/workloads/gemm.yaml", {{"M", "24"}, {"N", "20"}, {"K", "36"}});
  const TensorValues inputs = random_inputs(c, seed);
  const TensorValues whole = evaluate(c, inputs, EvalOptions{true, true});
  BoxEvaluator boxes(c, inputs);
  const Einsum& z = c.einsums[c.tensors[c.tensor_id("Z")].writer];
  std::vector<std::vector<int64_t>> starts;  // of the output tiles, in the Einsum's index order
  std::vector<int64_t> tile(z.vars.size());
  for (size_t v = 0; v < z.vars.size(); ++v) tile[v] = std::vector<int64_t>{5, 7, 8}[rng() % 3];
  std::vector<int> out_vars;
  for (size_t v = 0; v < z.vars.size(); ++v)
    if (std::find(z.reduced.begin(), z.reduced.end(), static_cast<int>(v)) == z.reduced.end())
      out_vars.push_back(static_cast<int>(v));
  ASSERT_EQ(out_vars.size(), 2u);
  const auto a = static_cast<size_t>(out_vars[0]), b = static_cast<size_t>(out_vars[1]);
  const auto r = static_cast<size_t>(z.reduced[0]);
  for (int64_t i = 0; i < z.vars[a].extent; i += tile[a])
    for (int64_t j = 0; j < z.vars[b].extent; j += tile[b]) {
      std::vector<int64_t> lo(z.vars.size(), 0);
      lo[a] = i;
      lo[b] = j;
      starts.push_back(lo);
    }
  std::shuffle(starts.begin(), starts.end(), rng);
  for (const std::vector<int64_t>& start : starts)
    for (int64_t k = 0; k < z.vars[r].extent; k += tile[r]) {
      std::vector<int64_t> lo = start, hi(z.vars.size());
      lo[r] = k;
      for (size_t v = 0; v < hi.size(); ++v) hi[v] = lo[v] + tile[v];  // past the extent: clamped
      boxes.compute(c.tensors[c.tensor_id("Z")].writer, lo, hi);
    }
  const TensorValues tiled = boxes.values();
  const std::vector<double>& got = tiled.at("Z");
  const std::vector<double>& want = whole.at("Z");
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << "seed " << seed << " element " << i;
}

// A masked reduction whose first tile a row never reaches (Y[p] = max over m >= p: for p in 4..7 the tile of m in
// 0..3 holds no kept point, and a program skips it): the row starts at its first tile computed, from the max's
// identity, not from what the tensor held. Values all negative, so starting from 0 would show.
TEST(Verify, AReductionStartsAtTheFirstTileComputedNotAtTheFirstIndex) {
  const std::string file = test::temp_file("window-max.yaml",
                                           "version: 1\nname: window-max\nparams: {P: 8, M: 8}\ndtype: fp32\n"
                                           "tensors:\n  X: {ranks: [P, M]}\n  Y: {ranks: [P], output: true}\n"
                                           "einsums:\n  - Y[p] = max(m) X[p,m] where p <= m\n");
  const Cascade c = test::load(file);
  TensorValues inputs;
  for (int64_t p = 0; p < 8; ++p)
    for (int64_t m = 0; m < 8; ++m) inputs["X"].push_back(-1.0 - static_cast<double>(p + m));
  BoxEvaluator boxes(c, inputs);
  const EinsumId y = c.tensors[c.tensor_id("Y")].writer;
  const int pv = c.einsums[y].var_index("p"), mv = c.einsums[y].var_index("m");
  for (int64_t p0 = 0; p0 < 8; p0 += 4)
    for (int64_t m0 = 0; m0 < 8; m0 += 4) {
      if (m0 + 3 < p0) continue;  // no m >= p in the tile
      std::vector<int64_t> lo(2), hi(2);
      lo[static_cast<size_t>(pv)] = p0;
      hi[static_cast<size_t>(pv)] = p0 + 4;
      lo[static_cast<size_t>(mv)] = m0;
      hi[static_cast<size_t>(mv)] = m0 + 4;
      boxes.compute(y, lo, hi);
    }
  const TensorValues tiled = boxes.values();
  const TensorValues whole = evaluate(c, inputs, EvalOptions{true, true});
  for (int64_t p = 0; p < 8; ++p) {
    EXPECT_EQ(tiled.at("Y")[static_cast<size_t>(p)], -1.0 - 2.0 * static_cast<double>(p)) << "p = " << p;
    EXPECT_EQ(tiled.at("Y")[static_cast<size_t>(p)], whole.at("Y")[static_cast<size_t>(p)]) << "p = " << p;
  }
}

}  // namespace
}  // namespace einsim
