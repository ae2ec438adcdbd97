// The SystemC engine. Each test simulates once and ctest runs each in its own process (SystemC elaborates once
// per process), so this executable has its own sc_main.
#include <gtest/gtest.h>

#include <cstdlib>
#include <systemc>

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
  EXPECT_EQ(s.fidelity, "cycle");
  EXPECT_EQ(s.cycles, 461);
  EXPECT_EQ(s.busy_cycles.at("array"), 32);
  EXPECT_EQ(s.stall_cycles.at("array").at("data"), 164);
  EXPECT_EQ(s.stall_cycles.at("array").at("buffer_bandwidth"), 96);
  EXPECT_EQ(*s.buffer_conflict_cycles, 0);
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

TEST(Cycle, FuseMaxCloseToAnalyticalOnceThePipelineFills) {
  // BERT at 16K: 64 M1 iterations per block keep both arrays busy; the remaining gap is the fill and drain
  // of each block's pipeline (at 1K, with 4 iterations per block, it is about 40%).
  const DesignPoint p = point("configs/mappings/attention-fusemax.yaml", {{"M", "16384"}, {"P", "16384"}}, {"configs/workloads/models/bert.yaml"});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  ASSERT_TRUE(s.gap_vs_analytical.has_value());
  EXPECT_GE(*s.gap_vs_analytical, 0.0);
  EXPECT_LT(*s.gap_vs_analytical, 0.05);
}

TEST(Cycle, OneBufferPortMakesTheArraysTakeTurns) {
  // FuseMax's arrays both stream tiles through the buffer; with one port instead of two they conflict.
  const DesignPoint p = point("configs/mappings/attention-fusemax.yaml", {{"M", "4096"}, {"P", "4096"}}, {"configs/workloads/models/bert.yaml"},
                        {{"glb.ports", "1"}});
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  EXPECT_GT(*s.buffer_conflict_cycles, 0);
  EXPECT_EQ(*s.buffer_conflict_cycles, s.stall_cycles.at("pe1d").at("buffer_port") + s.stall_cycles.at("pe2d").at("buffer_port"));
}

class EveryMapping : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryMapping, CyclesAtLeastTheRoofline) {
  const std::string f = "configs/mappings/" + GetParam() + ".yaml";
  const bool bert = GetParam().find("attention") != std::string::npos || GetParam().find("encoder") != std::string::npos;
  const DesignPoint p = bert ? point(f, {}, {"configs/workloads/models/bert.yaml"}) : point(f);
  const Stats s = simulate_cycles(p.cascade, p.arch, p.program);
  ASSERT_TRUE(s.status.ok) << s.status.reason;
  EXPECT_GE(s.cycles, std::max(s.roofline_compute_cycles, s.roofline_memory_cycles));
  for (const auto& [unit, u] : s.utilization) EXPECT_LE(u, 1.0) << unit;
}

INSTANTIATE_TEST_SUITE_P(Configs, EveryMapping,
                         ::testing::Values("attention-unfused", "attention-flat", "attention-cascade", "attention-architecture",
                                           "attention-fusemax", "encoder-gemms", "gemm-systolic-ws", "gemm-systolic-os", "gemm-systolic-is"));

}  // namespace
}  // namespace einsim

int sc_main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  return sc_core::sc_elab_and_sim(argc, argv);
}
