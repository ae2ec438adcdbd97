#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "explore/mapper.hpp"
#include "mappings/lower.hpp"
#include "mappings/write.hpp"
#include "sim/analytical.hpp"
#include "tests/unit/test_util.hpp"
#include "workloads/analysis.hpp"

namespace einsim {
namespace {

struct Point : DesignPoint {
  Stats stats;
};

Point evaluate(const std::string& mapping_file, std::vector<std::pair<std::string, std::string>> params = {},
               std::vector<std::pair<std::string, std::string>> arch_sets = {}, std::vector<std::string> presets = {}) {
  Point p{test::point(mapping_file, std::move(params), std::move(presets), arch_sets), {}};
  p.stats = evaluate_analytical(p.cascade, p.arch, p.program);
  return p;
}

int64_t dram_bytes(const Stats& s) { return s.traffic_bytes.at("dram").read + s.traffic_bytes.at("dram").write; }

TEST(Model, GemmAtFullMappingEfficiencyTakesMacsOverArrayCycles) {
  for (const std::string df : {"ws", "os", "is"}) {
    const Point p =
        evaluate("configs/mappings/gemm-systolic-" + df + ".yaml", {{"M", "256"}, {"N", "512"}, {"K", "64"}});
    ASSERT_TRUE(p.stats.status.ok) << p.stats.status.reason;
    EXPECT_EQ(p.stats.busy_cycles.at("array"), 256 * 512 * 64 / (32 * 32)) << df;  // 8,192
    EXPECT_DOUBLE_EQ(p.stats.einsums.at("Z").utilization, 1.0) << df;
    // A and B read once, Z written once (fp32): the compulsory traffic.
    EXPECT_EQ(p.stats.traffic_bytes.at("dram").read, 256 * 64 * 2 + 64 * 512 * 2) << df;
    EXPECT_EQ(p.stats.traffic_bytes.at("dram").write, 256 * 512 * 4) << df;
  }
}

// The analytical model's timing terms (sim/analytical.cpp), each against its closed form. The cycle engine
// gives the same cycles on these points (tests/sc/cycle_test.cpp and scripts/gap-table).

TEST(ModelTiming, AnUntiledGroupLoadsComputesAndStoresInTurn) {
  // gemm-systolic-ws at M = N = K = 32, one tile (tests/sc/cycle_test.cpp walks the engine through it): A and B
  // (2,048 B each) through a 64-byte buffer port (slower than 64 GiB/s of DRAM) in 64 cycles, 100 of latency;
  // Z streams 8,192 B through a port in 128 cycles (its MACs take 32), its result 5 cycles later (adder tree);
  // Z's 4,096 B leave in 64 cycles, 100 of latency. Nothing overlaps.
  const Point p = evaluate("configs/mappings/gemm-systolic-ws.yaml", {{"M", "32"}, {"N", "32"}, {"K", "32"}});
  EXPECT_EQ(p.stats.cycles, (64 + 100) + (128 + 5) + (64 + 100));
  EXPECT_EQ(p.stats.busy_cycles.at("array"), 32);
  // Single-buffered, the same: one tile has nothing to overlap (this once took only the transfers and their
  // latencies, 328 cycles, as if the computation were free; the cycle engine gave 461 then as now).
  std::ifstream in("configs/mappings/gemm-systolic-ws.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("    loops:"), 0, "    double_buffer: false\n");
  const std::string table = std::filesystem::absolute("configs").string();
  text.replace(text.find("../arch"), 2, table);
  text.replace(text.find("../workloads"), 2, table);
  const Point single = evaluate(test::temp_file("ws-single.yaml", text), {{"M", "32"}, {"N", "32"}, {"K", "32"}});
  EXPECT_FALSE(single.program.groups.at(0).double_buffer);
  EXPECT_EQ(single.stats.cycles, p.stats.cycles);
}

// A pipelined pass whose units hand a tile's work back and forth (tests/data/attention-1pass-handed-back.yaml, 32
// tiles): the 1D array, the busiest, has 4,704 cycles of work, 147 a tile; paced by it the pass would take 4,897
// after a head of 280 cycles. But it waits for PRM, which the 2D array starts after SLN, SLD and SLNV, and with the
// loop over e outside m1 its work comes in bursts: BQK's partial sums alone in the first four tiles of each block of
// keys, LM to RNV in the last four, AV once. The 32 tiles list-scheduled as the engine's units take their jobs,
// each computation in the tiles it runs in: the last result is ready 6,070 cycles after the head; then AV's last
// tile leaves (144 cycles, 100 of latency). The cycle engine: 6,832, its 2D array waiting for the second block of
// queries behind the keys' and values' prefetches (not modelled).
TEST(ModelTiming, APipelineWhoseUnitsHandWorkBackAndForth) {
  const Point p = evaluate("tests/data/attention-1pass-handed-back.yaml");
  ASSERT_TRUE(p.stats.status.ok) << p.stats.status.reason;
  EXPECT_EQ(p.stats.busy_cycles.at("pe1d"), 32 * 147);
  EXPECT_EQ(p.stats.cycles, 280 + 6070 + (144 + 100));
}

TEST(ModelTiming, ComputeWaitsForItsOperandsToStreamThroughABufferPort) {
  // gemm-systolic-ws at its defaults (M 256, N 512, K 64): 32 tiles of Z, each 256 cycles of MACs but 51,200 B
  // (A 16 KB, B 2 KB, Z 32 KB) through a 64-byte port: 800 cycles, and (the group does not pipeline) each waits
  // for the last one's result, 5 cycles after it (the adder tree). Head: A and B whole (96 KB) through a port,
  // 1,536 cycles, and 100 of latency; tail: Z (512 KB) in 8,192 cycles, 100 of latency. The loads in between
  // are hidden behind the tiles. The cycle engine gives the same 35,688.
  const Point p = evaluate("configs/mappings/gemm-systolic-ws.yaml");
  EXPECT_EQ(p.stats.cycles, (1536 + 100) + 32 * (800 + 5) + (8192 + 100));
  EXPECT_EQ(p.stats.busy_cycles.at("array"), 32 * 256);  // busy is the MACs' time, not the streaming
}

TEST(ModelTiming, PrefetchDistanceExposesTheLatency) {
  // tests/data/gemm-dma.yaml at M = 96: three tiles of Z (128 cycles each), A double-buffered. Tile i + 2's A
  // may load only once Z_i is done with its slot; then Z_i's result (5), its store and the load (4,096 + 2,048
  // B through a port: 96) and the latency (100) pass, R = 201, while Z_{i+1} (128) runs: a pair of tiles takes
  // R + 128. Head: A_0 and B, 64 + 100; tail: 5 + 64 + 100.
  const Point p = evaluate("tests/data/gemm-dma.yaml", {{"M", "96"}, {"N", "32"}, {"K", "32"}});
  EXPECT_EQ(p.stats.cycles, (64 + 100) + 128 + 2 * (201 + 128) / 2 + (5 + 64 + 100));  // 790, as the engine
}

TEST(ModelTiming, BufferPortsBoundTheGroup) {
  // gemm-dma at M = 320 (10 tiles): per tile A (32 cycles through a port), Z (128) and Z's store (64), and B
  // once (32). Two ports serve them at once; with one, the group takes their sum.
  const std::vector<std::pair<std::string, std::string>> params = {{"M", "320"}, {"N", "32"}, {"K", "32"}};
  const Point one = evaluate("tests/data/gemm-dma.yaml", params, {{"glb.ports", "1"}});
  EXPECT_EQ(one.stats.cycles, 10 * (32 + 128 + 64) + 32);
  const Point two = evaluate("tests/data/gemm-dma.yaml", params);
  EXPECT_EQ(two.stats.cycles,
            (64 + 100) + static_cast<int64_t>(std::ceil(128 + 9 * (201.0 + 128) / 2)) + (5 + 64 + 100));
}

TEST(ModelTiming, UnpipelinedTilesTakeTheirCriticalPath) {
  // tests/data/two-units.yaml: 16 tiles of 256 rows; per tile the 2D array's product takes 256 x 256 x 1,024
  // MACs / 65,536 = 1,024 cycles, the 1D array's exps 256 x 256 x 7 / 256 lanes = 1,792. DRAM made fast so that
  // only the buffer's 16 KB ports and a cycle of latency remain at the ends. Independent, the arrays overlap
  // within each tile; chained, the exp waits for the product.
  const std::vector<std::pair<std::string, std::string>> fast = {{"dram.bandwidth", "1000 TB/s"},
                                                                 {"dram.latency_cycles", "1"}};
  const Point apart = evaluate("tests/data/two-units.yaml", {}, fast);
  EXPECT_EQ(apart.stats.busy_cycles.at("pe2d"), 16 * 1024);
  EXPECT_EQ(apart.stats.busy_cycles.at("pe1d"), 16 * 1792);
  // Head: the first tiles of A, B and C (512 + 512 + 128 KB) in 72 cycles; tail: Z's and W's (128 KB each) in 16.
  EXPECT_EQ(apart.stats.cycles, (72 + 1) + 16 * 1792 + (16 + 1));
  const Point chained = evaluate("tests/data/two-units-chained.yaml", {}, fast);
  EXPECT_EQ(chained.stats.cycles, (64 + 1) + 16 * (1024 + 1792) + (16 + 1));
}

TEST(ModelTiming, AChainedReductionPassesThroughEveryPe) {
  // FuseMax's LM (a max over p, spread over the 2D array's 256 columns): its PEs' max unit has no tree
  // (`max: {reduce: chain}`), so the result passes through all 256 PEs, one cycle each; as a tree it would be
  // log2(256) = 8 levels. +Architecture exposes it on every tile (the artifact's LM x 256).
  auto lm_latency = [](std::vector<std::pair<std::string, std::string>> sets) {
    const Point p = evaluate("configs/mappings/attention-architecture.yaml", {}, std::move(sets));
    for (const TileOp& op : p.program.groups.at(0).ops)
      if (op.kind == TileOp::Kind::compute && p.cascade.einsums[op.einsum].name == "LM") return op.result_latency;
    return int64_t{-1};
  };
  EXPECT_EQ(lm_latency({}), 256);
  EXPECT_EQ(lm_latency({{"pe2d.ops.max.reduce", "tree"}}), 8);
}

TEST(Model, SystolicArraysPayFillAndDrainAsScaleSimCounts) {
  // fold_overlap: none on the 32x16 array: every tile's folds fill and drain. Summed over the mapping's tiles
  // this is SCALE-Sim's count for the whole GEMM plus one (SCALE-Sim numbers cycles from zero).
  const std::vector<std::pair<std::string, std::string>> array = {
      {"array.rows", "32"}, {"array.cols", "16"}, {"array.fold_overlap", "none"}};
  const std::map<std::string, int64_t> scalesim = {{"ws", 21375}, {"os", 28159}, {"is", 18879}};
  for (const auto& [df, cycles] : scalesim) {
    auto sets = array;
    sets.emplace_back("array.dataflow", df);
    const Point p =
        evaluate("configs/mappings/gemm-systolic-" + df + ".yaml", {{"M", "256"}, {"N", "512"}, {"K", "64"}}, sets);
    ASSERT_TRUE(p.stats.status.ok) << p.stats.status.reason;
    EXPECT_EQ(p.stats.busy_cycles.at("array"), cycles + 1) << df;
  }
}

TEST(Model, BankModelDramIsChargedForTheCommandsItsTransfersIssue) {
  // hbm2-2.0: 8 channels of 16 banks, 1 KB rows; a read moves a bit for 0.44 (array) + 1.01 + 1.23 (on the
  // die) + 0.5 + 0.3 (TSV, interposer) pJ, an ACT opens 8,192 bits at 0.11, a REF refreshes 4 rows of 16 banks.
  const Point p = evaluate("configs/mappings/gemm-systolic-ws.yaml", {{"M", "256"}, {"N", "256"}, {"K", "256"}},
                           {{"dram.model", "bank"}, {"dram.preset", "hbm2-2.0"}});
  ASSERT_TRUE(p.stats.status.ok) << p.stats.status.reason;
  const std::map<std::string, double>& e = p.stats.energy_by_action_pJ.at("dram");
  const Traffic& t = p.stats.traffic_bytes.at("dram");
  const double per_bit = 0.44 + 1.01 + 1.23 + 0.5 + 0.3;
  EXPECT_NEAR(e.at("read"), static_cast<double>(t.read) * 8 * per_bit, 1e-6 * e.at("read"));
  EXPECT_NEAR(e.at("write"), static_cast<double>(t.write) * 8 * per_bit, 1e-6 * e.at("write"));
  // Every tile covers whole rows of the banks it spreads over (128 KB over 128 banks): one ACT per KB moved.
  EXPECT_NEAR(e.at("activate"), static_cast<double>(t.read + t.write) / 1024 * 8192 * 0.11, 1e-6 * e.at("activate"));
  // A REF per channel every nREFI = 3.9 us of the run (59.6 us: the array waits for its operands to stream
  // through the buffer's 64-byte ports).
  EXPECT_EQ(std::floor(p.stats.latency_s / 3.9e-6), 15);
  EXPECT_NEAR(e.at("refresh"), 15.0 * 8 * 4 * 16 * 8192 * 0.11, 1e-6);
}

// A tile of n = 512 on the 32 columns runs in 16 folds (tests/data/gemm-folds.yaml: two tiles of k = 32). The
// buffer gives each fold what it needs: A's tile (256 x 32 bf16, 16 KiB), which n does not index, in all 16; B's
// (32 x 512, 32 KiB), split among them, once. Z (fp32) is written once, then read once to be stored.
TEST(Model, ATileWiderThanTheArrayReadsWhatEachFoldNeeds) {
  const Point p = evaluate("tests/data/gemm-folds.yaml");
  const int64_t a = 256 * 32 * 2, b = 32 * 512 * 2, z = 256 * 512 * 4;
  EXPECT_EQ(p.stats.traffic_bytes.at("glb").read, 2 * (16 * a + b) + z);  // 1,114,112
  // With a register file of 256 entries each PE keeps its 256 values of A over the folds: A read once.
  const Point kept = evaluate("tests/data/gemm-folds.yaml", {}, {{"array.regfile_entries", "256"}});
  EXPECT_EQ(kept.stats.traffic_bytes.at("glb").read, 2 * (a + b) + z);  // 622,592
  // The folds move nothing else: the same cycles of work, the same DRAM traffic.
  EXPECT_EQ(kept.stats.busy_cycles.at("array"), p.stats.busy_cycles.at("array"));
  EXPECT_EQ(dram_bytes(kept.stats), dram_bytes(p.stats));
}

TEST(Model, EnergyIsActionCountsTimesTableEnergies) {
  const Point p = evaluate("configs/mappings/gemm-systolic-ws.yaml", {{"M", "64"}, {"N", "64"}, {"K", "64"}});
  const Stats& s = p.stats;
  EXPECT_DOUBLE_EQ(s.energy_breakdown_pJ.at("array"), 64.0 * 64 * 64 * 17.16);
  EXPECT_DOUBLE_EQ(s.energy_breakdown_pJ.at("dram"), static_cast<double>(dram_bytes(s)) * 8 / 64 * 249.6);
  const Traffic& glb = s.traffic_bytes.at("glb");
  EXPECT_DOUBLE_EQ(s.energy_breakdown_pJ.at("glb"),
                   static_cast<double>(glb.read + glb.write) * 8 / 64 * 100);  // sram_1MB_read_64b
  EXPECT_DOUBLE_EQ(s.energy_by_action_pJ.at("array").at("mac"), 64.0 * 64 * 64 * 17.16);
  EXPECT_DOUBLE_EQ(s.energy_by_action_pJ.at("dram").at("read"),
                   static_cast<double>(s.traffic_bytes.at("dram").read) * 8 / 64 * 249.6);
  double sum = 0;
  for (const auto& [c, pj] : s.energy_breakdown_pJ) sum += pj;
  EXPECT_DOUBLE_EQ(s.energy_pJ, sum);
  EXPECT_DOUBLE_EQ(s.area_breakdown_mm2.at("array"), 32 * 32 * 3000 / 1e6);  // fp16 MAC area per PE
  EXPECT_EQ(s.area_breakdown_mm2.count("glb"), 0u);                          // no public SRAM area figure
}

TEST(Model, FuseMaxTrafficIsCompulsoryAtBert1K) {
  const Point p = evaluate("configs/mappings/attention-fusemax.yaml", {{"M", "1024"}, {"P", "1024"}, {"B", "2"}}, {},
                           {"configs/workloads/models/bert.yaml"});
  ASSERT_TRUE(p.stats.status.ok) << p.stats.status.reason;
  const int64_t B = 2, H = 12, P = 1024, E = 64;
  EXPECT_EQ(dram_bytes(p.stats), 4 * B * H * P * E * 2);  // Q, K, V read once, AV written once, bf16
}

TEST(Model, ProgramSizeDoesNotGrowWithSequenceLength) {
  const Point short_seq = evaluate("configs/mappings/attention-fusemax.yaml", {{"M", "1024"}, {"P", "1024"}});
  const Point long_seq = evaluate("configs/mappings/attention-fusemax.yaml", {{"M", "65536"}, {"P", "65536"}});
  ASSERT_TRUE(long_seq.stats.status.ok) << long_seq.stats.status.reason;
  ASSERT_EQ(short_seq.program.groups.size(), long_seq.program.groups.size());
  EXPECT_EQ(short_seq.program.groups[0].ops.size(), long_seq.program.groups[0].ops.size());
  EXPECT_EQ(short_seq.program.groups[0].loops.size(), long_seq.program.groups[0].loops.size());
}

TEST(Model, EachOpReadsItsOperandsFromItsRegisterFileAndUpdatesItsResult) {
  // FuseMax at its default point: every op on the 2D array and on the 1D array reads its operands (two for a
  // MAC, an add, a max, a divide; one for an exp) from its PE's register file (0.653 pJ) and writes its result
  // there (0.57 pJ). Without the figures nothing is charged.
  const Point p = evaluate("configs/mappings/attention-fusemax.yaml", {});
  ASSERT_TRUE(p.stats.status.ok) << p.stats.status.reason;
  for (const std::string unit : {"pe2d", "pe1d"}) {
    double reads = 0, writes = 0;
    for (const auto& [einsum, es] : p.stats.einsums) {
      if (es.unit != unit) continue;
      for (const auto& [kind, count] : es.ops) {
        reads += static_cast<double>(count) * (kind == "exp" ? 1 : 2);
        writes += static_cast<double>(count);
      }
    }
    const auto& e = p.stats.energy_by_action_pJ.at(unit);
    EXPECT_GT(writes, 0) << unit;
    EXPECT_NEAR(e.at("regfile_read"), reads * 0.653, 1e-9 * reads) << unit;
    EXPECT_NEAR(e.at("regfile_write"), writes * 0.57, 1e-9 * writes) << unit;
  }
  const Point plain = evaluate("configs/mappings/gemm-systolic-ws.yaml", {});
  EXPECT_FALSE(plain.stats.energy_by_action_pJ.at("array").count("regfile_read"));
}

TEST(Model, ComputeIsChargedAtTheArraysDtype) {
  // The int8 GEMM with the array at int8 and at bf16: only the MACs change, by exactly the table's ratio, and
  // the array does two int8 MACs per PE per cycle where it does one bf16 MAC.
  const Point i8 = evaluate("configs/mappings/quant/int8-gemm.yaml", {}, {{"array.dtype", "int8"}});
  const Point bf = evaluate("configs/mappings/quant/int8-gemm.yaml", {}, {{"array.dtype", "bf16"}});
  ASSERT_TRUE(i8.stats.status.ok && bf.stats.status.ok) << i8.stats.status.reason << bf.stats.status.reason;
  const EnergyTable table = load_energy_table("configs/energy/horowitz-45nm.yaml");
  const double int8_mac = table.find("int8_mac")->energy_pJ, bf16_mac = table.find("bf16_mac")->energy_pJ;
  EXPECT_DOUBLE_EQ(int8_mac, 0.2 + 0.1);           // int8 multiply + int32 add [Horowitz]
  EXPECT_DOUBLE_EQ(bf16_mac, 0.5289 * 1.1 + 0.9);  // (8/11)^2 of an fp16 multiply + an fp32 add
  const double macs = 256.0 * 1024 * 1024;         // N x D x O
  EXPECT_DOUBLE_EQ(i8.stats.energy_by_action_pJ.at("array").at("mac"), macs * int8_mac);
  EXPECT_DOUBLE_EQ(bf.stats.energy_by_action_pJ.at("array").at("mac"), macs * bf16_mac);
  EXPECT_DOUBLE_EQ(
      i8.stats.energy_by_action_pJ.at("array").at("mac") / bf.stats.energy_by_action_pJ.at("array").at("mac"),
      int8_mac / bf16_mac);
  for (const char* c : {"vector", "dram", "glb"})
    EXPECT_EQ(i8.stats.energy_breakdown_pJ.at(c), bf.stats.energy_breakdown_pJ.at(c)) << c;
  EXPECT_LT(i8.stats.energy_pJ, bf.stats.energy_pJ);
  EXPECT_EQ(i8.stats.einsums.at("ACC").cycles, 256 * 1024 * 1024 / (64 * 64 * 2));
  EXPECT_EQ(bf.stats.einsums.at("ACC").cycles, 256 * 1024 * 1024 / (64 * 64));
  EXPECT_DOUBLE_EQ(i8.stats.einsums.at("ACC").utilization, 1.0);
}

// A lane's ops on different function units run at once: FuseMax's rescale factor on the 1D array,
// exp(RM[m1] - RM[m1+1]), is a subtract on the lane's datapath, and with an exp unit of its own (as FLAT's lanes
// have) the subtract chains into it. Its cycles per point are the busiest function unit's starts, a pipelined
// unit's depth trails the tile's last result, and the energy is the same however the ops are timed.
TEST(Model, ChainedOpsTakeTheBusiestFunctionUnitsSlots) {
  auto prm = [](const Point& p) -> const TileOp& {
    for (const TileGroup& g : p.program.groups)
      for (const TileOp& op : g.ops)
        if (op.kind == TileOp::Kind::compute && p.cascade.einsums[op.einsum].name == "PRM") return op;
    throw std::runtime_error("no PRM");
  };
  const Point shared = evaluate("configs/mappings/attention-fusemax.yaml");  // add 1 + exp 7, one after another
  const Point unit = evaluate("configs/mappings/attention-fusemax.yaml", {},
                              {{"pe1d.ops.exp.function_unit", "exp"}, {"pe1d.ops.exp.latency_cycles", "6"}});
  const Point pipelined = evaluate("configs/mappings/attention-fusemax.yaml", {},
                                   {{"pe1d.ops.exp.function_unit", "exp"},
                                    {"pe1d.ops.exp.latency_cycles", "6"},
                                    {"pe1d.ops.exp.interval_cycles", "1"}});
  for (const Point* p : {&shared, &unit, &pipelined}) ASSERT_TRUE(p->stats.status.ok) << p->stats.status.reason;
  const int64_t points = shared.stats.einsums.at("RM").cycles;  // one max per point: one slot per point
  EXPECT_EQ(shared.stats.einsums.at("PRM").cycles, (1 + 7) * points);
  EXPECT_EQ(unit.stats.einsums.at("PRM").cycles, 6 * points);   // the exp unit, not pipelined, is the busiest
  EXPECT_EQ(pipelined.stats.einsums.at("PRM").cycles, points);  // one start per point on each function unit
  for (const Point* p : {&shared, &unit, &pipelined}) EXPECT_DOUBLE_EQ(p->stats.einsums.at("PRM").utilization, 1.0);
  EXPECT_EQ(prm(pipelined).result_latency, prm(shared).result_latency + 6 - 1);  // the exp pipeline drains
  EXPECT_EQ(prm(unit).result_latency, prm(shared).result_latency);
  EXPECT_EQ(pipelined.stats.energy_by_action_pJ.at("pe1d"), shared.stats.energy_by_action_pJ.at("pe1d"));
  EXPECT_LT(pipelined.stats.cycles, unit.stats.cycles);
  EXPECT_LT(unit.stats.cycles, shared.stats.cycles);
}

// A tensor loaded at a group's own loops serves every pass that reads it: the unfused softmax loads a query row's
// scores once for its max pass and its exponential pass, so the scores cross DRAM once each way (written by the
// QK GEMM, read by the softmax) and the probabilities too (written by the softmax, read by the AV GEMM).
TEST(Model, ATensorLoadedForAGroupServesAllItsPasses) {
  const Point p = evaluate("tests/data/unfused-softmax-row.yaml", {{"dtype", "bf16"}});
  ASSERT_TRUE(p.stats.status.ok) << p.stats.status.reason;
  const TileGroup* softmax = nullptr;
  for (const TileGroup& g : p.program.groups)
    if (g.name == "softmax") softmax = &g;
  ASSERT_NE(softmax, nullptr);
  int qk_loads = 0;
  for (const TileOp& op : softmax->ops) qk_loads += op.kind == TileOp::Kind::load && op.tensor == "QK";
  EXPECT_EQ(qk_loads, 1);
  int64_t qk_read = 0, a_written = 0;
  for (const TileOp& op : softmax->ops) {
    if (op.kind == TileOp::Kind::load && op.tensor == "QK") qk_read += op.bytes * softmax->executions(op);
    if (op.kind == TileOp::Kind::store && op.tensor == "A") a_written += op.bytes * softmax->executions(op);
  }
  const int64_t scores_bytes = p.cascade.tensor("QK").bytes();
  EXPECT_EQ(qk_read, scores_bytes);
  EXPECT_EQ(a_written, scores_bytes);
}

TEST(Model, TrafficIsChargedByDtypeWidth) {
  // The same GEMM with bf16, int8 and int4 operands: A and B move at 2, 1 and 1/2 bytes an element (int4
  // packed two to a byte); Z stays fp32.
  std::ifstream in("configs/workloads/gemm.yaml");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& [dtype, halves] :
       std::vector<std::pair<std::string, int64_t>>{{"bf16", 4}, {"int8", 2}, {"int4", 1}}) {
    std::string w = text;
    for (size_t at = 0; (at = w.find("dtype: bf16", at)) != std::string::npos; at += 7)
      w.replace(at, 11, "dtype: " + dtype);
    const std::string file = test::temp_file("gemm-" + dtype + ".yaml", w);
    DesignPoint p = load_design_point("configs/mappings/gemm-systolic-ws.yaml", {}, {}, "", file);
    const Stats s = evaluate_analytical(p.cascade, p.arch, p.program);
    ASSERT_TRUE(s.status.ok) << s.status.reason;
    EXPECT_EQ(s.traffic_bytes.at("dram").read, (256 * 64 + 64 * 512) * halves / 2) << dtype;
    EXPECT_EQ(s.traffic_bytes.at("dram").write, 256 * 512 * 4) << dtype;
  }
}

TEST(Model, InvariantsHoldOnEveryMapping) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator("configs/mappings")) {
    if (!entry.is_regular_file()) continue;
    for (const std::string seq : {"1024", "4096"}) {
      const std::string f = entry.path().string();
      const bool llm = f.find("/llm/") != std::string::npos;
      const bool attention = !llm && f.find("attention") != std::string::npos;
      const bool encoder = f.find("encoder") != std::string::npos;
      const std::vector<std::string> bert = {"configs/workloads/models/bert.yaml"};
      const bool moe = f.find("moe") != std::string::npos;
      const bool serving_ffn = f.find("serving-ffn") != std::string::npos;
      const bool cores = llm && f.find("-cores") != std::string::npos;  // the 132-core xPU's decode attention
      const bool prefill = f.find("/prefill-") != std::string::npos;  // a prompt of `seq` tokens
      // SpAtten's accelerator buffers a quarter of up to 4K tokens of its own GPT-2-like heads.
      const bool spatten = f.ends_with("decode-attention-spatten.yaml");
      const Point p =
          spatten ? evaluate(f, {{"L", seq == "1024" ? "1024" : "4096"}, {"KEEP", "L / 4"}})
          : cores ? evaluate(f, {{"L", seq}, {"S", f.find("split") != std::string::npos ? "L / M0" : "1"}})
          : llm && moe
              ? evaluate(f, {{"T", seq == "1024" ? "32" : "128"}}, {}, {"configs/workloads/models/mixtral-8x7b.yaml"})
          : llm && prefill ? evaluate(f, {{"P", seq}}, {}, {"configs/workloads/models/llama3-70b.yaml"})
          : llm && f.find("attention") != std::string::npos
              ? evaluate(f, {{"L", seq}}, {}, {"configs/workloads/models/llama3-70b.yaml"})
          : serving_ffn ? evaluate(f, {{"B", "32"}, {"P", seq}}, {}, {"configs/workloads/models/llama3-70b.yaml"})
          : llm ? evaluate(f, {{"N", seq == "1024" ? "32" : "128"}}, {}, {"configs/workloads/models/llama3-70b.yaml"})
          // At 2-byte scores, as the FuseMax study runs them (FLAT's blocks of rows are sized for them).
          : attention ? evaluate(f, {{"M", seq}, {"P", seq}, {"dtype", "bf16"}}, {}, bert)
          : encoder   ? evaluate(f, {{"P", seq}}, {}, bert)
                      : evaluate(f);
      ASSERT_TRUE(p.stats.status.ok) << f << " at " << seq << ": " << p.stats.status.reason;
      const Stats& s = p.stats;
      EXPECT_GE(s.cycles, std::max(s.roofline_compute_cycles, s.roofline_memory_cycles)) << f;
      // The mapper's bound on a binding (its spatial maps' fill): no mapping of it is faster.
      EXPECT_GE(s.cycles, compute_floor(p.cascade, p.arch, p.mapping, 0, p.mapping.groups.size())) << f;
      EXPECT_GE(s.energy_pJ, energy_floor(p.cascade, p.arch, p.mapping, 0, p.mapping.groups.size())) << f;
      const Analysis a = analyze(p.cascade);
      EXPECT_GE(dram_bytes(s), a.compulsory_bytes) << f;
      OpCounts ops;
      for (const auto& [name, e] : s.einsums)
        for (const auto& [kind, n] : e.ops) ops[kind] += n;
      EXPECT_EQ(ops, a.ops) << f;
      for (const auto& [unit, u] : s.utilization) {
        const bool bound =
            std::any_of(s.einsums.begin(), s.einsums.end(), [&](const auto& e) { return e.second.unit == unit; });
        EXPECT_EQ(u > 0, bound) << f << " " << unit;  // busy exactly when something runs on it
        EXPECT_LE(u, 1) << f << " " << unit;
      }
    }
  }
}

TEST(Model, FuseMaxStudyCoversEveryModelFrom1KTo1M) {
  for (const std::string config : {"unfused", "flat", "flat-spilled", "cascade", "architecture", "fusemax"})
    for (const std::string model : {"bert", "trxl", "t5", "xlm"})
      for (const std::string seq : {"1024", "4096", "16384", "65536", "262144", "1048576"}) {
        // As configs/sweeps/fusemax.yaml runs them: 2-byte tensors, FLAT on chip up to 64K, spilled beyond.
        if (config == "flat" && seq.size() > 5) continue;
        const Point p = evaluate("configs/mappings/attention-" + config + ".yaml",
                                 {{"M", seq}, {"P", seq}, {"B", "64"}, {"dtype", "bf16"}}, {},
                                 {"configs/workloads/models/" + model + ".yaml"});
        EXPECT_TRUE(p.stats.status.ok) << config << " " << model << " " << seq << ": " << p.stats.status.reason;
        EXPECT_GE(p.stats.cycles, std::max(p.stats.roofline_compute_cycles, p.stats.roofline_memory_cycles));
        EXPECT_GE(p.stats.cycles, compute_floor(p.cascade, p.arch, p.mapping, 0, p.mapping.groups.size()));
        EXPECT_GE(p.stats.energy_pJ, energy_floor(p.cascade, p.arch, p.mapping, 0, p.mapping.groups.size()));
      }
}

TEST(Model, PerTensorDoubleBuffering) {
  const std::string table = std::filesystem::absolute("configs").string();
  auto buffer_bytes = [&](const std::string& tensors) {
    const std::string f =
        test::temp_file("m.yaml", "version: 1\nname: m\narch: " + table + "/arch/systolic.yaml\nworkload: " + table +
                                      "/workloads/gemm.yaml\ngroups:\n  - name: g\n" + tensors +
                                      "    einsums:\n      Z: {unit: array, spatial: {rows: k, cols: n}}\n");
    const MappingSpec m = load_mapping(f);
    return lower(load_cascade(m.workload), load_arch(m.arch), m).groups.at(0).buffer_bytes;
  };
  // gemm defaults: A 256x64, B 64x512 bf16 loaded whole (double-buffered), Z 256x512 fp32.
  const int64_t a = 256 * 64 * 2, b = 64 * 512 * 2, z = 256 * 512 * 4;
  EXPECT_EQ(buffer_bytes(""), 2 * a + 2 * b + z);
  EXPECT_EQ(buffer_bytes("    tensors: {B: {double_buffer: false}}\n"), 2 * a + b + z);
  EXPECT_EQ(buffer_bytes("    tensors: {B: {buffer_stages: 3}}\n"), 2 * a + 3 * b + z);
  EXPECT_EQ(buffer_bytes("    buffer_stages: 3\n"), 3 * a + 3 * b + z);
  EXPECT_EQ(buffer_bytes("    double_buffer: false\n"), a + b + z);
}

// `buffer_stages: fit`: the most stages, up to 4, that the group's tiles fit. The gemm's defaults loaded whole, A
// (32 KiB) and B (64 KiB) staged, Z (512 KiB) computed in the buffer: 4 stages need 896 KiB, 3 800, 2 704, 1 608.
TEST(Model, BufferStagesFitTakeTheMostThatFit) {
  const std::string table = std::filesystem::absolute("configs").string();
  const MappingSpec m = load_mapping(
      test::temp_file("fit.yaml", "version: 1\nname: m\narch: " + table + "/arch/systolic.yaml\nworkload: " + table +
                                      "/workloads/gemm.yaml\ngroups:\n  - name: g\n    buffer_stages: fit\n"
                                      "    einsums:\n      Z: {unit: array, spatial: {rows: k, cols: n}}\n"));
  ASSERT_TRUE(m.groups.at(0).stages_fit);
  const Cascade cascade = load_cascade(m.workload);
  for (const auto& [kib, stages] : std::vector<std::pair<int, int>>{
           {1024, 4}, {896, 4}, {895, 3}, {800, 3}, {799, 2}, {704, 2}, {703, 1}, {608, 1}, {607, 0}}) {
    const TileProgram p = lower(cascade, load_arch(m.arch, {{"glb.size", std::to_string(kib) + " KiB"}}), m);
    if (stages == 0) {
      EXPECT_FALSE(p.status.ok) << kib;
      EXPECT_TRUE(p.buffer_too_small) << kib;
      continue;
    }
    ASSERT_TRUE(p.status.ok) << kib << ": " << p.status.reason;
    EXPECT_EQ(p.groups.at(0).buffer_stages, stages) << kib;
    EXPECT_EQ(p.groups.at(0).double_buffer, stages > 1) << kib;
    EXPECT_EQ(p.groups.at(0).buffer_bytes, stages * (32 + 64) * 1024 + 512 * 1024) << kib;
  }
  // Written out, a mapping says `fit` as it was given.
  EXPECT_NE(mapping_yaml(m, "fit.yaml").find("buffer_stages: fit"), std::string::npos);
}

TEST(ModelTiming, MoreBufferStagesHideMoreLatency) {
  // tests/data/gemm-dma.yaml at M = 320 (10 tiles of 128 cycles, R = 201 and S = 128 as in
  // PrefetchDistanceExposesTheLatency): with k stages the tiles after the first take (R + S) / k each, or
  // their own 128 cycles once that is less. Three stages: 329 / 3 = 109.7 < 128, so the latency is hidden.
  const std::vector<std::pair<std::string, std::string>> params = {{"M", "320"}, {"N", "32"}, {"K", "32"}};
  const int64_t head = 64 + 100, tail = 5 + 64 + 100;
  EXPECT_EQ(evaluate("tests/data/gemm-dma.yaml", params).stats.cycles,
            head + static_cast<int64_t>(std::ceil(128 + 9 * 329.0 / 2)) + tail);
  EXPECT_EQ(evaluate("tests/data/gemm-dma-3.yaml", params).stats.cycles, head + 10 * 128 + tail);
}

TEST(Model, CausalPrefillSkipsTheTilesNoQuerySees) {
  // FuseMax's mapping, P blocks of 8,192 queries, tiles of 256 x 256 (m0 x p) on the 2D array.
  const Point full = evaluate("configs/mappings/attention-fusemax.yaml", {{"M", "16384"}, {"P", "16384"}});
  const Point causal = evaluate("configs/mappings/attention-causal-fusemax.yaml", {{"P", "16384"}});
  ASSERT_TRUE(causal.stats.status.ok) << causal.stats.status.reason;
  // Operations: exactly the visible pairs, as `check` counts them.
  const Analysis a = analyze(causal.cascade);
  for (const EinsumAnalysis& e : a.einsums)
    if (!e.ops.empty()) {
      EXPECT_EQ(causal.stats.einsums.at(e.name).ops, e.ops) << e.name;
    }
  constexpr int64_t H = 2, E = 64, P = 16384, T = P / 256;
  EXPECT_EQ(causal.stats.einsums.at("BQK").ops.at("mac"), H * E * P * (P + 1) / 2);
  // Time: the tiles with a visible key, T(T+1)/2 of T^2 per head, each its full E = 64 cycles on the array.
  EXPECT_EQ(full.stats.einsums.at("BQK").cycles, H * T * T * E);
  EXPECT_EQ(causal.stats.einsums.at("BQK").cycles, H * T * (T + 1) / 2 * E);
  // Traffic: the first block of queries sees only the first half of K and V, which it then does not load.
  constexpr int64_t q = H * E * P * 2, kv = 2 * H * E * P * 2;  // bf16 Q, and K with V
  EXPECT_EQ(full.stats.traffic_bytes.at("dram").read, q + 2 * kv);
  EXPECT_EQ(causal.stats.traffic_bytes.at("dram").read, q + kv / 2 + kv);
  EXPECT_LT(causal.stats.cycles, full.stats.cycles * 53 / 100);
}

TEST(Model, ARecurrencesStepsWaitForTheLast) {
  // 64 channels x 16 states: 1,024 points a step, one cycle's issue on 16,896 lanes; but H = DA * H + DBX
  // multiplies, then adds, the state the last step wrote (1 cycle each on the xPU's lanes): 2 cycles a step.
  const Point p = evaluate("configs/mappings/ssm/mamba-scan-xpu.yaml", {{"D", "64"}});
  ASSERT_TRUE(p.stats.status.ok) << p.stats.status.reason;
  EXPECT_EQ(p.stats.einsums.at("H").cycles, 1024 * 2);
  EXPECT_EQ(p.stats.einsums.at("YS").cycles, 1024);  // not a recurrence: one MAC a point, a cycle a step
  // With 1,536 channels a step's 24,576 points take 2 cycles to issue, which hides the same latency.
  const Point wide = evaluate("configs/mappings/ssm/mamba-scan-xpu.yaml");
  EXPECT_EQ(wide.stats.einsums.at("H").cycles, 3 * 1024 * 2);  // 3 blocks of 512 channels
}

TEST(Model, InfeasiblePointsSayWhy) {
  Point p =
      evaluate("configs/mappings/attention-fusemax.yaml", {{"M", "1024"}, {"P", "1024"}}, {{"glb.size", "64 KiB"}});
  EXPECT_FALSE(p.stats.status.ok);
  EXPECT_NE(p.stats.status.reason.find("glb needs"), std::string::npos) << p.stats.status.reason;
  EXPECT_NE(p.stats.status.reason.find("it has 64 KiB"), std::string::npos) << p.stats.status.reason;
  p = evaluate("tests/data/gemm-ragged.yaml", {{"N", "1000"}}, {{"glb.size", "64 KiB"}});
  EXPECT_EQ(p.stats.status.reason,
            "glb needs 86.5 KiB for the tiles of group 'gemm' (largest: Z (37.5 KiB), A (25 KiB), B (24 KiB); tiles "
            "n=96 m=100 n=32 k=32); it has 64 KiB");
  // FLAT's 2D PEs only multiply-accumulate: FuseMax's binding does not fit them.
  const MappingSpec m = load_mapping("configs/mappings/attention-fusemax.yaml");
  const Cascade c = load_cascade(m.workload);
  const ArchSpec flat = load_arch("configs/arch/flat.yaml");
  EXPECT_EQ(lower(c, flat, m).status.reason, "pe2d cannot do max (Einsum LM is bound to it)");
}

// Legality: a mapping whose loop order reads a tensor before its writer has finished it is refused, with the
// reason. Every file of the corpus is here, each with the reason it prints.
TEST(Model, IllegalMappingsSayWhy) {
  const std::map<std::string, std::string> expected = {
      {"attention-3pass-one-pass.yaml",
       "illegal: Einsum SN reads GM before Einsum GM has finished reducing it over m: one loop over m (4 iterations) "
       "runs both, so it would read partial results (give them separate passes over m)"},
      {"row-sum-in-its-loop.yaml",
       "illegal: Einsum AV reads D before Einsum D has finished reducing it over m: one loop over m (4 iterations) "
       "runs both, so it would read partial results (give them separate passes over m)"},
      {"row-scale-in-its-loop.yaml",
       "illegal: Einsum Y reads MS, which needs SS, before Einsum SS has finished reducing it over d: one loop over "
       "d (4 iterations) runs both, so it would read partial results (give them separate passes over d)"},
      {"recurrence-steps-over-lanes.yaml",
       "illegal: Einsum RM spreads 4 steps of its recurrence along m1 over pe1d's lanes, but each step needs the "
       "one before"},
      {"mamba-scan-over-lanes.yaml",
       "illegal: Einsum H spreads 32 steps of its recurrence along t over cuda's lanes, but each step needs the one "
       "before"},
      {"mamba-chunked-steps-over-lanes.yaml",
       "illegal: Einsum HL spreads 16 steps of its recurrence along t0 over cuda's lanes, but each step needs the "
       "one before"},
      {"recurrence-steps-per-tile.yaml",
       "illegal: Einsum SPD reads RD of an earlier step along m1 that Einsum RD writes after it in each step, but "
       "each execution runs 2 steps of SPD at once (walk m1 one step at a time)"},
  };
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator("tests/data/illegal")) {
    const std::string name = entry.path().filename().string();
    ++files;
    const auto want = expected.find(name);
    ASSERT_NE(want, expected.end()) << name << " has no expected reason here";
    const TileProgram program = test::point(entry.path().string()).program;
    EXPECT_FALSE(program.status.ok) << name;
    EXPECT_EQ(program.status.reason, want->second) << name;
  }
  EXPECT_EQ(files, expected.size());
}

// A scan written as chunks (the two-level scan) may spread its chunks over lanes, each chunk's steps walking,
// and is charged the work the chunked algorithm adds: PA and H's multiplies and adds, HC per chunk.
TEST(Model, AChunkedScanSpreadsItsChunks) {
  const Point chunked = evaluate("tests/data/mamba-scan-chunked-xpu.yaml");
  ASSERT_TRUE(chunked.program.status.ok) << chunked.program.status.reason;
  const Point recurrent = evaluate("configs/mappings/ssm/mamba-scan-xpu.yaml");
  ASSERT_TRUE(recurrent.program.status.ok);
  const Stats &a = chunked.stats, &b = recurrent.stats;
  auto total = [](const Stats& s, const std::string& kind) {
    int64_t n = 0;
    for (const auto& [name, e] : s.einsums)
      if (const auto it = e.ops.find(kind); it != e.ops.end()) n += static_cast<int64_t>(it->second);
    return n;
  };
  constexpr int64_t steps = 1024LL * 1536 * 16, chunks = 16LL * 1536 * 16;  // (t, d, n) and (c, d, n) points
  EXPECT_EQ(total(a, "mul") - total(b, "mul"), 2 * steps + chunks);
  EXPECT_EQ(total(a, "add") - total(b, "add"), steps + chunks);
  EXPECT_EQ(total(a, "exp"), total(b, "exp"));
}

// A tensor written in parts is stored part by part, each part loading only what it reads, and read whole by a
// later group; a group that writes one part cannot read it while another group writes the rest.
TEST(Model, AConcatenationMovesEachPartOnce) {
  const Point p = evaluate("tests/data/concat-xpu.yaml");
  ASSERT_TRUE(p.program.status.ok) << p.program.status.reason;
  constexpr int64_t A = 2 * 384 * 256 * 4, X = 2 * 128 * 256 * 4, Y = 2 * 512 * 256 * 4;
  EXPECT_EQ(p.stats.traffic_bytes.at("dram").read, A + X + Y);
  EXPECT_EQ(p.stats.traffic_bytes.at("dram").write, Y + Y);  // Y, then Z (its shape)
  const std::string split = test::temp_file(
      "concat-split.yaml",
      "version: 1\nname: concat-split\narch: " + std::filesystem::absolute("configs/arch/xpu-h100.yaml").string() +
          "\nworkload: " + std::filesystem::absolute("tests/data/concat.yaml").string() +
          "\ngroups:\n  - name: first\n    einsums:\n      Y.1: {unit: cuda, spatial: {lanes: d}}\n"
          "  - name: rest\n    einsums:\n      Y.2: {unit: cuda, spatial: {lanes: d}}\n"
          "      Z: {unit: cuda, spatial: {lanes: d}}\n");
  try {
    (void)test::point(split);
    ADD_FAILURE() << "a group reading a tensor while another group writes a part of it was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("reads 'Y' in a group that writes a part of it"), std::string::npos)
        << e.what();
  }
}

// What stays legal: separate passes over the reduced index (FLAT's three), a recurrence read at the step just
// written (FuseMax's SLN reads RM[m1+1] in step m1), and the same fusion with a loop whose one iteration
// covers the reduced index. The corpus's fixes are legal; a loop over the reduced index around both passes is not.
TEST(Model, LegalityFollowsPassesAndLoops) {
  EXPECT_TRUE(test::point("configs/mappings/attention-flat.yaml").program.status.ok);
  EXPECT_TRUE(test::point("configs/mappings/attention-fusemax.yaml").program.status.ok);
  // The one-pass softmax is legal when one tile of m covers the whole sequence.
  EXPECT_TRUE(test::point("tests/data/illegal/attention-3pass-one-pass.yaml", {{"M", "256"}}).program.status.ok);
  const std::string head =
      "version: 1\nname: row-scale-passes\narch: " + std::filesystem::absolute("configs/arch/fusemax.yaml").string() +
      "\nworkload: " + std::filesystem::absolute("tests/data/row-scale.yaml").string() +
      "\ngroups:\n  - name: row-scale\n";
  const std::string sum =
      "        einsums:\n          SS: {unit: pe1d, spatial: {lanes: n}}\n"
      "          MS: {unit: pe1d, spatial: {lanes: n}}\n";
  const std::string scale = "        einsums:\n          Y: {unit: pe1d, spatial: {lanes: [n, d]}}\n";
  // Two passes, each with its own loop over d: legal.
  const std::string two_passes = head +
                                 "    loops: {dram: [{index: n, tile: 16}]}\n    passes:\n"
                                 "      - loops: {dram: [{index: d, tile: 64}]}\n" +
                                 sum + "      - loops: {dram: [{index: d, tile: 64}]}\n" + scale;
  EXPECT_TRUE(test::point(test::temp_file("two-passes.yaml", two_passes)).program.status.ok);
  // The same passes inside one loop over d: every pass still sees a partial sum.
  const std::string around = head +
                             "    loops: {dram: [{index: n, tile: 16}, {index: d, tile: 64}]}\n"
                             "    passes:\n      - loops: {}\n" +
                             sum + "      - loops: {}\n" + scale;
  EXPECT_EQ(test::point(test::temp_file("around.yaml", around)).program.status.reason,
            "illegal: Einsum Y reads MS, which needs SS, before Einsum SS has finished reducing it over d: one loop "
            "over d (4 iterations) runs both, so it would read partial results (give them separate passes over d)");
  // Reading what a later pass writes.
  const std::string reversed = head +
                               "    loops: {dram: [{index: n, tile: 16}]}\n    passes:\n"
                               "      - loops: {dram: [{index: d, tile: 64}]}\n" +
                               scale + "      - loops: {dram: [{index: d, tile: 64}]}\n" + sum;
  EXPECT_EQ(test::point(test::temp_file("reversed.yaml", reversed)).program.status.reason,
            "illegal: Einsum Y (pass 1) reads MS, which Einsum MS writes in a later pass (2)");
  // A recurrence's last element read inside the loop over its steps; with no loop over them, it is complete.
  const std::string running = test::temp_file("running-sum.yaml",
                                              "version: 1\nname: running-sum\nparams: {N: 8, T: 16}\n"
                                              "tensors:\n  X: {ranks: [N, T]}\n  Y: {ranks: [N, T], output: true}\n"
                                              "einsums:\n  - R[n,t+1] = R[n,t] + X[n,t]\n"
                                              "  - Y[n,t] = X[n,t] / R[n,T]\ninit: {R: 0}\n");
  auto running_mapping = [&](const std::string& loops) {
    return test::temp_file(
        "running-sum-mapping.yaml",
        "version: 1\nname: running-sum\narch: " + std::filesystem::absolute("configs/arch/fusemax.yaml").string() +
            "\nworkload: " + running + "\ngroups:\n  - name: g\n    loops: {dram: " + loops +
            "}\n    einsums:\n      R: {unit: pe1d, spatial: {lanes: n}}\n"
            "      Y: {unit: pe1d, spatial: {lanes: n}}\n");
  };
  EXPECT_EQ(test::point(running_mapping("[n, {index: t, tile: 4}]")).program.status.reason,
            "illegal: Einsum Y reads R before Einsum R has finished its recurrence along t: one loop over t (4 "
            "iterations) runs both, so it would read partial results (give them separate passes over t)");
  EXPECT_TRUE(test::point(running_mapping("[n]")).program.status.ok);
  // FuseMax with a loop over m0 inside m1: LM's max over m0 is unfinished when SLN reads RM, which needs it.
  const MappingSpec fusemax = load_mapping("configs/mappings/attention-fusemax.yaml");
  MappingSpec m0 = fusemax;
  m0.groups[0].loops.push_back(LoopSpec{"m0", "64", true, {}, {}});
  const Cascade c = load_cascade(fusemax.workload);
  const ArchSpec arch = load_arch(fusemax.arch);
  EXPECT_EQ(lower(c, arch, m0).status.reason,
            "illegal: Einsum SLN reads RM, which needs LM, before Einsum LM has finished reducing it over m0: one "
            "loop over m0 (4 iterations) runs both, so it would read partial results (give them separate passes "
            "over m0)");
}

}  // namespace
}  // namespace einsim

namespace einsim {
namespace {

// SpAtten's token pruning (configs/mappings/llm/decode-attention-pruned.yaml): what is pruned is not counted.
// Keeping a quarter of the tokens instead of all of them (a topk that keeps everything only reorders) leaves a
// quarter of the scores, of the weighted values, and of the K and V bytes loaded, exactly; the topk ranks every
// token either way, and its time is charged.
TEST(Pruning, WorkAndTrafficScaleWithTheTokensKept) {
  auto at = [](const std::string& keep) {
    return test::point("configs/mappings/llm/decode-attention-pruned.yaml", {{"L", "4096"}, {"KEEP", keep}});
  };
  const DesignPoint all = at("L"), quarter = at("L / 4");
  auto loaded = [](const DesignPoint& p, const std::string& tensor) { return test::loaded_bytes(p.program)[tensor]; };
  const DesignPoint half_heads = test::point("configs/mappings/llm/decode-attention-pruned.yaml",
                                             {{"L", "4096"}, {"KEEP", "L / 4"}, {"HKEEP", "H / 2"}});
  for (const std::string tensor : {"KC", "VC"}) {
    EXPECT_EQ(loaded(all, tensor), 32 * 4096 * 128 * 2) << tensor;  // every row, once
    EXPECT_EQ(loaded(quarter, tensor) * 4, loaded(all, tensor)) << tensor;
    EXPECT_EQ(loaded(half_heads, tensor) * 2, loaded(quarter, tensor)) << tensor;  // and half the heads
  }
  const Stats s_all = evaluate_analytical(all.cascade, all.arch, all.program);
  const Stats s_quarter = evaluate_analytical(quarter.cascade, quarter.arch, quarter.program);
  for (const std::string e : {"QK", "SNV"})
    EXPECT_EQ(s_quarter.einsums.at(e).ops.at("mac") * 4, s_all.einsums.at(e).ops.at("mac")) << e;
  EXPECT_EQ(s_quarter.einsums.at("IDX").ops.at("topk"), 4096);
  EXPECT_EQ(s_all.einsums.at("IDX").ops.at("topk"), 4096);
  EXPECT_GT(s_quarter.einsums.at("IDX").cycles, 0);
  EXPECT_LT(s_quarter.cycles, s_all.cycles);
}

}  // namespace
}  // namespace einsim

namespace einsim {
namespace {

// SpAtten's cascade pruning over two layers (configs/mappings/llm/decode-attention-pruned-layers.yaml): layer 2
// ranks only the KEEP tokens and HKEEP heads layer 1 kept, and reads only the KEEP2 rows of its HKEEP2 heads.
TEST(Pruning, ASecondLayerRanksAndReadsOnlyWhatTheFirstKept) {
  const DesignPoint p = test::point("configs/mappings/llm/decode-attention-pruned-layers.yaml",
                                    {{"L", "2048"}, {"KEEP", "L / 2"}, {"KEEP2", "KEEP / 4"}, {"HKEEP2", "H / 2"}});
  ASSERT_TRUE(p.program.status.ok) << p.program.status.reason;
  std::map<std::string, int64_t> loaded = test::loaded_bytes(p.program);
  EXPECT_EQ(loaded["KC1"], 12 * 1024 * 64 * 2);  // 12 heads x 1,024 tokens x 64 x bf16
  EXPECT_EQ(loaded["KC2"], 6 * 256 * 64 * 2);    // 6 heads x 256 tokens
  const Stats s = evaluate_analytical(p.cascade, p.arch, p.program);
  EXPECT_EQ(s.einsums.at("IDX").ops.at("topk"), 2048);
  EXPECT_EQ(s.einsums.at("T2").ops.at("topk"), 1024);
  EXPECT_EQ(s.einsums.at("J2").ops.at("topk"), 12);
  EXPECT_EQ(s.einsums.at("QK2").ops.at("mac"), 6 * 256 * 64);
}

// A topk bound to a top-k engine (kind topk_engine) streams the scores at the engine's throughput and its result
// trails them by the engine's latency: 4,096 scores at 16 a cycle are 256 busy cycles, 8 more to the result.
TEST(Pruning, TheTopkEngineStreamsScoresAtItsThroughput) {
  std::string arch;
  {
    std::ifstream in("configs/arch/xpu-h100.yaml");
    std::stringstream text;
    text << in.rdbuf();
    arch = text.str();
  }
  arch.replace(arch.find("energy_table: ../energy/"), 24,
               "energy_table: " + std::filesystem::absolute("configs/energy").string() + "/");
  arch += "  ranker:\n    kind: topk_engine\n    throughput: 16\n    latency_cycles: 8\n    energy: fp32_compare\n";
  const std::string arch_file = test::temp_file("xpu-topk.yaml", arch);
  const DesignPoint p = test::point("configs/mappings/llm/decode-attention-pruned.yaml", {}, {}, {}, arch_file);
  // Bind IDX to the engine: the mapping's spatial ranks do not apply to it.
  MappingSpec m = p.mapping;
  m.groups[0].passes[0].einsums[0].second.unit = "ranker";
  const TileProgram program = lower(p.cascade, p.arch, m);
  ASSERT_TRUE(program.status.ok) << program.status.reason;
  const auto& ops = program.groups[0].ops;
  const auto it =
      std::find_if(ops.begin(), ops.end(), [](const TileOp& op) { return op.kind == TileOp::Kind::compute; });
  ASSERT_NE(it, ops.end());
  const TileOp& idx = *it;
  EXPECT_EQ(idx.unit, "ranker");
  EXPECT_EQ(idx.cycles, 4096 / 16);
  EXPECT_EQ(idx.result_latency, 8);
  EXPECT_EQ(idx.ops.at("topk"), 4096);
  const Stats s = evaluate_analytical(p.cascade, p.arch, program);
  EXPECT_EQ(s.busy_cycles.at("ranker"), 256);
  EXPECT_DOUBLE_EQ(s.energy_by_action_pJ.at("ranker").at("topk"), 4096 * 0.1);  // fp32_compare: 0.1 pJ
  // A topk selects all its kept entries at once: a loop over them is refused.
  MappingSpec tiled = m;
  LoopSpec over_k;
  over_k.index = "k";
  over_k.tile = "1";
  tiled.groups[0].loops.push_back(over_k);
  const TileProgram refused = lower(p.cascade, p.arch, tiled);
  EXPECT_FALSE(refused.status.ok);
  EXPECT_NE(refused.status.reason.find("Einsum IDX selects all 1024 of its kept entries at once: do not tile k"),
            std::string::npos)
      << refused.status.reason;
}

// A loop in the backing memory outside a result's loops, over an index its Einsum sums over: the result is stored
// at every iteration of it and its partial sums loaded back at every one after the first (tests/data/
// gemm-partial-sums.yaml: k's 8 blocks outside 4 x 4 tiles of Z of 16 x 16 fp32, 1 KiB). Z is written 8 times
// (128 KiB) and read 7 (112 KiB) besides A's 32 and B's 128 tiles of 1 KiB; the array waits for each reload. With
// the loop over k inside, Z is written once and never read (and A comes again for every tile of n). A result
// bypassing the buffer cannot do this.
// FuseMax's cascade fused whole with the loop over f inside the keys' blocks m1
// (tests/data/attention-1pass-f-inside.yaml: kh, e, m0, p, m1, f). AV = RNV / RD runs once the running numerator's last
// block of keys is in: at the last m1, once per (kh, p, f). Its store sits below f, under m1, but AV's tile does not
// change with m1: it is stored once, after AV runs, not at every block of keys (which wrote it four times, three of
// them before it was computed).
TEST(Model, AResultIsStoredOnceAfterTheLoopsOverOtherIndices) {
  const Point p = evaluate("tests/data/attention-1pass-f-inside.yaml");
  ASSERT_TRUE(p.stats.status.ok) << p.stats.status.reason;
  const TileGroup& g = p.program.groups[0];
  auto op = [&](TileOp::Kind kind, const std::string& einsum) {
    return std::find_if(g.ops.begin(), g.ops.end(),
                        [&](const TileOp& o) { return o.kind == kind && p.cascade.einsums[o.einsum].name == einsum; });
  };
  const auto av = op(TileOp::Kind::compute, "AV"), store = op(TileOp::Kind::store, "AV");
  ASSERT_NE(av, g.ops.end());
  ASSERT_NE(store, g.ops.end());
  EXPECT_EQ(g.loops[4].index, "m1");
  EXPECT_EQ(g.executions(*av), 2 * 2 * 2);  // kh, p, f
  EXPECT_EQ(g.executions(*store), 2 * 2 * 2);
  for (const TileOp* o : {&*av, &*store})  // neither repeats over m1
    EXPECT_EQ(std::find(o->repeats.begin(), o->repeats.end(), 4), o->repeats.end());
  const std::vector<std::pair<int, bool>> rule = g.fire_rule(*store, p.cascade);
  EXPECT_NE(std::find(rule.begin(), rule.end(), std::pair<int, bool>{4, true}), rule.end());  // at the last m1
  EXPECT_EQ(p.stats.traffic_bytes.at("dram").write, 2 * 1024 * 64 * 2);                       // H x P x F, bf16: once
}

TEST(Model, PartialSumsThroughTheBackingMemoryAreLoadedBack) {
  const DesignPoint p = test::point("tests/data/gemm-partial-sums.yaml");
  ASSERT_TRUE(p.program.status.ok) << p.program.status.reason;
  const Stats s = evaluate_analytical(p.cascade, p.arch, p.program);
  EXPECT_EQ(s.traffic_bytes.at("dram").write, 8 * 16 * 1024);
  EXPECT_EQ(s.traffic_bytes.at("dram").read, (32 + 128) * 1024 + 7 * 16 * 1024);
  EXPECT_EQ(s.cycles, 12954);
  const TileGroup& g = p.program.groups[0];
  const auto reload = std::find_if(g.ops.begin(), g.ops.end(),
                                   [](const TileOp& op) { return op.kind == TileOp::Kind::load && op.tensor == "Z"; });
  ASSERT_NE(reload, g.ops.end());
  EXPECT_EQ(g.executions(*reload), 7 * 16);
  EXPECT_EQ(reload->partial_sum_loops, (std::vector<int>{0}));

  const std::string root = std::filesystem::current_path().string();
  auto gemm = [&](const std::string& loops, const std::string& more) {
    return test::point(test::temp_file(
        "partial-sums.yaml", "version: 1\nname: m\narch: " + root + "/configs/arch/systolic.yaml\nworkload: " + root +
                                 "/configs/workloads/gemm.yaml\nparams: {M: 64, N: 64, K: 256}\n"
                                 "groups:\n  - name: z\n    loops: {dram: " +
                                 loops + "}\n" + more +
                                 "    einsums: {Z: {unit: array, spatial: {rows: k, cols: n}}}\n"));
  };
  const DesignPoint inside = gemm("[{index: m, tile: 16}, {index: n, tile: 16}, {index: k, tile: 32}]", "");
  const Stats t = evaluate_analytical(inside.cascade, inside.arch, inside.program);
  EXPECT_EQ(t.traffic_bytes.at("dram").write, 16 * 1024);
  EXPECT_EQ(t.traffic_bytes.at("dram").read, (128 + 128) * 1024);  // A again for every tile of n
  const DesignPoint bypassing =
      gemm("[{index: k, tile: 32}, {index: m, tile: 16}, {index: n, tile: 16}]", "    tensors: {Z: {bypass: true}}\n");
  EXPECT_FALSE(bypassing.program.status.ok);
  EXPECT_NE(
      bypassing.program.status.reason.find(
          "its partial sums would go through 'dram' and back: not modelled for a result that bypasses the buffer"),
      std::string::npos)
      << bypassing.program.status.reason;
}

}  // namespace
}  // namespace einsim
