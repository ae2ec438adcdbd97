// Systems of devices (an interconnect): a group's loop spread over the devices, each running its share as one
// device runs the whole; collective groups costed by their closed forms; the tensor-parallel decode step's
// crossover; and what lowering refuses.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "arch/collectives.hpp"
#include "sim/analytical.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

using Sets = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kTp = "configs/mappings/llm/decode-attention-tp.yaml";
constexpr const char* kMixtral = "configs/workloads/models/mixtral-8x7b.yaml";

struct Evaluated {
  DesignPoint point;
  Stats stats;
};

// Mixtral's attention (32 query heads, 8 KV heads of 128) at B = 8, L = 2,048 on `devices` H100-like devices.
Evaluated tp(int devices, Sets params = {}, Sets arch_sets = {}) {
  params.insert(params.begin(), {{"B", "8"}, {"L", "2048"}});
  arch_sets.emplace_back("nvlink.devices", std::to_string(devices));
  DesignPoint p = test::point(kTp, std::move(params), {kMixtral}, arch_sets);
  Stats s = evaluate_analytical(p.cascade, p.arch, p.program);
  return {std::move(p), std::move(s)};
}

TEST(Devices, EachDeviceRunsItsShareAsOneDeviceRunsTheWhole) {
  // On N devices each runs H/N query heads and KH/N KV heads: exactly what one device takes for a model with
  // that many heads, group by group.
  for (const int n : {2, 4, 8}) {
    const Stats spread = tp(n).stats;
    const Stats share = tp(1, {{"H", std::to_string(32 / n)}, {"KH", std::to_string(8 / n)}}).stats;
    ASSERT_TRUE(spread.status.ok) << spread.status.reason;
    for (const char* g : {"q-projection", "k-projection", "v-projection", "attention", "output-projection"}) {
      EXPECT_EQ(spread.groups.at(g).cycles, share.groups.at(g).cycles) << g << " on " << n;
      EXPECT_EQ(spread.groups.at(g).devices, n) << g;
    }
    EXPECT_EQ(spread.groups.at("residual").devices, 1);  // not spread: one device
  }
}

TEST(Devices, EveryDevicesWorkAndTrafficCount) {
  // The same operations on any number of devices. Each device reads its own share of the weights and the cache,
  // and the tokens X (B x D bf16 = 64 KiB) once per head tile of each projection: two tiles of four KV heads on
  // one device, one tile of two on each of four. Each device stores its partial sum of the output projection,
  // O (B x D fp32 = 128 KiB).
  const Stats one = tp(1).stats, four = tp(4).stats;
  for (const auto& [name, e] : one.einsums) EXPECT_EQ(four.einsums.at(name).ops, e.ops) << name;
  EXPECT_EQ(four.traffic_bytes.at("dram").read, one.traffic_bytes.at("dram").read + 3 * (4 - 2) * 8 * 4096 * 2);
  EXPECT_EQ(four.traffic_bytes.at("dram").write, one.traffic_bytes.at("dram").write + 3 * 8 * 4096 * 4);
  // Four devices' arrays for the same work: a quarter of the utilization, over the shorter run.
  EXPECT_NEAR(four.utilization.at("tensor") * 4 * static_cast<double>(four.cycles),
              one.utilization.at("tensor") * static_cast<double>(one.cycles), 1e-6 * static_cast<double>(one.cycles));
}

TEST(Devices, TheAllReduceTakesItsClosedForm) {
  // O's 131,072 bytes on each of 4 devices through NVLink's switch (450 GB/s, 2 us): the direct all-reduce,
  // 2 x 2 us + 2 x 3/4 x 131,072 B / 450 GB/s = 4.4369 us, 8,119.5 cycles at 1.83 GHz (8,120); 786,432 bytes over
  // links.
  const Evaluated e = tp(4);
  const CollectiveCost c =
      collective_cost(*e.point.arch.devices(), Collective::all_reduce, CollectiveAlgorithm::direct, 131072);
  EXPECT_EQ(e.stats.groups.at("all-reduce").cycles, static_cast<int64_t>(std::ceil(c.seconds * 1.83e9)));
  EXPECT_EQ(e.stats.groups.at("all-reduce").cycles, 8120);
  EXPECT_EQ(e.stats.traffic_bytes.at("nvlink").write, 786432);
  EXPECT_EQ(e.stats.groups.at("all-reduce").devices, 4);
  // On one device there is nothing to reduce.
  EXPECT_EQ(tp(1).stats.groups.at("all-reduce").cycles, 0);
}

TEST(Devices, TensorParallelDecodeFallsUntilTheAllReduceDominates) {
  // MHA (32 KV heads) on a ring of NVLink links. The step is: the heads' work W, which N devices share, less
  // what no share shortens: each of the five spread groups waits a DRAM latency (600 cycles) for its first load
  // and another for its last store, F = 6,000; the residual R, on one device; and the ring all-reduce of O's S
  // bytes, 2 (N - 1) (a + S / (N B)), whose latency term grows with N. The closed form
  // (W - F) / N + F + R + AR(N), with W and R measured on one device, is within 0.1% of every point up to eight
  // devices and within 1% beyond (where a device's share is under four KV heads, the mapping's tiles shrink:
  // more of them, each with its latency), and puts the fastest device count where einsim finds it.
  const Sets mha{{"KH", "32"}};
  const Sets ring{{"nvlink.topology", "ring"}};
  const Evaluated one = tp(1, mha, ring);
  const int64_t residual = one.stats.groups.at("residual").cycles;
  const double work = static_cast<double>(one.stats.cycles - residual), fixed = 5 * 2 * 600;
  const double bytes = 8 * 4096 * 4, a = 2e-6, link = 450e9, clock = 1.83e9;
  int best_einsim = 0, best_closed = 0;
  double fastest_einsim = INFINITY, fastest_closed = INFINITY, previous = INFINITY;
  for (const int n : {1, 2, 4, 8, 16, 32}) {
    const Stats s = tp(n, mha, ring).stats;
    ASSERT_TRUE(s.status.ok) << s.status.reason;
    const double reduce = n == 1 ? 0 : 2.0 * (n - 1) * (a + bytes / (n * link)) * clock;
    EXPECT_EQ(s.groups.at("all-reduce").cycles, static_cast<int64_t>(std::ceil(reduce))) << n;
    const double closed = (work - fixed) / n + fixed + static_cast<double>(residual) + std::ceil(reduce);
    const auto cycles = static_cast<double>(s.cycles);
    EXPECT_NEAR(cycles, closed, (n <= 8 ? 0.001 : 0.01) * closed) << n;
    if (cycles < fastest_einsim) fastest_einsim = cycles, best_einsim = n;
    if (closed < fastest_closed) fastest_closed = closed, best_closed = n;
    // Falling until the fastest count, rising after it.
    if (best_einsim == n)
      EXPECT_LT(cycles, previous) << n;
    else
      EXPECT_GT(cycles, previous) << n;
    previous = cycles;
  }
  EXPECT_EQ(best_einsim, best_closed);
  EXPECT_EQ(best_einsim, 4);
}

TEST(Devices, ExpertParallelExpertsAndTheirCombine) {
  // Mixtral's eight experts on four devices (moe-ffn-ep.yaml, 64 tokens routed uniformly, four hot): each device
  // runs one hot and one other expert, exactly as one device with one of each (every expert still gets
  // 64 x 2 / 8 tokens), and the combine all-reduces the step's 64 x 4,096 bf16 outputs: 2 x 2 us +
  // 2 x 3/4 x 524,288 B / 450 GB/s = 5.7476 us, 10,519 cycles at 1.83 GHz.
  auto moe = [](int devices, Sets params) {
    params.insert(params.begin(), {"T", "64"});
    const DesignPoint p = test::point("configs/mappings/llm/moe-ffn-ep.yaml", std::move(params), {kMixtral},
                                      {{"nvlink.devices", std::to_string(devices)}});
    return evaluate_analytical(p.cascade, p.arch, p.program);
  };
  const Stats four = moe(4, {{"NXH", "4"}});
  const Stats share = moe(1, {{"NXH", "1"}, {"NXC", "1"}, {"TC", "T * TOPK / NX"}});
  ASSERT_TRUE(four.status.ok) << four.status.reason;
  ASSERT_TRUE(share.status.ok) << share.status.reason;
  for (const char* g : {"hot-experts", "other-experts"}) {
    EXPECT_EQ(four.groups.at(g).cycles, share.groups.at(g).cycles) << g;
    EXPECT_EQ(four.groups.at(g).devices, 4) << g;
  }
  EXPECT_EQ(four.groups.at("combine").cycles, 10519);
  // Six other experts do not split over four devices.
  EXPECT_FALSE(moe(4, {{"NXH", "2"}}).status.ok);
}

// Expert parallelism after a data-parallel attention (moe-ffn-ep-a2a.yaml): each device routes its own 32 of the 128
// tokens, and an all-to-all dispatches their copies to the experts' devices and another brings the outputs back:
// each device's buffer 128 x 2 x 4,096 x 2 / 4 = 524,288 bytes, direct through the switch 2 us + 3/4 x 524,288 B /
// 450 GB/s = 2.8738 us, 5,260 cycles; on a ring, 3 x 2 us + 3 x 524,288 B / (2 x 450 GB/s). The experts run as in
// moe-ffn-ep.yaml, so the two designs' steps differ by their router and their collectives only.
TEST(Devices, AllToAllDispatchAndCombineTakeTheirClosedForms) {
  auto moe = [](const std::string& mapping, const std::string& topology) {
    const DesignPoint p = test::point("configs/mappings/llm/" + mapping, {{"T", "128"}, {"NXH", "4"}}, {kMixtral},
                                      {{"nvlink.devices", "4"}, {"nvlink.topology", topology}});
    Evaluated e{p, evaluate_analytical(p.cascade, p.arch, p.program)};
    EXPECT_TRUE(e.stats.status.ok) << e.stats.status.reason;
    return e;
  };
  for (const auto& [topology, algorithm] :
       {std::pair{"switch", CollectiveAlgorithm::direct}, std::pair{"ring", CollectiveAlgorithm::ring}}) {
    const Evaluated a2a = moe("moe-ffn-ep-a2a.yaml", topology);
    const CollectiveCost c = collective_cost(*a2a.point.arch.devices(), Collective::all_to_all, algorithm, 524288);
    const auto cycles = static_cast<int64_t>(std::ceil(c.seconds * 1.83e9));
    EXPECT_EQ(a2a.stats.groups.at("dispatch").cycles, cycles) << topology;
    EXPECT_EQ(a2a.stats.groups.at("combine").cycles, cycles) << topology;
    if (algorithm == CollectiveAlgorithm::direct) {
      EXPECT_EQ(cycles, 5260);
    }
    EXPECT_EQ(a2a.stats.groups.at("router").devices, 4) << topology;
    const Evaluated reduce = moe("moe-ffn-ep.yaml", topology);
    for (const char* g : {"hot-experts", "other-experts"})
      EXPECT_EQ(a2a.stats.groups.at(g).cycles, reduce.stats.groups.at(g).cycles) << g << " " << topology;
    // The experts' run (the two kinds share the units) takes the same time in both designs.
    EXPECT_EQ(a2a.stats.cycles - a2a.stats.groups.at("router").cycles - 2 * cycles,
              reduce.stats.cycles - reduce.stats.groups.at("router").cycles - reduce.stats.groups.at("combine").cycles)
        << topology;
  }
}

TEST(Devices, ATileOfADevicesShareThatDoesNotDivideSaysHowManyDevices) {
  // Mixtral's eight KV heads on three devices: "KH / devices" is 8 / 3.
  const Stats s = tp(3).stats;
  EXPECT_FALSE(s.status.ok);
  EXPECT_NE(s.status.reason.find("8 / 3 is not an integer (use cdiv to round up) (on 3 devices)"), std::string::npos)
      << s.status.reason;
}

TEST(Devices, TheFootprintIsEachDevicesShareAndMustFit) {
  // Mixtral's attention at B = 32, L = 4K on two devices. Split by heads, each holds half the weights (WQ and WO
  // 32 MiB, WK and WV 8 MiB: 40 MiB), half the KV cache (2 x 32 x 8 x 128 x 4,096 x 2 B / 2 = 256 MiB), half of
  // Q and A (fp32, 512 KiB each) and of the new KN and VN (64 KiB each); whole, the tokens X and the result R
  // (256 KiB each) and its partial sum O (fp32, 512 KiB).
  const int64_t kib = 1024, mib = kib * kib;
  const int64_t share = 40 * mib + 256 * mib + 2 * 256 * kib + 2 * 32 * kib + 2 * 256 * kib + 512 * kib;
  EXPECT_EQ(tp(2, {{"B", "32"}, {"L", "4096"}}).stats.footprint_bytes, share);
  const Stats refused = tp(2, {{"B", "32"}, {"L", "4096"}}, {{"dram.capacity", "200 MiB"}}).stats;
  EXPECT_FALSE(refused.status.ok);
  EXPECT_NE(refused.status.reason.find("need 297.56 MiB on each device (KC 128 MiB, VC 128 MiB, WO 16 MiB), more "
                                       "than its capacity of 200 MiB"),
            std::string::npos)
      << refused.status.reason;
}

// A minimal mapping on the H100-like xPU with NVLink set to `devices`: one group computing O, spread as `spread`
// says, and `extra` groups after it.
std::string o_mapping(const std::string& spread, const std::string& extra = "") {
  return test::temp_file(
      "devices-mapping.yaml",
      "version: 1\nname: m\narch: " + std::filesystem::absolute("configs/arch/xpu-h100.yaml").string() +
          "\nworkload: " + std::filesystem::absolute("configs/workloads/gemm.yaml").string() +
          "\ngroups:\n  - name: gemm\n" + spread +
          "    loops: {dram: [{index: n, tile: 64}, {index: k, tile: 16}]}\n"
          "    einsums: {Z: {unit: tensor, spatial: {rows: k, cols: n}}}\n" +
          extra);
}

Stats gemm(const std::string& mapping, int devices) {
  const DesignPoint p = test::point(mapping, {}, {}, {{"nvlink.devices", std::to_string(devices)}});
  return evaluate_analytical(p.cascade, p.arch, p.program);
}

TEST(Devices, WhatLoweringRefuses) {
  // A loop whose iterations do not split evenly.
  const Stats uneven = gemm(o_mapping("    devices: n\n"), 3);
  EXPECT_FALSE(uneven.status.ok);
  EXPECT_NE(uneven.status.reason.find("do not split evenly over 3 devices"), std::string::npos) << uneven.status.reason;
  // A reduction may be split: each device stores its partial sum of Z, for a collective to add up (K = 64 in
  // four tiles of 16, one a device).
  const Stats split = gemm(o_mapping("    devices: k\n"), 4);
  EXPECT_TRUE(split.status.ok) << split.status.reason;
  EXPECT_EQ(split.groups.at("gemm").devices, 4);
  // An index with no loop.
  EXPECT_THROW(gemm(o_mapping("    devices: m\n"), 4), UserError);
  // A collective of a tensor the workload lacks, and one running with the group that produces its tensor.
  EXPECT_THROW(gemm(o_mapping("", "  - name: r\n    collective: {op: all_reduce, tensor: W}\n"), 4), UserError);
  EXPECT_THROW(
      gemm(o_mapping("", "  - name: r\n    concurrent: true\n    collective: {op: all_reduce, tensor: Z}\n"), 4),
      UserError);
  // Tree all-reduce on a ring.
  const std::string tree = o_mapping("", "  - name: r\n    collective: {op: all_reduce, tensor: Z, algorithm: tree}\n");
  EXPECT_THROW(test::point(tree, {}, {}, {{"nvlink.devices", "4"}, {"nvlink.topology", "ring"}}), UserError);
  EXPECT_NO_THROW(gemm(tree, 4));
}

TEST(Devices, WithoutAnInterconnectThereAreNoDevices) {
  const std::string spread =
      test::temp_file("devices-no-link.yaml",
                      "version: 1\nname: m\narch: " + std::filesystem::absolute("configs/arch/systolic.yaml").string() +
                          "\nworkload: " + std::filesystem::absolute("configs/workloads/gemm.yaml").string() +
                          "\ngroups:\n  - name: gemm\n    devices: n\n    loops: {dram: [n]}\n"
                          "    einsums: {Z: {unit: array, spatial: {rows: k, cols: n}}}\n");
  EXPECT_THROW(test::point(spread), UserError);
}

}  // namespace
}  // namespace einsim
