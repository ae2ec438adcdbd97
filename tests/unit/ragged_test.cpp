// Ragged tiles: the outermost loop over an index may take a tile that does not divide it, the last tile holding
// the rest. Its executions cost what they hold (operations, bytes, a unit's cycles at that tile), and loops inside
// the partial tile skip the iterations past the index's end.
#include <gtest/gtest.h>

#include "mappings/lower.hpp"
#include "sim/analytical.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

struct Evaluated {
  DesignPoint p;
  Stats s;
};

Evaluated evaluate(const std::string& mapping, std::vector<std::pair<std::string, std::string>> params) {
  Evaluated e{test::point(mapping, std::move(params)), {}};
  e.s = evaluate_analytical(e.p.cascade, e.p.arch, e.p.program);
  return e;
}

// A ws GEMM's mapping with these DRAM and buffer loops.
std::string gemm(const std::string& dram, const std::string& glb) {
  const std::string root = std::filesystem::absolute(".").string();
  return test::temp_file("gemm-" + std::to_string(std::hash<std::string>{}(dram + glb)) + ".yaml",
                         "version: 1\nname: gemm\narch: " + root + "/configs/arch/systolic.yaml\nworkload: " + root +
                             "/configs/workloads/gemm.yaml\ngroups:\n  - name: gemm\n    loops:\n      dram: " + dram +
                             "\n      glb: " + glb +
                             "\n    einsums:\n      Z: {unit: array, spatial: {rows: k, cols: n}}\n");
}

// Rows in blocks of 100 over M = 250: two blocks of 100 and one of 50, each costing what a GEMM of its rows
// costs: the array's cycles, A's and Z's bytes add up to those of M = 100 twice and M = 50 once (B, whose tile
// does not depend on m, is loaded once in every case).
TEST(Ragged, APartialLastTileCostsWhatItHolds) {
  const std::string mapping = gemm("[{index: m, tile: 100}]", "[{index: n, tile: 32}, {index: k, tile: 32}]");
  const Evaluated ragged = evaluate(mapping, {{"M", "250"}});
  const Evaluated full = evaluate(mapping, {{"M", "100"}});
  const Evaluated part = evaluate(mapping, {{"M", "50"}});
  for (const Evaluated* e : {&ragged, &full, &part}) ASSERT_TRUE(e->s.status.ok) << e->s.status.reason;
  EXPECT_EQ(ragged.p.program.groups[0].loops[0].trips, 3);
  EXPECT_EQ(ragged.s.busy_cycles.at("array"), 2 * full.s.busy_cycles.at("array") + part.s.busy_cycles.at("array"));
  EXPECT_EQ(ragged.s.einsums.at("Z").ops.at("mac"), 250 * 512 * 64);
  const auto loaded = test::loaded_bytes(ragged.p.program);
  EXPECT_EQ(loaded.at("A"), 250 * 64 * 2);  // bf16, each row once
  EXPECT_EQ(loaded.at("B"), 64 * 512 * 2);
  EXPECT_EQ(ragged.s.traffic_bytes.at("dram").write, 250 * 512 * 4);
  const auto& glb = ragged.s.traffic_bytes.at("glb");
  EXPECT_EQ(glb.read, 2 * full.s.traffic_bytes.at("glb").read + part.s.traffic_bytes.at("glb").read);
  EXPECT_EQ(glb.write, 2 * full.s.traffic_bytes.at("glb").write + part.s.traffic_bytes.at("glb").write -
                           2 * loaded.at("B"));  // (B is written into the buffer once, not three times)
  // The first tile is full and sets the group's head, as in M = 100; the partial one only adds its own time.
  EXPECT_LT(ragged.s.cycles, 2 * full.s.cycles + part.s.cycles);
  EXPECT_GT(ragged.s.cycles, ragged.s.busy_cycles.at("array"));
}

// tests/data/gemm-ragged.yaml at N = 1,000, M = 250: 11 blocks of columns (the last of 40: a fold of 32, a fold
// of 8 and an empty third fold), 3 blocks of rows (the last of 50). Every count is the GEMM's, with A read once
// per block of columns and nothing computed, moved or stored for the empty fold.
TEST(Ragged, LoopsInsideAPartialTileSkipTheirEmptyIterations) {
  const Evaluated e = evaluate("tests/data/gemm-ragged.yaml", {{"M", "250"}, {"N", "1000"}});
  ASSERT_TRUE(e.s.status.ok) << e.s.status.reason;
  EXPECT_EQ(e.s.einsums.at("Z").ops.at("mac"), 250 * 1000 * 64);
  const auto loaded = test::loaded_bytes(e.p.program);
  EXPECT_EQ(loaded.at("A"), 11 * 250 * 64 * 2);
  EXPECT_EQ(loaded.at("B"), 64 * 1000 * 2);
  EXPECT_EQ(e.s.traffic_bytes.at("dram").write, 250 * 1000 * 4);
  // Folds of 32 columns and the partial fold of 8 take a ws array alike (the columns are spread, the rows stream):
  // 32 folds of n x 2 of k x (100 + 100 + 50) rows.
  EXPECT_EQ(e.s.busy_cycles.at("array"), 32 * 2 * 250);
  // 1,000 of the 32 x 32 array's 1,024 columns' worth of work, in the partial fold's idle columns.
  EXPECT_DOUBLE_EQ(e.s.einsums.at("Z").utilization, 1000.0 / 1024);
  // Ops that divide stay one op; those that see a partial tile are split by its size.
  for (const TileOp& op : e.p.program.groups[0].ops) EXPECT_TRUE(op.ragged) << op.tensor;
  const Evaluated dividing = evaluate("tests/data/gemm-ragged.yaml", {{"M", "200"}, {"N", "960"}});
  ASSERT_TRUE(dividing.s.status.ok);
  for (const TileOp& op : dividing.p.program.groups[0].ops) EXPECT_FALSE(op.ragged || op.partial) << op.tensor;
  EXPECT_EQ(dividing.p.program.groups[0].ops.size(), 4u);  // load A, load B, Z, store Z
}

// What is not modelled, or cannot be, says so.
TEST(Ragged, WhatIsRefused) {
  // Inside a block of 96 columns, folds of 40 would straddle blocks.
  Evaluated e = evaluate(gemm("[{index: n, tile: 96}]", "[{index: n, tile: 40}, {index: k, tile: 32}]"), {});
  EXPECT_EQ(e.p.program.status.reason, "tile 40 of index n does not divide the tile of n around it (96)");
  e = evaluate(gemm("[{index: n, tile: 0}]", "[{index: k, tile: 32}]"), {});
  EXPECT_EQ(e.p.program.status.reason, "tile 0 of index n: a tile holds at least one element");
  // A causal mask over a ragged tile of p.
  e = evaluate("configs/mappings/attention-causal-fusemax.yaml", {{"M", "1024"}, {"P", "1000"}});
  EXPECT_EQ(e.p.program.status.reason,
            "group 'attention': a tile that does not divide its index (p) with BQK's where clause: not modelled yet");
  // A ragged tile in a group spread over cores.
  DesignPoint p = test::point("configs/mappings/llm/decode-fa2-cores.yaml", {{"B", "8"}});
  p.mapping.groups[0].loops[0].tile = "3";
  p.mapping.groups[0].loops[0].tile_expr.reset();
  EXPECT_EQ(lower(p.cascade, p.arch, p.mapping).status.reason,
            "group 'attention': a tile that does not divide its index (b) in a group spread over cores: not modelled "
            "yet");
}

}  // namespace
}  // namespace einsim
