// The SystemC engine. Each test simulates once and ctest runs each in its own process (SystemC elaborates once
// per process), so this executable has its own sc_main.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <regex>
#include <vector>
#include <algorithm>
#include <systemc>

#include "arch/kinds/dram/dram.hpp"
#include "mappings/lower.hpp"
#include "sim/analytical.hpp"
#include "sim/cycle/engine.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

using test::point;

TEST(Cycle, SmallGemmExactCycles) {
  // One 32x32x32 tile on the systolic config (64 GiB/s at 1 GHz = 68.72 bytes per cycle, DRAM latency 100;
  // a 1 MiB buffer of 8 banks x 64-bit rows = 64 bytes per cycle per port). A transfer takes the longer of
  // the DRAM's and the buffer port's time:
  // load A 2,048 B: max(30, 32) = 32 cycles; load B: 32 more, arriving at 64 + 100 = 164;
  // Z computes in 32 cycles (M streams through) but moves A, B (2,048 B each) and Z (4,096 B fp32) through the
  // buffer in 8,192 / 64 = 128 cycles: done at 292, 96 cycles waiting on buffer bandwidth;
  // Z reduces k over the 32 rows through an adder tree: its result is ready log2(32) = 5 cycles later, at 297;
  // store Z 4,096 B: max(60, 64) = 64 cycles, written at 361 + 100 = 461.
  const DesignPoint p = point("configs/mappings/gemm-systolic-ws.yaml", {{"M", "32"}, {"N", "32"}, {"K", "32"}});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  EXPECT_EQ(s.fidelity, Fidelity::cycle);
  EXPECT_EQ(s.cycles, 461);
  EXPECT_EQ(s.busy_cycles.at("array"), 32);
  EXPECT_EQ(s.stall_cycles.at("array").at("data"), 164);
  EXPECT_EQ(s.stall_cycles.at("array").at("buffer_bandwidth"), 96);
  EXPECT_EQ(*s.buffer_conflict_cycles, 0);
}

// tests/data/split-scale.yaml: Y = XB * W, where XB = X renames X's rows into four blocks of 256 and computes
// nothing: Y reads X's loaded tiles through it. Each block of X (32 KiB, 72 cycles on the DRAM) arrives 100 cycles
// of latency after its transfer: at 172, 245, 317, 389 (W's row, 1 cycle, goes between the first two). Y waits for
// each, its 64 cycles each fitting between the arrivals; the four blocks' stores then take the DRAM in turn. Until
// a computation waited for what it reads through a split, Y ran its blocks back to back from 173 on, the third and
// fourth before their data had arrived.
TEST(Cycle, AComputationWaitsForWhatItReadsThroughASplit) {
  const DesignPoint p = point("tests/data/split-scale.yaml");
  CycleOptions o;
  o.exact = true;
  o.trace_file = test::temp_file("split-scale.trace.json", "");
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program, o);
  EXPECT_EQ(s.cycles, 676);
  std::ifstream in(o.trace_file);
  const std::string trace((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::regex y(R"re("name": "Y", "pid": 1, "tid": [0-9]+, "ts": ([0-9]+))re");
  std::vector<int64_t> starts;
  for (auto it = std::sregex_iterator(trace.begin(), trace.end(), y); it != std::sregex_iterator(); ++it)
    starts.push_back(std::stoll((*it)[1].str()));
  std::sort(starts.begin(), starts.end());
  EXPECT_EQ(starts, (std::vector<int64_t>{173, 245, 317, 389}));
}

// tests/data/gemm-dma.yaml: M = 96 in three M tiles of 32 (N = K = 32); per tile load A (2,048 B, 32 cycles),
// compute Z (128 cycles of buffer streaming, result 5 cycles later), store Z (4,096 B, 64 cycles); B loads once.
// DRAM latency 100. The engines take requests strictly in order (dma_order: in_order).
DesignPoint dma_point(int engines) {
  return point("tests/data/gemm-dma.yaml", {{"M", "96"}, {"N", "32"}, {"K", "32"}}, {},
               {{"dram.dma_engines", std::to_string(engines)}, {"dram.dma_order", "in_order"}});
}

TEST(Cycle, OneDmaEngineRunsRequestsInOrder) {
  // A0 0-32, B 32-64 (arrives 164), Z0 164-292 (ready 297), store Z0 297-361; only then A1 361-393 (arrives
  // 493), Z1 493-621, store 626-690; A2 690-722, Z2 822-950, store 955-1019, written at 1119.
  const DesignPoint p = dma_point(1);
  CycleOptions o;
  o.exact = true;
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program, o);
  EXPECT_EQ(s.cycles, 1119);
  EXPECT_EQ(s.stall_cycles.at("array").at("data"), 164 + (493 - 292) + (822 - 621));
}

TEST(Cycle, TwoDmaEnginesLetLoadsPassAWaitingStore) {
  // Engine 0: A0 0-32; engine 1: B, waiting 32 cycles for the channel, 32-64 (arrives 164). Engine 0 takes store
  // Z0 and waits for Z0; engine 1 loads A1 64-96 meanwhile (double-buffered, arrives 196), then takes store Z1.
  // Z0 164-292, store Z0 297-361 (engine 0, which then loads A2 361-393, arriving 493); Z1 292-420, store Z1
  // 425-489; Z2 493-621, store Z2 626-690, written at 790.
  const DesignPoint p = dma_point(2);
  CycleOptions o;
  o.exact = true;
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program, o);
  EXPECT_EQ(s.cycles, 790);
  EXPECT_EQ(s.stall_cycles.at("dram").at("channel"), 32);
  EXPECT_EQ(s.stall_cycles.at("array").at("data"), 164 + (493 - 420));
}

// Output-stationary blocks of 256 x 256 fp32 results, each stored in one 256 KiB transfer (15,259 cycles at
// 16 GiB/s) while the next block's chunks of A and B stream in (tests/data/gemm-store-blocks.yaml). The analytical
// model overlaps the stores with the loads: 222,172 cycles. (Each PE keeps its 32 values of A over the eight folds
// of n's 256 columns, so that the buffer reads A once and the DRAM's order is what these tests see; with one
// register a PE the folds read A eight times and the buffer's port bounds the group: 279,516 cycles.)
Stats store_blocks(int engines) {
  const DesignPoint p = point("tests/data/gemm-store-blocks.yaml", {{"M", "2048"}, {"N", "256"}, {"K", "128"}}, {},
                              {{"dram.dma_engines", std::to_string(engines)},
                               {"dram.bandwidth", "16 GiB/s"},
                               {"array.regfile_entries", "32"}});
  EXPECT_EQ(evaluate_analytical(p.cascade, p.arch, p.program).cycles, 222172);
  CycleOptions o;
  o.exact = true;
  return simulate_cycles(p.cascade, p.arch, p.program, o);
}

TEST(Cycle, OneEngineHoldsTheNextBlocksLoadsBehindAStore) {
  // The store holds the one engine and the channel; the array waits for the next block's chunks: 14% over.
  EXPECT_EQ(store_blocks(1).cycles, 253476);
}

TEST(Cycle, LoadsGoAheadOfAStoreBurstByBurst) {
  // With two engines a waiting load takes the channel after the store's current 4 KiB burst, the store resuming
  // when no load waits: the engine's cycles are the analytical model's, to the cycle.
  EXPECT_EQ(store_blocks(2).cycles, 222172);
}

TEST(Cycle, BackToBackTransfersRunAtTheChannelsBandwidth) {
  // tests/data/gemm-bypass-stream.yaml at M = 2,048, N = 32, K = 2: load A (8,192 B) takes the buffer port's
  // 128 cycles (the channel's 120), B (128 B) 2 more, arriving at 130 + 100 = 230; Z0 230-234 (4 rows stream
  // through), its result a cycle later (the adder tree over k = 2). Z bypasses the buffer: its 512 tiles of
  // 512 B go to DRAM as the array computes them, one every 4 cycles, faster than the channel writes them, so
  // they stream back to back from 235: 262,144 B at 68.72 B a cycle = 3,814.7, so 3,815 cycles (a whole
  // 8 cycles each would take 4,096), to 4,050; written at 4,150. The array holds two tiles on their way out
  // (buffer_stages 2), so each tile waits for the store of the tile two before it to leave: 1,761 cycles of
  // `output` stalls, 3.45 a tile after the first two.
  const DesignPoint p = point("tests/data/gemm-bypass-stream.yaml", {{"M", "2048"}, {"N", "32"}, {"K", "2"}});
  CycleOptions o;
  o.exact = true;
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program, o);
  EXPECT_EQ(s.cycles, 4150);
  EXPECT_EQ(s.stall_cycles.at("array").at("data"), 230);
  EXPECT_EQ(s.stall_cycles.at("array").at("output"), 1761);
}

TEST(Cycle, BypassingStoresWaitInTheirUnitAsTheModelSays) {
  // tests/data/attention-unfused-bypass.yaml at its defaults (two heads of 1K tokens, fp32, a head a block): the
  // softmax's probabilities leave the 1D array tile by tile in its last pass, 1 MiB a tile, computed in 1,024
  // cycles and stored in 2,294, the channel's loads going before them a burst at a time (reads first, as for
  // every store). The array holds a block's four tiles, so it does not wait for them, and their stores run on into
  // the next block's passes; the last block's are the group's tail: 2.66 tiles still to go when its last is
  // computed (4 - 3 x 1,024 / 2,294). The analytical model charges that tail and is within 0.06% of the engine
  // (87,755, 0.05%, while the walk held each load until its slot was free; 0.26% while these stores went before the
  // loads).
  const DesignPoint p = point("tests/data/attention-unfused-bypass.yaml");
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  EXPECT_EQ(s.cycles, 87662);
  EXPECT_EQ(evaluate_analytical(p.cascade, p.arch, p.program).cycles, 87712);
}

TEST(Cycle, PartialSumsComeBackAfterTheirOwnTilesStore) {
  // tests/data/gemm-partial-sums.yaml: k's 8 blocks outside Z's 16 tiles, so each tile's partial sums are stored
  // and loaded back 16 tiles later, once that tile's store is done (not the last store of Z, which would hold the
  // walk until the tile before was written: 33,569 cycles). The same bytes as the analytical model counts. The
  // engine's one DMA engine issues each tile's loads behind the last tile's store: the reload is among what the
  // channel moves when a slot frees (the analytical prefetch bound's R; 12,065 without it, 7.0% fast), so the
  // model is within 0.5% (12,905 while the walk held each load until its slot was free; 12,009 and 12,049 when
  // the reloads were free).
  const DesignPoint p = point("tests/data/gemm-partial-sums.yaml");
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  const Stats a = evaluate_analytical(p.cascade, p.arch, p.program);
  EXPECT_EQ(s.cycles, 12889);
  EXPECT_EQ(a.cycles, 12954);
  EXPECT_EQ(s.traffic_bytes.at("dram").read, a.traffic_bytes.at("dram").read);
  EXPECT_EQ(s.traffic_bytes.at("dram").write, a.traffic_bytes.at("dram").write);
}

TEST(Cycle, ThreeBufferStagesHideTheLatency) {
  // gemm-dma at M = 320 with buffer_stages: 3: A's load for tile i + 3 waits for tile i's slot, so the 100-cycle
  // latency hides behind two tiles of 128 cycles: 164 (A_0 and B, latency) + 10 x 128 + 169 (Z's result, store,
  // latency) = 1,613, as the analytical model says (ModelTiming.MoreBufferStagesHideMoreLatency). With two
  // stages it is 1,905.
  const DesignPoint p = point("tests/data/gemm-dma-3.yaml", {{"M", "320"}, {"N", "32"}, {"K", "32"}});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  EXPECT_EQ(s.cycles, 1613);
}

TEST(Cycle, TooManyTileOperationsOneByOneAreRefusedUpFront) {
  // The MoE FFN's expert groups run together, so they are simulated tile by tile: beyond the engine's limit the
  // point is refused with its reason (before any simulation), as `sim` of FF = 2^32 is (7.5e9 operations).
  const DesignPoint p = point("configs/mappings/llm/moe-ffn.yaml");
  CycleOptions o;
  o.max_full_jobs = 100;
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program, o);
  EXPECT_FALSE(s.status.ok);
  EXPECT_NE(s.status.reason.find("tile operations one by one (groups that run together)"), std::string::npos)
      << s.status.reason;
  EXPECT_EQ(s.fidelity, Fidelity::cycle);
}

TEST(Cycle, ReadyFirstDmaLetsLoadsPassAWaitingStore) {
  // One engine, dma_order: ready_first (the default): A0 0-32, B 32-64; store Z0 waits for Z0, so the engine loads A1
  // 64-96 (a free slot, arriving 196) and then waits (dependency) from 96. Z0 164-292 (ready 297), when both store Z0
  // and A2 (whose slot Z0 frees) may run: the older, store Z0, 297-361, then A2 361-393 (arrives 493). Z1
  // 292-420, store Z1 waits 393-425, runs 425-489; Z2 493-621, store Z2 waits 489-626, runs 626-690, written at
  // 790: two engines' time (above) with one.
  const DesignPoint p = point("tests/data/gemm-dma.yaml", {{"M", "96"}, {"N", "32"}, {"K", "32"}}, {},
                              {{"dram.dma_engines", "1"}, {"dram.dma_order", "ready_first"}});
  CycleOptions o;
  o.exact = true;
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program, o);
  EXPECT_EQ(s.cycles, 790);
  EXPECT_EQ(s.stall_cycles.at("array").at("data"), 164 + (493 - 420));
  EXPECT_EQ(s.stall_cycles.at("dram").at("dependency"), (297 - 96) + (425 - 393) + (626 - 489));
}

// FuseMax on BERT at B = 64, M = P = 1,024 (analytical: 1,904,640 cycles). In order, with one DMA engine, each
// head's output store waits for its last computation and the next head's Q/K/V loads queue behind it.
DesignPoint fusemax_bert_64(const std::string& order, const std::string& engines = "2") {
  return point("configs/mappings/attention-fusemax.yaml", {{"B", "64"}, {"M", "1024"}, {"P", "1024"}},
               {"configs/workloads/models/bert.yaml"}, {{"dram.dma_order", order}, {"dram.dma_engines", engines}});
}

TEST(Cycle, FuseMaxInOrderDmaQueuesLoadsBehindAWaitingStore) {
  const DesignPoint p = fusemax_bert_64("in_order", "1");
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  EXPECT_EQ(s.cycles, 2819428);  // 47.9% over the analytical model
  ASSERT_TRUE(s.gap_vs_analytical.has_value());
  EXPECT_GT(*s.gap_vs_analytical, 0.4);
}

TEST(Cycle, FuseMaxReadyFirstDmaLoadsTheNextHeadWhileAStoreWaits) {
  // The next head's loads pass the store that waits, the controller feeds the 2D array the next head while the
  // 1D array finishes this one, and the DMA takes a buffer port only for its tile's share: the engine is within
  // 2% of the analytical model (0.35%).
  const DesignPoint p = fusemax_bert_64("ready_first");
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  EXPECT_EQ(s.cycles, 1911293);
  EXPECT_LT(s.cycles, 2819428);  // in_order's, above
  ASSERT_TRUE(s.gap_vs_analytical.has_value());
  EXPECT_GE(*s.gap_vs_analytical, 0.0);
  EXPECT_LT(*s.gap_vs_analytical, 0.02);
}

TEST(Cycle, VcdHasTheUnitsSignals) {
  const DesignPoint p = point("configs/mappings/gemm-systolic-ws.yaml", {{"M", "32"}, {"N", "32"}, {"K", "32"}});
  const std::string file = ::testing::TempDir() + "einsim-waves.vcd";
  CycleOptions o;
  o.vcd_file = file;
  simulate_cycles(p.cascade, p.arch, p.program, o);
  std::ifstream in(file);
  const std::string vcd((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(vcd.find("running"), std::string::npos);
  EXPECT_NE(vcd.find("busy"), std::string::npos);
  EXPECT_EQ(vcd.find("$date\n     (omitted"), vcd.find("$date"));
  // The array runs Z from cycle 164 to 292 (SmallGemmExactCycles).
  EXPECT_NE(vcd.find("#164\n"), std::string::npos);
  EXPECT_NE(vcd.find("#292\n"), std::string::npos);
}

TEST(Cycle, RandomStallsChangeOnlyTime) {
  const uint64_t seed = test::seed();
  const DesignPoint p = point("configs/mappings/attention-fusemax.yaml", {{"M", "1024"}, {"P", "512"}});
  CycleOptions o;
  o.stall_probability = 0.3;
  o.stall_cycles = 50;
  o.seed = seed;
  const Stats stalled = simulate_cycles(p.cascade, p.arch, p.program, o);
  const Stats analytical = evaluate_analytical(p.cascade, p.arch, p.program);
  // Same work, same traffic, same energy; only later.
  EXPECT_EQ(stalled.busy_cycles, analytical.busy_cycles) << "seed " << seed;
  EXPECT_EQ(stalled.traffic_bytes.at("dram").read, analytical.traffic_bytes.at("dram").read);
  EXPECT_EQ(stalled.traffic_bytes.at("dram").write, analytical.traffic_bytes.at("dram").write);
  EXPECT_DOUBLE_EQ(stalled.energy_pJ, analytical.energy_pJ);
  for (const auto& [name, e] : analytical.einsums) EXPECT_EQ(stalled.einsums.at(name).ops, e.ops) << name;
  EXPECT_GE(stalled.cycles, std::max(analytical.roofline_compute_cycles, analytical.roofline_memory_cycles));
}

TEST(Cycle, AUnitStartsAnyReadyJobInItsWindow) {
  // SwiGLU fused and pipelined, hidden columns in blocks of 8 (tests/data/swiglu-fused-pipelined.yaml): the 1D
  // array's activation (104 cycles a block) sets the pace, the 2D array's projections (16 each) fit around it. A
  // block's down projection waits for its activation while the next block's gate and up projections are ready
  // behind it in the 2D array's window; they must start then, not once the down projection has run. When the
  // unit woke only for its oldest job's inputs the run took 17,275 cycles; now it is the 1D array's 13,312 busy
  // cycles, the first block's loads (674) and projections before it and the last block's down projection and
  // store after it, within 0.3% of the analytical 14,773.
  const DesignPoint p = point("tests/data/swiglu-fused-pipelined.yaml");
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  EXPECT_EQ(s.cycles, 14738);
  EXPECT_EQ(s.busy_cycles.at("pe1d"), 13312);
  EXPECT_EQ(evaluate_analytical(p.cascade, p.arch, p.program).cycles, 14773);
}

TEST(Cycle, FuseMaxCloseToAnalyticalOnceThePipelineFills) {
  // BERT at 16K: 64 M1 iterations per block keep both arrays busy; the remaining gap is the fill and drain
  // of each block's pipeline (at 1K, with 4 iterations per block, it is about 40%).
  const DesignPoint p = point("configs/mappings/attention-fusemax.yaml", {{"M", "16384"}, {"P", "16384"}},
                              {"configs/workloads/models/bert.yaml"});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  ASSERT_TRUE(s.gap_vs_analytical.has_value());
  EXPECT_GE(*s.gap_vs_analytical, 0.0);
  EXPECT_LT(*s.gap_vs_analytical, 0.05);
}

// Many cores (configs/arch/xpu-h100-cores.yaml): the engine simulates the busiest core, its transfers at its
// port's rate, and the group waits for every core's bytes at the HBM's bandwidth; the other cores' work counts
// as the program says. FlashDecoding's four parts per head at B = 1 put 128 items on 128 cores, which together
// ask more than the HBM gives.
TEST(Cycle, ManyCoresRunTheBusiestCoreAndShareTheMemory) {
  const DesignPoint p = point("configs/mappings/llm/decode-split-cores.yaml", {{"L", "8192"}, {"S", "4"}});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  const Stats a = evaluate_analytical(p.cascade, p.arch, p.program);
  ASSERT_TRUE(s.status.ok) << s.status.reason;
  EXPECT_EQ(s.traffic_bytes.at("dram").read, a.traffic_bytes.at("dram").read);
  EXPECT_EQ(s.traffic_bytes.at("dram").write, a.traffic_bytes.at("dram").write);
  EXPECT_EQ(s.einsums.at("QK").ops, a.einsums.at("QK").ops);
  EXPECT_GT(s.stall_cycles.at("dram").at("shared_bandwidth"), 0);
  // At least the whole cache at 3.35 TB/s: 32 heads x 8,192 tokens x 128 x 2 (K and V) x 2 B.
  EXPECT_GE(s.cycles, static_cast<int64_t>(32.0 * 8192 * 128 * 2 * 2 / 3.35e12 * 1.83e9));
  ASSERT_TRUE(s.gap_vs_analytical.has_value());
  EXPECT_LT(std::abs(*s.gap_vs_analytical), 0.02);
}

// Split-K on the cores (gemm-splitk-cores.yaml): 112 items each store a partial 16 x 64 block of Z (4 KiB), which
// the NoC's reducers combine. Slowed to 10 GB/s (5.46 B a cycle at 1.83 GHz), their 458,752 bytes take 83,952
// cycles at both fidelities, the engine waiting out the difference as the noc's reduce_bandwidth stall; the HBM
// receives Z once.
TEST(Cycle, ReducersInTheNetworkCombineTheCoresPartials) {
  const DesignPoint p = point("configs/mappings/gemm-splitk-cores.yaml", {}, {}, {{"noc.reduce_bandwidth", "10 GB/s"}});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  const Stats a = evaluate_analytical(p.cascade, p.arch, p.program);
  ASSERT_TRUE(s.status.ok) << s.status.reason;
  EXPECT_EQ(a.cycles, static_cast<int64_t>(std::ceil(112.0 * 16 * 64 * 4 * 1.83e9 / 10e9)));
  EXPECT_EQ(s.cycles, a.cycles);
  EXPECT_GT(s.stall_cycles.at("noc").at("reduce_bandwidth"), 0);
  EXPECT_EQ(s.traffic_bytes.at("dram").write, 16 * 512 * 4);
  EXPECT_EQ(a.traffic_bytes.at("dram").write, 16 * 512 * 4);
  EXPECT_DOUBLE_EQ(s.energy_by_action_pJ.at("noc").at("reduce"), a.energy_by_action_pJ.at("noc").at("reduce"));
}

// The same split-K GEMM with the 132 cores on a 12 x 11 mesh whose links carry 10 GB/s each way: the middle cut of
// the 12-node side (6 x 6 of 12 x 12 pairs of ends one way) over 11 links fills at 440 GB/s, and the cores move
// 9,633,792 bytes through their ports (112 items' 16 KiB of A, 64 KiB of B and 4 KiB of partials): 40,068 cycles
// at both fidelities, the engine waiting out the difference as the noc's mesh_bandwidth stall.
TEST(Cycle, AMeshsNarrowestCutBoundsWhatTheCoresMove) {
  const DesignPoint p = point("configs/mappings/gemm-splitk-cores.yaml", {}, {},
                              {{"noc.mesh_rows", "12"},
                               {"noc.mesh_cols", "11"},
                               {"noc.hop_latency_cycles", "2"},
                               {"noc.link_bandwidth", "10 GB/s"}});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  const Stats a = evaluate_analytical(p.cascade, p.arch, p.program);
  ASSERT_TRUE(s.status.ok) << s.status.reason;
  EXPECT_EQ(a.cycles, static_cast<int64_t>(std::ceil(112.0 * (16 + 64 + 4) * 1024 * 1.83e9 / 440e9)));
  EXPECT_EQ(s.cycles, a.cycles);
  EXPECT_GT(s.stall_cycles.at("noc").at("mesh_bandwidth"), 0);
}

// A system of devices (decode-attention-tp.yaml, Mixtral's attention at B = 32, L = 4K on four H100-like devices): the
// engine simulates the busiest device, the all-reduce takes its closed form's cycles on the interconnect as in the
// analytical model, and every device's work and traffic count.
TEST(Cycle, DevicesRunTheirSharesAndTheCollectiveItsClosedForm) {
  const DesignPoint p = point("configs/mappings/llm/decode-attention-tp.yaml", {{"B", "32"}, {"L", "4096"}},
                              {"configs/workloads/models/mixtral-8x7b.yaml"}, {{"nvlink.devices", "4"}});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  const Stats a = evaluate_analytical(p.cascade, p.arch, p.program);
  ASSERT_TRUE(s.status.ok) << s.status.reason;
  EXPECT_EQ(s.groups.at("all-reduce").cycles, a.groups.at("all-reduce").cycles);
  // O's 524,288 bytes: 2 x 2 us + 2 x 3/4 x 524,288 B / 450 GB/s = 5.7476 us, 10,518.2 cycles at 1.83 GHz.
  EXPECT_EQ(s.groups.at("all-reduce").cycles, 10519);
  EXPECT_EQ(s.groups.at("attention").devices, 4);
  EXPECT_EQ(s.traffic_bytes.at("dram").read, a.traffic_bytes.at("dram").read);
  EXPECT_EQ(s.traffic_bytes.at("dram").write, a.traffic_bytes.at("dram").write);
  EXPECT_EQ(s.traffic_bytes.at("nvlink").write, a.traffic_bytes.at("nvlink").write);
  for (const auto& [name, e] : a.einsums) EXPECT_EQ(s.einsums.at(name).ops, e.ops) << name;
  ASSERT_TRUE(s.gap_vs_analytical.has_value());
  EXPECT_LT(std::abs(*s.gap_vs_analytical), 0.02);
}

// SystemC counts time in 64-bit ticks of 1 ps: a run past about 4.6e15 cycles (here a collective over links with
// a latency of 1e9 s) is refused, not wrapped.
TEST(Cycle, ARunBeyondTheEnginesTimeRangeIsRefused) {
  const DesignPoint p = point("configs/mappings/llm/decode-attention-tp.yaml", {}, {},
                              {{"nvlink.devices", "2"}, {"nvlink.latency", "1e9 s"}});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  EXPECT_FALSE(s.status.ok);
  EXPECT_NE(s.status.reason.find("beyond the cycle engine's range"), std::string::npos) << s.status.reason;
}

// Ragged tiles at cycle level (tests/data/gemm-ragged.yaml at N = 1,000, M = 250): the engine runs each
// execution at its size, the partial last tiles and none of the empty folds past the end of n, so its operations
// and traffic are the analytical model's exactly.
TEST(Cycle, RaggedTilesRunAtTheirSizes) {
  const DesignPoint p = point("tests/data/gemm-ragged.yaml", {{"M", "250"}, {"N", "1000"}});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  const Stats a = evaluate_analytical(p.cascade, p.arch, p.program);
  ASSERT_TRUE(s.status.ok) << s.status.reason;
  EXPECT_EQ(s.einsums.at("Z").ops.at("mac"), 250 * 1000 * 64);
  EXPECT_EQ(s.busy_cycles.at("array"), a.busy_cycles.at("array"));
  EXPECT_EQ(s.traffic_bytes.at("dram").read, a.traffic_bytes.at("dram").read);
  EXPECT_EQ(s.traffic_bytes.at("dram").write, a.traffic_bytes.at("dram").write);
  EXPECT_EQ(s.traffic_bytes.at("glb").read, a.traffic_bytes.at("glb").read);
  ASSERT_TRUE(s.gap_vs_analytical.has_value());
  EXPECT_LT(std::abs(*s.gap_vs_analytical), 0.02);
}

// Guarded Einsums at cycle level (SpAtten's LSB refetch for half the heads): the engine runs the executions the
// tile program's guard picks, so its traffic and operations are the analytical model's exactly.
TEST(Cycle, GuardedEinsumsRunTheGuardsShare) {
  const DesignPoint p = point("configs/mappings/llm/decode-attention-spatten.yaml", {{"FLATR", "0.5"}});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  const Stats a = evaluate_analytical(p.cascade, p.arch, p.program);
  ASSERT_TRUE(s.status.ok) << s.status.reason;
  EXPECT_EQ(s.traffic_bytes.at("dram").read, a.traffic_bytes.at("dram").read);
  EXPECT_EQ(s.traffic_bytes.at("dram").write, a.traffic_bytes.at("dram").write);
  for (const std::string e : {"QKL", "QK2", "SN2", "OL", "QK1"})
    EXPECT_EQ(s.einsums.at(e).ops, a.einsums.at(e).ops) << e;
  EXPECT_EQ(s.einsums.at("QKL").ops.at("mac"), 6 * 256 * 64);
}

// tests/data/two-units*.yaml (tests/unit/model_test.cpp has the closed forms): independent, the 2D and 1D arrays
// overlap within each tile; chained, the exp waits for the product. The engine agrees within 0.2%.
void expect_two_units_as_modelled(const char* mapping) {
  const DesignPoint p = point(mapping, {}, {}, {{"dram.bandwidth", "1000 TB/s"}, {"dram.latency_cycles", "1"}});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  ASSERT_TRUE(s.gap_vs_analytical.has_value());
  EXPECT_LT(std::abs(*s.gap_vs_analytical), 0.002) << mapping;
}

TEST(Cycle, UnpipelinedArraysOverlapWithinATileAsTheModelSays) {
  expect_two_units_as_modelled("tests/data/two-units.yaml");
}

TEST(Cycle, UnpipelinedArraysChainWithinATileAsTheModelSays) {
  expect_two_units_as_modelled("tests/data/two-units-chained.yaml");
}

TEST(Cycle, OneBufferPortMakesTheArraysTakeTurns) {
  // FuseMax's arrays both stream tiles through the buffer; with one port instead of two they conflict.
  const DesignPoint p = point("configs/mappings/attention-fusemax.yaml", {{"M", "4096"}, {"P", "4096"}},
                              {"configs/workloads/models/bert.yaml"}, {{"glb.ports", "1"}});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  auto port_waits = [&](const std::string& who) {
    const auto& causes = s.stall_cycles.at(who);
    const auto it = causes.find("buffer_port");
    return it == causes.end() ? int64_t{0} : it->second;
  };
  EXPECT_GT(port_waits("pe1d") + port_waits("pe2d"), 0);
  // The conflicts are every accessor's waits for a port: the arrays' and the DMA's.
  EXPECT_EQ(*s.buffer_conflict_cycles, port_waits("pe1d") + port_waits("pe2d") + port_waits("dram"));
}

// The engine reports what it simulated. On every mapping it runs each op exactly as often as the program's loops
// say, so its traffic, ops and energy equal the analytical model's (which counts them from the loops), while its
// cycles are its own.
TEST(Cycle, RefreshEnergyFollowsTheSimulatedRunsLength) {
  // FuseMax at BERT 1K on HBM3 with the bank-level model and one in-order DMA: the simulated run is longer than
  // the analytical one, so more refresh intervals pass: every rank of every pseudo-channel refreshes once per
  // nREFI of the run.
  const DesignPoint p = point(
      "configs/mappings/attention-fusemax.yaml", {}, {"configs/workloads/models/bert.yaml"},
      {{"dram.model", "bank"}, {"dram.preset", "hbm3-5.2"}, {"dram.dma_order", "in_order"}, {"dram.dma_engines", "1"}});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  const Stats a = evaluate_analytical(p.cascade, p.arch, p.program);
  ASSERT_TRUE(s.status.ok) << s.status.reason;
  ASSERT_GT(s.cycles, a.cycles);
  const dram::DramPreset& hbm = *p.arch.find("dram")->as<DramComponent>().bank;
  const double interval_s = static_cast<double>(hbm.timing.nREFI) * hbm.timing.tCK_ps * 1e-12;
  const double per_refresh = static_cast<double>(hbm.org.ranks * hbm.org.controllers()) * hbm.energy.refresh.energy_pJ;
  EXPECT_DOUBLE_EQ(s.energy_by_action_pJ.at("dram").at("refresh"), std::floor(s.latency_s / interval_s) * per_refresh);
  EXPECT_DOUBLE_EQ(a.energy_by_action_pJ.at("dram").at("refresh"), std::floor(a.latency_s / interval_s) * per_refresh);
  EXPECT_GT(s.energy_pJ, a.energy_pJ);
  EXPECT_EQ(s.traffic_bytes.at("dram").read, a.traffic_bytes.at("dram").read);
}

class EveryMapping : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryMapping, CyclesAtLeastTheRooflineAndEveryOpRunAsOftenAsTheProgramSays) {
  const std::string f = "configs/mappings/" + GetParam() + ".yaml";
  const bool bert = GetParam().rfind("attention-", 0) == 0 || GetParam() == "encoder-gemms";
  const DesignPoint p = bert ? point(f, {}, {"configs/workloads/models/bert.yaml"}) : point(f);
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  ASSERT_TRUE(s.status.ok) << s.status.reason;
  EXPECT_GE(s.cycles, std::max(s.roofline_compute_cycles, s.roofline_memory_cycles));
  for (const auto& [unit, u] : s.utilization) EXPECT_LE(u, 1.0) << unit;
  const Stats a = evaluate_analytical(p.cascade, p.arch, p.program);
  ASSERT_EQ(s.traffic_bytes.size(), a.traffic_bytes.size());
  for (const auto& [level, t] : a.traffic_bytes) {
    EXPECT_EQ(s.traffic_bytes.at(level).read, t.read) << level;
    EXPECT_EQ(s.traffic_bytes.at(level).write, t.write) << level;
  }
  for (const auto& [einsum, e] : a.einsums) {
    EXPECT_EQ(s.einsums.at(einsum).ops, e.ops) << einsum;
    EXPECT_EQ(s.einsums.at(einsum).cycles, e.cycles) << einsum;
  }
  for (const auto& [component, actions] : a.energy_by_action_pJ)
    for (const auto& [action, pj] : actions) {
      if (action == "refresh") continue;  // over each fidelity's own run
      EXPECT_EQ(s.energy_by_action_pJ.at(component).at(action), pj) << component << " " << action;
    }
}

INSTANTIATE_TEST_SUITE_P(Configs, EveryMapping,
                         ::testing::Values("attention-unfused", "attention-flat", "attention-cascade",
                                           "attention-architecture", "attention-fusemax", "encoder-gemms",
                                           "gemm-systolic-ws", "gemm-systolic-os", "gemm-systolic-is",
                                           "llm/decode-attention", "llm/ffn-swiglu", "llm/moe-ffn",
                                           "llm/serving-attention", "llm/serving-ffn", "quant/int8-gemm"));

}  // namespace
}  // namespace einsim
