// Tensors that bypass a group's buffer (a mapping's `tensors: {T: {bypass: true}}`, Timeloop's bypass of a
// level): a result goes from the unit straight to DRAM tile by tile, an input from DRAM straight to the unit for
// every tile it computes. Neither is written into the buffer nor read out of it, nor takes its space; DRAM moves
// what the tiles need.
#include <gtest/gtest.h>

#include <filesystem>

#include "sim/analytical.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

// Z = A B (M 256, N 512, K 64; A and B bf16, Z fp32) on the systolic array, in DRAM blocks of 64 x 128 outputs
// and buffer tiles of 32 x 32, with `tensors` as the group's per-tensor settings.
DesignPoint gemm(const std::string& tensors) {
  const std::string configs = std::filesystem::absolute("configs").string();
  return test::point(test::temp_file("bypass.yaml", "version: 1\nname: bypass\narch: " + configs +
                                                        "/arch/systolic.yaml\nworkload: " + configs +
                                                        "/workloads/gemm.yaml\ngroups:\n"
                                                        "  - name: gemm\n"
                                                        "    loops:\n"
                                                        "      dram: [{index: m, tile: 64}, {index: n, tile: 128}]\n"
                                                        "      glb: [{index: m, tile: 32}, {index: n, tile: 32}]\n" +
                                                        (tensors.empty() ? "" : "    tensors: " + tensors + "\n") +
                                                        "    einsums:\n"
                                                        "      Z: {unit: array, spatial: {rows: m, cols: n}}\n"));
}

const TileOp& only(const TileProgram& program, TileOp::Kind kind, const std::string& tensor) {
  const TileOp* found = nullptr;
  for (const TileOp& op : program.groups[0].ops)
    if (op.kind == kind && op.tensor == tensor) {
      EXPECT_EQ(found, nullptr) << tensor << " moves twice";
      found = &op;
    }
  EXPECT_NE(found, nullptr) << tensor;
  return *found;
}

constexpr int64_t kM = 256, kN = 512, kK = 64;

// A bypassing result leaves the buffer alone: the buffer reads and writes fall by exactly Z's bytes each (the
// array's results written into it and the store's read out of it); DRAM receives the same bytes, in tiles of
// 32 x 32 as the array computes them instead of blocks of 64 x 128.
TEST(Bypass, AResultGoesFromTheUnitStraightToDram) {
  const DesignPoint staged = gemm(""), bypassed = gemm("{Z: {bypass: true}}");
  ASSERT_TRUE(staged.program.status.ok) << staged.program.status.reason;
  ASSERT_TRUE(bypassed.program.status.ok) << bypassed.program.status.reason;
  const TileOp& store = only(bypassed.program, TileOp::Kind::store, "Z");
  EXPECT_TRUE(store.bypass);
  EXPECT_EQ(store.bytes, 32 * 32 * 4);
  EXPECT_EQ(only(staged.program, TileOp::Kind::store, "Z").bytes, 64 * 128 * 4);
  const Stats a = evaluate_analytical(staged.cascade, staged.arch, staged.program);
  const Stats b = evaluate_analytical(bypassed.cascade, bypassed.arch, bypassed.program);
  const int64_t z = kM * kN * 4;
  EXPECT_EQ(a.traffic_bytes.at("glb").read - b.traffic_bytes.at("glb").read, z);
  EXPECT_EQ(a.traffic_bytes.at("glb").write - b.traffic_bytes.at("glb").write, z);
  EXPECT_EQ(b.traffic_bytes.at("dram").write, z);
  EXPECT_EQ(a.traffic_bytes.at("dram").write, z);
  EXPECT_EQ(a.traffic_bytes.at("dram").read, b.traffic_bytes.at("dram").read);
  // Z's block no longer takes buffer space.
  EXPECT_EQ(staged.program.groups[0].buffer_bytes - bypassed.program.groups[0].buffer_bytes, 64 * 128 * 4);
}

// A bypassing input comes for every tile the array computes: B (K x 32 per tile) is fetched once per 32 x 32
// output tile, 16 times as often as the 8 column blocks of 128 it is loaded in through the buffer per block of
// 64 rows, and never written into the buffer nor read from it.
TEST(Bypass, AnInputComesFromDramForEveryTileTheUnitComputes) {
  const DesignPoint staged = gemm(""), bypassed = gemm("{B: {bypass: true}}");
  ASSERT_TRUE(bypassed.program.status.ok) << bypassed.program.status.reason;
  const TileOp& load = only(bypassed.program, TileOp::Kind::load, "B");
  EXPECT_TRUE(load.bypass);
  EXPECT_EQ(load.bytes, kK * 32 * 2);
  const int64_t tiles = (kM / 32) * (kN / 32);
  EXPECT_EQ(test::loaded_bytes(bypassed.program).at("B"), tiles * kK * 32 * 2);
  EXPECT_EQ(test::loaded_bytes(staged.program).at("B"), (kM / 64) * kK * kN * 2);
  const Stats a = evaluate_analytical(staged.cascade, staged.arch, staged.program);
  const Stats b = evaluate_analytical(bypassed.cascade, bypassed.arch, bypassed.program);
  // Through the buffer: B's fills (written) and the array's reads of it per tile; bypassing: neither.
  EXPECT_EQ(a.traffic_bytes.at("glb").write - b.traffic_bytes.at("glb").write,
            test::loaded_bytes(staged.program).at("B"));
  EXPECT_EQ(a.traffic_bytes.at("glb").read - b.traffic_bytes.at("glb").read, tiles * kK * 32 * 2);
  EXPECT_EQ(b.traffic_bytes.at("dram").read - a.traffic_bytes.at("dram").read,
            test::loaded_bytes(bypassed.program).at("B") - test::loaded_bytes(staged.program).at("B"));
}

// A result whose tiles add up over a loop inside the group needs the buffer for its partial sums: such tiles are
// infeasible, naming the loop (the mapper skips them). (A result an Einsum of its own group reads is refused as a
// bad mapping: tests/bad_inputs/mapping-bypass-intermediate.yaml.)
TEST(Bypass, PartialSumsNeedTheBuffer) {
  const std::string configs = std::filesystem::absolute("configs").string();
  const DesignPoint partial = test::point(test::temp_file(
      "bypass-k.yaml", "version: 1\nname: bypass-k\narch: " + configs + "/arch/systolic.yaml\nworkload: " + configs +
                           "/workloads/gemm.yaml\ngroups:\n"
                           "  - name: gemm\n"
                           "    loops:\n"
                           "      glb: [{index: m, tile: 32}, {index: n, tile: 32}, {index: k, tile: 16}]\n"
                           "    tensors: {Z: {bypass: true}}\n"
                           "    einsums:\n"
                           "      Z: {unit: array, spatial: {rows: m, cols: n}}\n"));
  EXPECT_FALSE(partial.program.status.ok);
  EXPECT_NE(partial.program.status.reason.find("adds up its tiles of Z over the loops inside 'k'"), std::string::npos)
      << partial.program.status.reason;
}

}  // namespace
}  // namespace einsim
