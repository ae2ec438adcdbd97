// Collectives between a system's devices (kind: interconnect): each algorithm's time, steps, link bytes and
// energy on a small topology, exactly as its closed form (arch/collectives.hpp) says, and what does not apply.
#include <gtest/gtest.h>

#include <filesystem>

#include "arch/collectives.hpp"
#include "arch/spec.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

// Links of 100 GB/s each way, 1 us a step, 0.5 pJ a byte; 4 devices unless a test says otherwise.
ArchSpec system_arch(const std::string& topology, int devices = 4) {
  const std::string file = test::temp_file(
      "system-" + topology + std::to_string(devices) + ".yaml",
      "version: 1\nname: system\nclock: 1 GHz\nenergy_table: " +
          std::filesystem::absolute("configs/energy/accelergy-45nm.yaml").string() +
          "\ncomponents:\n"
          "  dram: {kind: dram, bandwidth: 128 GB/s, latency_cycles: 100, access_bits: 512, read_energy: '40', "
          "write_energy: '40'}\n"
          "  glb: {kind: sram, size: 1 MiB, banks: 4, row_bits: 512, read_energy: '5', write_energy: '6'}\n"
          "  vec: {kind: vector_array, lanes: 256, ops: {add: {energy: '1'}}}\n"
          "  link: {kind: interconnect, devices: " +
          std::to_string(devices) + ", topology: " + topology +
          ", link_bandwidth: 100 GB/s, latency: 1 us, transfer_energy: '0.5'}\n");
  return load_arch(file);
}

constexpr double kS = 64e6;  // bytes per device
constexpr double kB = 100e9;
constexpr double kA = 1e-6;

TEST(Collectives, RingAllReduceIsTwoNMinusOneStepsOfAnNthOfTheBuffer) {
  const ArchSpec a = system_arch("ring");
  const CollectiveCost c = collective_cost(*a.devices(), Collective::all_reduce, CollectiveAlgorithm::ring, kS);
  ASSERT_TRUE(c.ok);
  EXPECT_EQ(c.steps, 6);
  EXPECT_DOUBLE_EQ(c.seconds, 6 * (kA + kS / 4 / kB));  // 6 x (1 us + 160 us) = 966 us
  EXPECT_DOUBLE_EQ(c.link_bytes, 6 * kS);
  EXPECT_DOUBLE_EQ(c.energy_pJ, 6 * kS * 0.5);
}

TEST(Collectives, RingAllGatherAndReduceScatterAreHalfAnAllReduce) {
  const ArchSpec a = system_arch("ring");
  for (const Collective op : {Collective::all_gather, Collective::reduce_scatter}) {
    const CollectiveCost c = collective_cost(*a.devices(), op, CollectiveAlgorithm::ring, kS);
    EXPECT_EQ(c.steps, 3);
    EXPECT_DOUBLE_EQ(c.seconds, 3 * (kA + kS / 4 / kB));
    EXPECT_DOUBLE_EQ(c.link_bytes, 3 * kS);
  }
}

// Step k forwards the N - k blocks of S/N still on their way: 3, 2 and 1 blocks of 16 MB.
TEST(Collectives, RingAllToAllForwardsTheBlocksStillOnTheirWay) {
  const ArchSpec a = system_arch("ring");
  const CollectiveCost c = collective_cost(*a.devices(), Collective::all_to_all, CollectiveAlgorithm::ring, kS);
  EXPECT_EQ(c.steps, 3);
  EXPECT_DOUBLE_EQ(c.seconds, (kA + 3 * kS / 4 / kB) + (kA + 2 * kS / 4 / kB) + (kA + kS / 4 / kB));
  EXPECT_DOUBLE_EQ(c.link_bytes, 4 * (3 + 2 + 1) * kS / 4);
}

// Through a switch every device sends its N - 1 blocks at once through its one port.
TEST(Collectives, DirectAllToAllIsOnePortFullOfBlocks) {
  const ArchSpec a = system_arch("switch");
  const CollectiveCost c = collective_cost(*a.devices(), Collective::all_to_all, CollectiveAlgorithm::direct, kS);
  ASSERT_TRUE(c.ok);
  EXPECT_EQ(c.steps, 1);
  EXPECT_DOUBLE_EQ(c.seconds, kA + 3 * kS / 4 / kB);
  EXPECT_DOUBLE_EQ(c.link_bytes, 3 * kS);
  const CollectiveCost r = collective_cost(*a.devices(), Collective::all_reduce, CollectiveAlgorithm::direct, kS);
  EXPECT_DOUBLE_EQ(r.seconds, 2 * (kA + 3 * kS / 4 / kB));
}

TEST(Collectives, TreeAllReduceSendsTheWholeBufferPerLevel) {
  const ArchSpec a = system_arch("switch", 5);  // ceil(log2 5) = 3 levels
  const CollectiveCost c = collective_cost(*a.devices(), Collective::all_reduce, CollectiveAlgorithm::tree, kS);
  ASSERT_TRUE(c.ok);
  EXPECT_EQ(c.steps, 6);
  EXPECT_DOUBLE_EQ(c.seconds, 6 * (kA + kS / kB));
  EXPECT_DOUBLE_EQ(c.link_bytes, 2 * 4 * kS);
}

// Small buffers are latency-bound (the tree's 2 log2 N steps beat the ring's 2 (N - 1)); large ones
// bandwidth-bound (direct and ring move an Nth per step, the tree the whole buffer).
TEST(Collectives, TheFastestAlgorithmDependsOnTheBuffer) {
  const ArchSpec a = system_arch("switch", 16);
  EXPECT_EQ(fastest_collective(*a.devices(), Collective::all_reduce, 1024).first, CollectiveAlgorithm::direct);
  EXPECT_EQ(fastest_collective(*a.devices(), Collective::all_reduce, kS).first, CollectiveAlgorithm::direct);
  const ArchSpec ring = system_arch("ring", 16);
  EXPECT_EQ(fastest_collective(*ring.devices(), Collective::all_reduce, kS).first, CollectiveAlgorithm::ring);
  // Without direct, the tree wins small buffers and the ring large ones.
  const DevicesRole& d = *a.devices();
  EXPECT_LT(collective_cost(d, Collective::all_reduce, CollectiveAlgorithm::tree, 1024).seconds,
            collective_cost(d, Collective::all_reduce, CollectiveAlgorithm::ring, 1024).seconds);
  EXPECT_GT(collective_cost(d, Collective::all_reduce, CollectiveAlgorithm::tree, kS).seconds,
            collective_cost(d, Collective::all_reduce, CollectiveAlgorithm::ring, kS).seconds);
}

TEST(Collectives, WhatDoesNotApplySaysWhy) {
  const ArchSpec a = system_arch("ring");
  const CollectiveCost d = collective_cost(*a.devices(), Collective::all_reduce, CollectiveAlgorithm::direct, kS);
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.reason.find("two neighbours"), std::string::npos) << d.reason;
  const ArchSpec s = system_arch("switch");
  const CollectiveCost t = collective_cost(*s.devices(), Collective::all_to_all, CollectiveAlgorithm::tree, kS);
  EXPECT_FALSE(t.ok);
  EXPECT_NE(t.reason.find("implements all_reduce"), std::string::npos) << t.reason;
}

TEST(Collectives, OneDeviceExchangesNothing) {
  const ArchSpec a = system_arch("switch", 1);
  for (const Collective op : all_collectives()) {
    const CollectiveCost c = collective_cost(*a.devices(), op, CollectiveAlgorithm::ring, kS);
    EXPECT_TRUE(c.ok);
    EXPECT_EQ(c.seconds, 0);
    EXPECT_EQ(c.link_bytes, 0);
  }
}

TEST(Collectives, TwoInterconnectsAreRefused) {
  const std::string file =
      test::temp_file("two-links.yaml", "version: 1\nname: two\nclock: 1 GHz\nenergy_table: " +
                                            std::filesystem::absolute("configs/energy/accelergy-45nm.yaml").string() +
                                            "\ncomponents:\n"
                                            "  a: {kind: interconnect, devices: 2, link_bandwidth: 1 GB/s}\n"
                                            "  b: {kind: interconnect, devices: 2, link_bandwidth: 1 GB/s}\n");
  try {
    load_arch(file);
    FAIL() << "accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("two interconnects"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace einsim
