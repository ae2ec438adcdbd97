// Processing in memory: PIM units' bandwidth from the DRAM's organization and rules, placement by roofline,
// energy by the level's per-bit figure, and groups that run concurrently on the xPU and a PIM.
#include <gtest/gtest.h>

#include <cmath>

#include "arch/kinds/pim/pim.hpp"
#include "arch/dram/pim.hpp"
#include "sim/analytical.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

struct Point : DesignPoint {
  Stats stats;
};

Point evaluate(const std::string& mapping, const std::string& arch,
               std::vector<std::pair<std::string, std::string>> params, std::vector<std::string> presets = {}) {
  Point p{test::point(mapping, std::move(params), std::move(presets), {}, arch), {}};
  p.stats = evaluate_analytical(p.cascade, p.arch, p.program);
  return p;
}

const std::string kAttention = "configs/mappings/llm/decode-attention.yaml";
const std::string kMoe = "configs/mappings/llm/moe-ffn.yaml";
const std::string kFfn = "configs/mappings/llm/ffn-swiglu.yaml";
const std::string kServing = "configs/mappings/llm/serving-attention.yaml";
const std::string kMixtral = "configs/workloads/models/mixtral-8x7b.yaml";

TEST(Pim, BankPimBandwidthIsTheOrganizationsAllBankRate) {
  // AttAcc's unit per bank on hbm3-5.2, refresh off: an all-bank ACT, 32 MACs of 32 B (a 1 KB row) every
  // nCCDAB = 4, PRE_AB at the last MAC + nRTP, the next ACT_AB nRP later:
  // ACT 0, MACs 19 .. 19 + 31 x 4 = 143, PRE 143 + 8 = 151, ACT 151 + 19 = 170 (>= nRC 63).
  // So each of 32 pseudo-channels x 32 banks delivers 1 KB every 170 cycles of 769 ps.
  const dram::DramPreset p = dram::load_dram_preset("configs/dram/hbm3-5.2.yaml", {{"controller.refresh", "false"}});
  const double closed_form = 32.0 * 32 * 1024 / (170 * 769e-12);
  EXPECT_NEAR(dram::pim_internal_Bps(p, dram::PimLevel::bank, 1), closed_form, closed_form * 1e-12);
  // The arch's PIM spans five such stacks, with refresh on as its preset says.
  const ArchSpec a = load_arch("configs/arch/attacc.yaml");
  const auto& pim = a.find("pim")->as<PimComponent>();
  EXPECT_EQ(pim.units, 5 * 32 * 32);
  EXPECT_DOUBLE_EQ(pim.bandwidth, 5 * dram::pim_internal_Bps(*pim.device, dram::PimLevel::bank, 1));
  EXPECT_LT(pim.bandwidth, 5 * closed_form);
}

TEST(Pim, GemvOnBankPimMovesItsWeightsAtTheInternalBandwidth) {
  // One token through a dense FFN: three GEMVs whose weights (D x FF x 3 x 2 bytes) stream from the banks.
  const Point p = evaluate(kFfn, "configs/arch/attacc.yaml", {{"N", "1"}, {"D", "4096"}, {"FF", "14336"}});
  ASSERT_TRUE(p.stats.status.ok) << p.stats.status.reason;
  EXPECT_EQ(p.stats.placements.at("ffn").place, "pim");
  const double weights = 4096.0 * 14336 * 3 * 2;
  const auto& pim = p.arch.find("pim")->as<PimComponent>();
  EXPECT_EQ(p.stats.traffic_bytes.at("dram").read, static_cast<int64_t>(weights) + 4096 * 2);  // and the token, once
  const double bytes =
      static_cast<double>(p.stats.traffic_bytes.at("dram").read + p.stats.traffic_bytes.at("dram").write);
  EXPECT_EQ(p.stats.roofline_memory_cycles, static_cast<int64_t>(std::ceil(bytes * p.arch.clock_hz / pim.bandwidth)));
  // Bank-level units at 1 FLOP/B keep pace with their banks, but a block of 32 hidden columns is 131,072 MACs
  // over 5,120 units x 16 lanes: 1.6, so 2 cycles of 325.1 MHz = 12 cycles of 1.83 GHz (11.26 rounded up), and
  // its silu-times-up 32 x 13 lane-cycles take 1 cycle = 6. Per block 3 x 12 + 6 = 42 cycles against its bank
  // reads' 38.5: 448 blocks take 18,816 cycles, 9% above the bank reads alone. Before the first block the
  // first tile of each weight (3 x 256 KB) and the token (8 KB) arrive, nRCD + nCL = 38 cycles of 769 ps (54 of
  // 1.83 GHz) after their reads; after the last, the output (8 KB) leaves, 54 cycles again.
  const double per_cycle = pim.bandwidth / p.arch.clock_hz;
  const int64_t latency = 54;
  const auto head = static_cast<int64_t>(std::ceil((3 * 262144 + 8192) / per_cycle)) + latency;
  const auto tail = static_cast<int64_t>(std::ceil(8192 / per_cycle)) + latency;
  EXPECT_EQ(p.stats.cycles, head + 448 * (3 * 12 + 6) + tail);
  EXPECT_GT(p.stats.cycles, p.stats.roofline_memory_cycles);
  // Energy from the commands: each 256 KB weight tile gives each of the 5,120 units 51.2 B, so 2 accesses of
  // 32 B from one row its bank opens for it (the token's 8 KB: 1 access). Each ACT costs the 1 KB row's
  // 8,192 x 0.11 pJ, each access 256 bits x 0.44 pJ: on 51-byte shares the activations cost 4x the reads.
  const std::map<std::string, double>& e = p.stats.energy_by_action_pJ.at("pim");
  EXPECT_DOUBLE_EQ(e.at("bank_activate"), 5120.0 * (448 * 3 + 1) * 8192 * 0.11);
  EXPECT_DOUBLE_EQ(e.at("bank_read"), 5120.0 * (448 * 3 * 2 + 1) * 256 * 0.44);
}

TEST(Pim, AutoPlacementSendsLowOpPerByteWorkToPimAndTheRestToTheXpu) {
  for (const std::string arch : {"xpu-h100-logic-pim", "xpu-h100-bank-pim", "attacc"}) {
    const std::string file = "configs/arch/" + arch + ".yaml";
    // Decode attention (Op/B about 2 x the GQA group / 2 bytes = 4) goes to the PIM; the projections stay.
    const Point a = evaluate(kAttention, file, {{"B", "64"}, {"L", "4096"}}, {kMixtral});
    ASSERT_TRUE(a.stats.status.ok) << a.stats.status.reason;
    EXPECT_EQ(a.stats.placements.at("attention").place, "pim") << arch;
    EXPECT_EQ(a.stats.placements.at("q-projection").place, "tensor") << arch;
    EXPECT_NEAR(a.stats.placements.at("attention").op_per_byte, 4, 0.1) << arch;
    // Experts with 16 tokens each (Op/B 16) go to the Logic-PIM (ridge 8, 4x the bandwidth), not to bank PIM
    // (ridge 1: compute-bound there).
    const Point m = evaluate(kMoe, file, {{"T", "64"}}, {kMixtral});
    ASSERT_TRUE(m.stats.status.ok) << m.stats.status.reason;
    EXPECT_EQ(m.stats.placements.at("other-experts").place, arch == "xpu-h100-logic-pim" ? "pim" : "tensor+cuda")
        << arch;
    // A prefill of 512 tokens through the FFN (Op/B about 512) stays on the xPU.
    const Point f = evaluate(kFfn, file, {{"N", "512"}, {"D", "4096"}, {"FF", "14336"}});
    ASSERT_TRUE(f.stats.status.ok) << f.stats.status.reason;
    EXPECT_EQ(f.stats.placements.at("ffn").place, "tensor+cuda") << arch;
    // A continuous-batching step: its decode tokens' attention goes to the PIM, the prompt's and every
    // projection (Op/B in the hundreds) stay on the xPU.
    const Point s = evaluate(kServing, file, {{"B", "64"}, {"L", "4096"}, {"P", "1024"}}, {kMixtral});
    ASSERT_TRUE(s.stats.status.ok) << s.stats.status.reason;
    EXPECT_EQ(s.stats.placements.at("decode-attention").place, "pim") << arch;
    EXPECT_EQ(s.stats.placements.at("prefill-attention").place, "tensor+cuda") << arch;
    EXPECT_EQ(s.stats.placements.at("q-projection").place, "tensor") << arch;
    for (const Point* p : {&a, &m, &f, &s})
      for (const auto& [group, pl] : p->stats.placements)
        for (const auto& [place, o] : pl.options)  // the chosen place has the least roofline time
          EXPECT_LE(pl.options.at(pl.place).roofline_s, o.roofline_s) << arch << " " << group << " " << place;
  }
}

TEST(Pim, EnergyOfTheCacheReadsDropsByTheLevelsPerBitRatio) {
  const Point x = evaluate(kAttention, "configs/arch/xpu-h100.yaml", {{"B", "64"}, {"L", "4096"}}, {kMixtral});
  const Point l =
      evaluate(kAttention, "configs/arch/xpu-h100-logic-pim.yaml", {{"B", "64"}, {"L", "4096"}}, {kMixtral});
  ASSERT_TRUE(x.stats.status.ok && l.stats.status.ok);
  // The KV cache (B x KH x (E + F) x L x 2 bytes) is read once either way: across the interface at 3.59 pJ/b,
  // or by the Logic-PIM through its TSVs at 1.81 pJ/b.
  // The bytes the PIM reads (the cache and the queries) are those that no longer cross the interface; the rest
  // (the projections' weights) still does.
  const double cache = 64.0 * 8 * 256 * 4096 * 2;
  const double pim_bytes = l.stats.energy_by_action_pJ.at("pim").at("bank_read") / (8 * 1.81);
  const double x_dram = x.stats.energy_by_action_pJ.at("dram").at("read");
  const double l_dram = l.stats.energy_by_action_pJ.at("dram").at("read");
  EXPECT_NEAR(pim_bytes, (x_dram - l_dram) / (8 * 3.59), 1e-9 * pim_bytes);
  EXPECT_GE(pim_bytes, cache);
  EXPECT_LT(pim_bytes, cache * 1.01);
  EXPECT_LT(l.stats.energy_pJ, x.stats.energy_pJ);
}

TEST(Pim, ConcurrentGroupsOverlapOnTheXpuAndThePim) {
  // A skewed load: one hot expert with 51 tokens (Op/B 51: the xPU) and seven with 11 (the Logic-PIM) run at
  // once, so the step takes less than their sum and no less than either unit's busy time.
  const Point p =
      evaluate(kMoe, "configs/arch/xpu-h100-logic-pim.yaml", {{"T", "64"}, {"NXH", "1"}, {"TH", "51"}}, {kMixtral});
  ASSERT_TRUE(p.stats.status.ok) << p.stats.status.reason;
  EXPECT_EQ(p.stats.placements.at("hot-experts").place, "tensor+cuda");
  EXPECT_EQ(p.stats.placements.at("other-experts").place, "pim");
  const int64_t pim = p.stats.busy_cycles.at("pim"), tensor = p.stats.busy_cycles.at("tensor");
  EXPECT_GE(p.stats.cycles, std::max(pim, tensor));
  EXPECT_LT(p.stats.cycles, p.stats.busy_cycles.at("pim") + p.stats.roofline_memory_cycles);
}

}  // namespace
}  // namespace einsim
