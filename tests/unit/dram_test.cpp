// The bank-level DRAM model: every timing rule at its edge, the address mappings, the controller's policies,
// and the bandwidth, refresh and energy figures they add up to.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <set>
#include <tuple>

#include "arch/kinds/dram/dram.hpp"
#include "arch/dram/model.hpp"
#include "arch/dram/pim.hpp"
#include "arch/spec.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim::dram {
namespace {

const DramPreset& hbm3() {
  static const DramPreset p = load_dram_preset("configs/dram/hbm3-5.2.yaml");
  return p;
}

// hbm3-5.2 read as AttAcc's HBM3-PIM model reads it: nRRDS and nFAW per stack ID.
const DramPreset& hbm3_per_stack_id() {
  static const DramPreset p = load_dram_preset("configs/dram/hbm3-5.2.yaml", {{"timing.activate_scope", "rank"}});
  return p;
}
void per_stack_id(DramTiming& t) { t.activate_scope = ActivateScope::rank; }

BankAddress at(int32_t rank, int32_t bank_group, int32_t bank, int32_t row = 7) {
  return BankAddress{rank, bank_group, bank, row, 0};
}

struct Step {
  Command cmd;
  BankAddress where;
  int64_t cycle;
};

struct RuleCase {
  std::string rule;
  std::vector<Step> setup;
  Command cmd;
  BankAddress where;
  int64_t expected;                          // the first cycle the rule allows
  std::function<void(DramTiming&)> tweak{};  // makes the rule under test the binding one
  bool ddr4 = false;                         // on ddr4-3200 (one command bus, two ranks with nRTRS 1)
  double power_limit = 1;                    // pim.power_limit
};

// ACT to bank 1 of every bank group of both stack IDs, a cycle apart (stack IDs alternating).
std::vector<Step> sb_acts() {
  std::vector<Step> s;
  for (int32_t g = 0; g < 4; ++g)
    for (int32_t r = 0; r < 2; ++r) s.push_back({Command::act, at(r, g, 1), 2 * g + r});
  return s;
}
std::vector<Step> with(std::vector<Step> s, Step more) {
  s.push_back(more);
  return s;
}

// hbm3-5.2: nCL 19, nCWL 6, nRCD 19, nRP 19, nRAS 45, nRC 63, nWR 21, nRTP 8, nWTRS 8, nWTRL 11, nCCDS 2,
// nCCDL 4, nRRDS 2, nRRDL 4, nFAW 39 (both per pseudo-channel), nRFC 456, nBL 2, nRTW 2. A = rank (stack ID) 0,
// bank group 0, bank 0.
std::vector<RuleCase> rule_cases() {
  const BankAddress A = at(0, 0, 0), B = at(0, 0, 1), C = at(0, 1, 0), D = at(1, 0, 0);
  using enum Command;
  return {
      {"nRCDRD: ACT -> RD, same bank", {{act, A, 0}}, rd, A, 19},
      {"nRCDWR: ACT -> WR, same bank", {{act, A, 0}}, wr, A, 17, [](DramTiming& t) { t.nRCDWR = 17; }},
      {"nRAS: ACT -> PRE, same bank", {{act, A, 0}}, pre, A, 45},
      // nRAS + nRP = 64 would hide nRC = 63: with nRP 10 the row cycle binds.
      {"nRC: ACT -> ACT, same bank", {{act, A, 0}, {pre, A, 45}}, act, A, 63, [](DramTiming& t) { t.nRP = 10; }},
      {"nRP: PRE -> ACT, same bank", {{act, A, 0}, {pre, A, 100}}, act, A, 100 + 19},
      {"nWR: WR -> PRE, same bank", {{act, A, 0}, {wr, A, 19}}, pre, A, 19 + 6 + 2 + 21},
      {"nRTP: RD -> PRE, same bank", {{act, A, 0}, {rd, A, 40}}, pre, A, 40 + 8},
      {"nRRDL: ACT -> ACT, same bank group", {{act, A, 0}}, act, B, 4},
      {"nRRDS: ACT -> ACT, other bank group", {{act, A, 0}}, act, C, 2},
      {"nFAW: a fifth ACT in the window",
       {{act, at(0, 0, 0), 0}, {act, at(0, 1, 0), 2}, {act, at(0, 2, 0), 4}, {act, at(0, 3, 0), 6}},
       act,
       at(0, 0, 1),
       39},
      // JESD238 counts the activate limits per pseudo-channel: both stack IDs share them.
      {"nRRDS: ACT -> ACT, other stack ID", {{act, A, 0}}, act, D, 2},
      {"nFAW: a fifth ACT in the window, over both stack IDs",
       {{act, at(0, 0, 0), 0}, {act, at(1, 1, 0), 2}, {act, at(0, 2, 0), 4}, {act, at(1, 3, 0), 6}},
       act,
       at(1, 0, 1),
       39},
      // AttAcc's reading (activate_scope: rank): another stack ID's window is empty.
      {"per stack ID: ACT -> ACT, other stack ID, only the command bus", {{act, A, 0}}, act, D, 1, per_stack_id},
      {"per stack ID: four ACTs of one stack ID leave the other's window open",
       {{act, at(0, 0, 0), 0}, {act, at(0, 1, 0), 2}, {act, at(0, 2, 0), 4}, {act, at(0, 3, 0), 6}},
       act,
       at(1, 0, 1),
       7,
       per_stack_id},
      {"nCCDL: RD -> RD, same bank group", {{act, A, 0}, {act, B, 4}, {rd, A, 23}}, rd, B, 23 + 4},
      {"nCCDS: RD -> RD, other bank group", {{act, A, 0}, {act, C, 2}, {rd, A, 21}}, rd, C, 21 + 2},
      {"nCCDL: WR -> WR, same bank group", {{act, A, 0}, {act, B, 4}, {wr, A, 23}}, wr, B, 23 + 4},
      {"nCCDS: WR -> WR, other bank group", {{act, A, 0}, {act, C, 2}, {wr, A, 21}}, wr, C, 21 + 2},
      {"nWTRL: WR -> RD, same bank group", {{act, A, 0}, {wr, A, 19}}, rd, A, 19 + 6 + 2 + 11},
      {"nWTRS: WR -> RD, other bank group", {{act, A, 0}, {act, C, 2}, {wr, A, 21}}, rd, C, 21 + 6 + 2 + 8},
      {"nRTW: RD -> WR turnaround", {{act, A, 0}, {rd, A, 19}}, wr, A, 19 + 19 + 2 + 2 - 6},
      {"nRFC: REF -> ACT, same rank", {{ref, A, 0}}, act, A, 456},
      {"nRFC: REF -> REF, same rank", {{ref, A, 0}}, ref, A, 456},
      // ACT at 0 allows a REF at nRC = 63; the PRE at 45 pushes it to 45 + nRP = 64.
      {"nRP: PRE -> REF", {{act, A, 0}, {pre, A, 45}}, ref, A, 45 + 19},
      {"nRC: ACT -> REF", {{act, A, 0}, {pre, A, 45}}, ref, A, 63, [](DramTiming& t) { t.nRP = 10; }},
      {"row command bus: one command a cycle", {{act, A, 0}}, act, D, 1, per_stack_id},
      {"dual command bus: a column command beside a row command", {{act, A, 0}, {act, D, 19}}, rd, A, 19},
      // ddr4-3200: nRCD 22, nCCDS 4, nBL 4, nRTRS 1.
      {"single command bus: a column command waits for a row command",
       {{act, A, 0}, {act, D, 22}},
       rd,
       A,
       23,
       {},
       true},
      {"nRTRS: RD -> RD, other rank", {{act, A, 0}, {act, D, 1}, {rd, A, 23}}, rd, D, 23 + 4 + 1, {}, true},
      // Per-bank refresh. hbm3-5.2: nRFCpb 209, nPBR2PBR = nPBR2ACT = 11 (tweaked apart where both could bind).
      {"nRFCpb: REFpb -> ACT, same bank", {{refpb, A, 0}}, act, A, 209},
      {"nPBR2ACT: REFpb -> ACT, other bank of the rank",
       {{refpb, A, 0}},
       act,
       B,
       7,
       [](DramTiming& t) { t.nPBR2ACT = 7; }},
      {"nPBR2PBR: REFpb -> REFpb, other bank of the rank",
       {{refpb, A, 0}},
       refpb,
       B,
       20,
       [](DramTiming& t) { t.nPBR2PBR = 20; }},
      {"row command bus: REFpb -> REFpb of another rank", {{refpb, A, 0}}, refpb, D, 1},
      {"nRRDS: ACT -> REFpb, other bank of the rank", {{act, A, 0}}, refpb, C, 2},
      {"nRP: PRE -> REFpb", {{act, A, 0}, {pre, A, 45}}, refpb, A, 45 + 19},
      {"nRC: ACT -> REFpb", {{act, A, 0}, {pre, A, 45}}, refpb, A, 63, [](DramTiming& t) { t.nRP = 10; }},
      {"nRFC: REF -> REFpb", {{ref, A, 0}}, refpb, B, 456},
      {"nRFCpb: REFpb -> REF", {{refpb, B, 0}}, ref, A, 209},
      // Broadcast (PIM) commands: ACT_AB, MAC_AB and PRE_AB act on every bank of the controller (both stack IDs),
      // MAC_SB on one bank of every bank group. hbm3-5.2's nCCDAB is 4 (= nCCDL).
      {"nRCDRD: ACT_AB -> MAC_AB", {{act_ab, A, 0}}, mac_ab, A, 19},
      {"nCCDAB: MAC_AB -> MAC_AB",
       {{act_ab, A, 0}, {mac_ab, A, 19}},
       mac_ab,
       A,
       19 + 6,
       [](DramTiming& t) { t.nCCDAB = 6; }},
      {"nCCDAB is never below nCCDL",
       {{act_ab, A, 0}, {mac_ab, A, 19}},
       mac_ab,
       A,
       19 + 4,
       [](DramTiming& t) { t.nCCDAB = 1; }},
      // ceil(4 / 0.6667) = 6: AttAcc's power-constrained interval.
      {"power limit stretches MAC_AB -> MAC_AB",
       {{act_ab, A, 0}, {mac_ab, A, 19}},
       mac_ab,
       A,
       19 + 6,
       {},
       false,
       0.6667},
      {"power limit 2/3 in binary", {{act_ab, A, 0}, {mac_ab, A, 19}}, mac_ab, A, 19 + 6, {}, false, 2.0 / 3},
      {"nRTP: MAC_AB -> PRE_AB", {{act_ab, A, 0}, {mac_ab, A, 40}}, pre_ab, A, 40 + 8},
      {"nRAS: ACT_AB -> PRE_AB", {{act_ab, A, 0}}, pre_ab, A, 45},
      {"nRP: PRE_AB -> ACT_AB", {{act_ab, A, 0}, {pre_ab, A, 100}}, act_ab, A, 100 + 19},
      {"nRC: ACT_AB -> ACT_AB", {{act_ab, A, 0}, {pre_ab, A, 45}}, act_ab, A, 63, [](DramTiming& t) { t.nRP = 10; }},
      // With per-bank commands and refresh, through each bank's terms.
      {"nRP: PRE -> ACT_AB", {{act, D, 0}, {pre, D, 45}}, act_ab, A, 45 + 19},
      {"nRC: ACT -> ACT_AB", {{act, D, 0}, {pre, D, 45}}, act_ab, A, 63, [](DramTiming& t) { t.nRP = 10; }},
      {"nRCDRD: ACT_AB -> RD", {{act_ab, A, 0}}, rd, D, 19},
      {"nRAS: ACT_AB -> PRE", {{act_ab, A, 0}}, pre, D, 45},
      {"nRP: PRE_AB -> REF", {{act_ab, A, 0}, {pre_ab, A, 45}}, ref, D, 45 + 19},
      {"nRC: ACT_AB -> REF", {{act_ab, A, 0}, {pre_ab, A, 45}}, ref, D, 63, [](DramTiming& t) { t.nRP = 10; }},
      {"nRFC: REF -> ACT_AB", {{ref, D, 0}}, act_ab, A, 456},
      {"nCCDL: RD -> MAC_AB, same bank group", {{act_ab, A, 0}, {rd, C, 19}}, mac_ab, A, 19 + 4},
      {"nCCDL: MAC_AB -> RD, same bank group", {{act_ab, A, 0}, {mac_ab, A, 19}}, rd, D, 19 + 4},
      {"nWTRL: WR -> MAC_AB", {{act_ab, A, 0}, {wr, C, 19}}, mac_ab, A, 19 + 6 + 2 + 11},
      {"nRTP: MAC_AB -> PRE", {{act_ab, A, 0}, {mac_ab, A, 50}}, pre, D, 50 + 8},
      // MAC_SB reads bank 1 of each of the 8 bank groups (4 per stack ID): ACTs at 0..7 (nRRDS 2 per stack ID, as
      // AttAcc's model counts it).
      {"nRCDRD: the last ACT -> MAC_SB", sb_acts(), mac_sb, at(0, 0, 1), 7 + 19, per_stack_id},
      {"nCCDL: MAC_SB -> MAC_SB", with(sb_acts(), {mac_sb, at(0, 0, 1), 26}), mac_sb, at(0, 0, 1), 26 + 4,
       per_stack_id},
      {"power limit stretches MAC_SB -> MAC_SB", with(sb_acts(), {mac_sb, at(0, 0, 1), 26}), mac_sb, at(0, 0, 1),
       26 + 6, per_stack_id, false, 0.6667},
      // nRAS 20: the last ACT (7) allows the PRE at 27, the MAC at 26 at 34.
      {"nRTP: MAC_SB -> PRE of a bank it read", with(sb_acts(), {mac_sb, at(0, 0, 1), 26}), pre, at(1, 3, 1), 26 + 8,
       [](DramTiming& t) { per_stack_id(t), t.nRAS = 20; }},
      {"nCCDL: MAC_SB -> RD, same bank group", with(sb_acts(), {mac_sb, at(0, 0, 1), 26}), rd, at(0, 0, 1), 26 + 4,
       per_stack_id},
  };
}

TEST(DramTiming, EveryRuleRefusesOneCycleEarlyAndAcceptsOnTime) {
  const DramPreset ddr4 = load_dram_preset("configs/dram/ddr4-3200.yaml");
  for (const RuleCase& c : rule_cases()) {
    SCOPED_TRACE(c.rule);
    const DramPreset& p = c.ddr4 ? ddr4 : hbm3();
    DramTiming t = p.timing;
    if (c.tweak) c.tweak(t);
    DeviceTiming dev(p.org, t, p.controller.dual_command_bus, DramPim{c.power_limit});
    for (const Step& s : c.setup) dev.issue(s.cmd, s.where, s.cycle);
    const int64_t last = c.setup.back().cycle;
    EXPECT_EQ(dev.earliest(c.cmd, c.where, last), c.expected);
    EXPECT_FALSE(dev.can_issue(c.cmd, c.where, c.expected - 1));
    EXPECT_THROW(dev.issue(c.cmd, c.where, c.expected - 1), InternalError);
    EXPECT_TRUE(dev.can_issue(c.cmd, c.where, c.expected));
    dev.issue(c.cmd, c.where, c.expected);
  }
}

TEST(DramTiming, BankStateForbidsCommands) {
  DeviceTiming dev(hbm3().org, hbm3().timing, true);
  const BankAddress A = at(0, 0, 0);
  EXPECT_EQ(dev.earliest(Command::rd, A, 0), DeviceTiming::never);   // no row open
  EXPECT_EQ(dev.earliest(Command::pre, A, 0), DeviceTiming::never);  // nothing to close
  dev.issue(Command::act, A, 0);
  EXPECT_EQ(dev.open_row(A), 7);
  EXPECT_EQ(dev.earliest(Command::act, A, 100), DeviceTiming::never);  // already open
  EXPECT_EQ(dev.earliest(Command::ref, A, 100), DeviceTiming::never);  // a bank of the rank is open
  EXPECT_EQ(dev.earliest(Command::ref, at(1, 0, 0), 100), 100);        // the other stack ID may refresh
  // An auto-precharge closes the bank when a PRE first could (nRAS here) and frees it nRP later.
  EXPECT_EQ(dev.auto_precharge(A), 45);
  EXPECT_EQ(dev.earliest(Command::act, A, 0), 45 + 19);
}

TEST(DramTiming, RefpbNeedsItsBankClosed) {
  DeviceTiming dev(hbm3().org, hbm3().timing, true);
  dev.issue(Command::act, at(0, 1, 2), 0);
  EXPECT_EQ(dev.earliest(Command::refpb, at(0, 1, 2), 100), DeviceTiming::never);
  EXPECT_EQ(dev.earliest(Command::refpb, at(0, 1, 3), 100), 100);  // another bank may refresh while it is open
  EXPECT_THROW(dev.earliest(Command::refpb, at(0, 1, 3), DeviceTiming::RankFloor{}), InternalError);
}

TEST(DramTiming, BankStateForbidsBroadcastCommands) {
  DeviceTiming dev(hbm3().org, hbm3().timing, true);
  const BankAddress A = at(0, 0, 0), B = at(1, 3, 1);
  EXPECT_EQ(dev.earliest(Command::pre_ab, A, 0), DeviceTiming::never);  // nothing open
  EXPECT_EQ(dev.earliest(Command::mac_ab, A, 0), DeviceTiming::never);
  dev.issue(Command::act, B, 0);
  EXPECT_EQ(dev.earliest(Command::act_ab, A, 100), DeviceTiming::never);  // a bank is open
  EXPECT_EQ(dev.earliest(Command::mac_ab, A, 100), DeviceTiming::never);  // others are closed
  EXPECT_EQ(dev.earliest(Command::mac_sb, B, 100), DeviceTiming::never);  // bank 1 of the other groups is closed
  EXPECT_EQ(dev.earliest(Command::pre_ab, A, 100), 100);                  // closes what is open
  dev.issue(Command::pre_ab, A, 100);
  EXPECT_EQ(dev.open_row(B), -1);
  dev.issue(Command::act_ab, at(0, 0, 0, 9), 200);
  for (int32_t r = 0; r < 2; ++r)
    for (int32_t g = 0; g < 4; ++g)
      for (int32_t b = 0; b < 4; ++b) EXPECT_EQ(dev.open_row(at(r, g, b)), 9);
  EXPECT_EQ(dev.earliest(Command::ref, A, 300), DeviceTiming::never);  // every bank is open
  EXPECT_EQ(dev.earliest(Command::act, A, 300), DeviceTiming::never);
  EXPECT_THROW(dev.earliest(Command::mac_ab, A, DeviceTiming::RankFloor{}), InternalError);  // no per-bank form
}

TEST(DramMapping, EveryLocationOnceAndConsecutiveLinesSpread) {
  const DramOrg& o = hbm3().org;
  for (const AddressMapping m : {AddressMapping::ro_ba_ra_co_ch, AddressMapping::xor_interleaved}) {
    SCOPED_TRACE(std::string(mapping_name(m)));
    std::set<std::tuple<int32_t, int32_t, int32_t, int32_t, int32_t, int32_t>> seen;
    std::mt19937_64 rng(test::seed());
    std::vector<uint64_t> lines;
    for (uint64_t l = 0; l < 4096; ++l) lines.push_back(l);
    const auto capacity_lines = static_cast<uint64_t>(o.capacity_bytes()) / static_cast<uint64_t>(o.access_bytes());
    for (int i = 0; i < 4096; ++i) lines.push_back(4096 + rng() % (capacity_lines - 4096));
    std::sort(lines.begin(), lines.end());
    lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
    for (const uint64_t l : lines) {
      const Address a = decode(o, m, l * 32);
      ASSERT_LT(a.controller, o.controllers());
      ASSERT_LT(a.at.bank_group, o.bank_groups);
      ASSERT_LT(a.at.bank, o.banks);
      ASSERT_LT(a.at.row, o.rows);
      ASSERT_LT(a.at.column, o.columns());
      EXPECT_TRUE(seen.insert({a.controller, a.at.rank, a.at.bank_group, a.at.bank, a.at.row, a.at.column}).second)
          << "line " << l;
    }
    EXPECT_EQ(decode(o, m, 31).at.column, decode(o, m, 0).at.column);  // bytes of one access share it
  }
  // xor: 32 consecutive lines, 32 controllers; a controller's next lines walk the bank groups.
  std::set<int32_t> controllers, groups;
  for (uint64_t l = 0; l < 32; ++l) controllers.insert(decode(o, AddressMapping::xor_interleaved, l * 32).controller);
  for (uint64_t l = 0; l < 4; ++l) groups.insert(decode(o, AddressMapping::xor_interleaved, l * 32 * 32).at.bank_group);
  EXPECT_EQ(controllers.size(), 32u);
  EXPECT_EQ(groups.size(), 4u);
  // ro_ba_ra_co_ch: a controller's next line is the next column of the same row and bank.
  const Address a0 = decode(o, AddressMapping::ro_ba_ra_co_ch, 0),
                a1 = decode(o, AddressMapping::ro_ba_ra_co_ch, 32 * 32);
  EXPECT_EQ(a1.controller, a0.controller);
  EXPECT_EQ(a1.at.bank_group, a0.at.bank_group);
  EXPECT_EQ(a1.at.column, a0.at.column + 1);
}

std::vector<Request> stream(int64_t n, int64_t bytes, double write_ratio = 0, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::vector<Request> r(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    r[static_cast<size_t>(i)] =
        Request{static_cast<uint64_t>(i * bytes), std::bernoulli_distribution(write_ratio)(rng), 0};
  return r;
}

double bandwidth_Bps(const DramPreset& p, const RunResult& r) {
  return static_cast<double>(r.requests * p.org.access_bytes()) / (static_cast<double>(r.cycles) / p.timing.clock_hz());
}

TEST(DramController, IdleLatencyIsActivateThenRead) {
  // One read to a closed bank: ACT at 0, RD at nRCD, data from nRCD + nCL for nBL cycles: 19 + 19 + 2.
  RunResult r = simulate(hbm3(), {Request{0, false, 0}});
  EXPECT_EQ(r.cycles, 40);
  EXPECT_EQ(r.max_latency, 40);
  EXPECT_EQ(r.row_misses, 1);
  // A second read of the open row long after: a row hit, nCL + nBL = 21 after it arrives.
  r = simulate(hbm3(),
               {Request{0, false, 0}, Request{4 * 32 * 32, false, 1000}});  // the row's next column (xor mapping)
  EXPECT_EQ(r.cycles, 1000 + 21);
  EXPECT_EQ(r.row_hits, 1);
  EXPECT_EQ(r.commands[Command::act], 1);
}

TEST(DramController, StreamingWithXorMappingReaches85PercentOfPeak) {
  // 32 B lines in address order, every controller's queue kept full.
  const DramPreset& p = hbm3();
  const RunResult r = simulate(p, stream(400'000, 32));
  const double fraction = bandwidth_Bps(p, r) / p.peak_Bps();
  std::cout << "hbm3-5.2 streaming, xor mapping: " << bandwidth_Bps(p, r) / 1e9 << " GB/s, " << 100 * fraction
            << "% of peak, row hit rate " << static_cast<double>(r.row_hits) / static_cast<double>(r.requests) << '\n';
  EXPECT_GE(fraction, 0.85);
  EXPECT_EQ(r.row_hits + r.row_misses + r.row_conflicts, r.requests);
}

TEST(DramController, XorMappingSpreadsAStrideThatPinsOneChannel) {
  // A stride of 32 controllers x 32 columns x 32 B: ro_ba_ra_co_ch sends every request to controller 0 (at
  // most a 32nd of the peak); xor folds the row bits into the controller bits and spreads them.
  DramPreset p = hbm3();
  const std::vector<Request> req = stream(100'000, 32 * 32 * 32);
  const RunResult x = simulate(p, req);
  p.controller.mapping = AddressMapping::ro_ba_ra_co_ch;
  const RunResult l = simulate(p, req);
  std::cout << "hbm3-5.2, 32 KiB stride: xor " << 100 * bandwidth_Bps(p, x) / p.peak_Bps() << "%, ro_ba_ra_co_ch "
            << 100 * bandwidth_Bps(p, l) / p.peak_Bps() << "% of peak\n";
  EXPECT_LE(bandwidth_Bps(p, l), p.peak_Bps() / 32);
  EXPECT_GE(bandwidth_Bps(p, x), 10 * bandwidth_Bps(p, l));
}

TEST(DramController, RandomAccessIsBoundedByTheActivateRules) {
  // Random lines over 16 GB rarely hit an open row, so nearly every read needs an ACT, and a pseudo-channel
  // (both stack IDs: JESD238's activate window) takes at most 4 ACTs per nFAW (nRRDS = 2 would allow 19.5;
  // each bank's nRC = 63 over 32 banks allows 19.8). Bound: reads <= row hits + 32 pseudo-channels x 4 ACTs x
  // cycles / nFAW, i.e. 105 B per cycle (136.6 GB/s, 20.5% of the 665.8 GB/s peak) plus the hits. Refresh
  // takes both stack IDs for nRFC = 456 of every nREFI = 5070 cycles, so 9% of the bound is out of reach.
  // Read per stack ID (AttAcc's model), the bound doubles.
  for (const DramPreset* preset : {&hbm3(), &hbm3_per_stack_id()}) {
    const DramPreset& p = *preset;
    const int64_t windows = p.org.controllers() * (p.timing.activate_scope == ActivateScope::rank ? p.org.ranks : 1);
    std::mt19937_64 rng(test::seed());
    const auto lines = static_cast<uint64_t>(p.org.capacity_bytes()) / 32;
    std::vector<Request> req(200'000);
    for (Request& q : req) q.address = (rng() % lines) * 32;
    const RunResult r = simulate(p, req);
    const double cycles = static_cast<double>(r.cycles);
    const double act_bound = static_cast<double>(windows) * 4 * std::ceil(cycles / static_cast<double>(p.timing.nFAW));
    // nFAW binds, not nRRDS: 4 ACTs per nFAW per window, 32 B each.
    EXPECT_NEAR(static_cast<double>(windows) * 4 / static_cast<double>(p.timing.nFAW) * 32 * p.timing.clock_hz(),
                p.activate_bound_Bps(), 1e-9 * p.activate_bound_Bps());
    std::cout << "hbm3-5.2 random reads, activate limits per " << activate_scope_name(p.timing.activate_scope) << ": "
              << bandwidth_Bps(p, r) / 1e9 << " GB/s, " << 100 * bandwidth_Bps(p, r) / p.peak_Bps()
              << "% of peak; ACTs " << r.commands[Command::act] << " of the nFAW bound " << act_bound << ", row hits "
              << r.row_hits << '\n';
    EXPECT_LE(static_cast<double>(r.commands[Command::act]), act_bound);
    EXPECT_LE(static_cast<double>(r.requests), static_cast<double>(r.row_hits) + act_bound);
    // Every miss and conflict took an ACT; a row that refresh closed before its reads were served took another.
    EXPECT_GE(r.commands[Command::act], r.row_misses + r.row_conflicts);
    // And the activate rules are what binds: per pseudo-channel the run reaches 95% of the bound less
    // refresh's share (96.3% over these 200,000 reads, 98% over a million: the first and last windows are not
    // full); per stack ID (twice the ACTs) other limits bite sooner: within 25% of it.
    const double refresh = 1 - static_cast<double>(p.timing.nRFC) / static_cast<double>(p.timing.nREFI);
    const double reach = p.timing.activate_scope == ActivateScope::channel ? 0.95 * refresh : 0.75;
    EXPECT_GE(static_cast<double>(r.requests - r.row_hits), reach * act_bound);
  }
  // Without refresh, 96.7% of the four-activate bound here; 99% (135.2 of 136.6 GB/s) over a million reads.
  DramPreset off = hbm3();
  off.controller.refresh = false;
  std::mt19937_64 rng(test::seed());
  const auto lines = static_cast<uint64_t>(off.org.capacity_bytes()) / 32;
  std::vector<Request> req(200'000);
  for (Request& q : req) q.address = (rng() % lines) * 32;
  EXPECT_GE(bandwidth_Bps(off, simulate(off, req)), 0.95 * off.activate_bound_Bps());
}

DramPreset one_controller(DramPreset p) {
  p.org.channels = 1;
  p.org.pseudo_channels = 1;
  return p;
}

TEST(DramController, LightLoadLatencyIsTheIdleBound) {
  // Requests far apart (one per controller every 64 cycles, as einsim dram --load light --interval 64 offers
  // them), refresh off: a stream with open pages hits its rows (nCL + nBL = 21 cycles); random lines with
  // closed pages each open a row (nRCDRD + nCL + nBL = 40). The controller adds no cycle of its own, so the
  // median is the bound exactly; a few requests wait for a bank or activate window an earlier one holds.
  DramPreset p = hbm3();
  p.controller.refresh = false;
  const int64_t controllers = p.org.controllers();
  std::vector<Request> stream(50'000), random(50'000);
  std::mt19937_64 rng(test::seed());
  const auto lines = static_cast<uint64_t>(p.org.capacity_bytes()) / 32;
  for (size_t i = 0; i < stream.size(); ++i) {
    const int64_t arrival = static_cast<int64_t>(i) * 64 / controllers;
    stream[i] = Request{i * 32, false, arrival};
    random[i] = Request{(rng() % lines) * 32, false, arrival};
  }
  const RunResult hits = simulate(p, stream);
  EXPECT_EQ(p.idle_hit_cycles(), 21);
  EXPECT_EQ(hits.p50_latency, p.idle_hit_cycles());
  EXPECT_LE(hits.avg_latency, 1.1 * static_cast<double>(p.idle_hit_cycles()));
  p.controller.page_policy = PagePolicy::closed;
  const RunResult misses = simulate(p, random);
  EXPECT_EQ(p.idle_miss_cycles(), 40);
  EXPECT_EQ(misses.p50_latency, p.idle_miss_cycles());
  EXPECT_LE(misses.avg_latency, 1.1 * static_cast<double>(p.idle_miss_cycles()));
  // Closed pages: no request finds another row open; two random reads of one row close in time may share it.
  EXPECT_EQ(misses.row_conflicts, 0);
  EXPECT_GE(static_cast<double>(misses.row_misses), 0.999 * static_cast<double>(misses.requests));
}

TEST(DramController, IdleRefreshEveryRankEveryNrefi) {
  // Nothing to do until 10.5 nREFI: each stack ID refreshes at k nREFI (the second one a cycle later, the row
  // bus being taken), and refresh holds each for nRFC: 10 x 2 x 456 cycles.
  const DramPreset p = one_controller(hbm3());
  std::vector<IssuedCommand> log;
  const RunResult r = simulate(p, {Request{0, false, 10 * p.timing.nREFI + p.timing.nREFI / 2}}, {&log});
  std::vector<int64_t> rank0, rank1;
  for (const IssuedCommand& c : log)
    if (c.command == Command::ref) (c.at.rank == 0 ? rank0 : rank1).push_back(c.cycle);
  ASSERT_EQ(rank0.size(), 10u);
  ASSERT_EQ(rank1.size(), 10u);
  for (int64_t k = 1; k <= 10; ++k) {
    EXPECT_EQ(rank0[static_cast<size_t>(k - 1)], k * p.timing.nREFI);
    EXPECT_EQ(rank1[static_cast<size_t>(k - 1)], k * p.timing.nREFI + 1);
  }
  EXPECT_EQ(r.refresh_cycles, 10 * 2 * p.timing.nRFC);
}

TEST(DramController, PerBankRefreshTakesTheBanksInTurn) {
  // A REFpb every nREFI / 16 = 5070 / 16 = 316 cycles in each stack ID (the second a cycle later: the row bus),
  // to banks 0, 1, ..., 15, 0, ... of the rank. Idle until 3 nREFI = 15210: 48 deadlines (48 x 316 = 15168).
  DramPreset p = one_controller(hbm3());
  p.controller.refresh_mode = RefreshMode::per_bank;
  std::vector<IssuedCommand> log;
  const RunResult r = simulate(p, {Request{0, false, 3 * p.timing.nREFI}}, {&log});
  std::vector<IssuedCommand> rank0, rank1;
  for (const IssuedCommand& c : log) {
    EXPECT_NE(c.command, Command::ref);
    if (c.command == Command::refpb) (c.at.rank == 0 ? rank0 : rank1).push_back(c);
  }
  ASSERT_EQ(rank0.size(), 48u);
  ASSERT_EQ(rank1.size(), 48u);
  for (int64_t k = 1; k <= 48; ++k) {
    const IssuedCommand& c = rank0[static_cast<size_t>(k - 1)];
    EXPECT_EQ(c.cycle, k * 316);
    EXPECT_EQ(rank1[static_cast<size_t>(k - 1)].cycle, k * 316 + 1);
    EXPECT_EQ(c.at.bank_group * 4 + c.at.bank, (k - 1) % 16);
  }
  EXPECT_EQ(r.refresh_bank_cycles, 2 * 48 * 209);
  EXPECT_EQ(r.refresh_cycles, 0);
  // Its energy: each REFpb refreshes one bank's share of an all-bank REF's rows.
  EXPECT_DOUBLE_EQ(r.energy.refresh_pJ, 96 * p.energy.refresh.energy_pJ / 16);
}

TEST(DramController, PerBankRefreshStealsLessStreamingTimeThanAllBank) {
  // One pseudo-channel streaming. All-bank refresh stops a stack ID for nRFC every nREFI; per-bank refresh
  // stops one bank of sixteen for nRFCpb every nREFI / 16, and the stream reads the others meanwhile.
  DramPreset all = one_controller(hbm3()), per = all, off = all;
  per.controller.refresh_mode = RefreshMode::per_bank;
  off.controller.refresh = false;
  const std::vector<Request> req = stream(60'000, 32);
  const RunResult a = simulate(all, req), b = simulate(per, req), o = simulate(off, req);
  const double lost_all = 1 - static_cast<double>(o.cycles) / static_cast<double>(a.cycles);
  const double lost_per = 1 - static_cast<double>(o.cycles) / static_cast<double>(b.cycles);
  std::cout << "streaming time lost to refresh: all-bank " << 100 * lost_all << "%, per-bank " << 100 * lost_per
            << "%\n";
  EXPECT_GT(lost_per, 0);
  EXPECT_LT(lost_per, lost_all / 2);
  EXPECT_GT(b.commands[Command::refpb], 0);
  EXPECT_EQ(b.reads, 60'000);
}

TEST(DramController, RefreshStealsItsShareOfStreamingTime) {
  // One pseudo-channel streaming, with and without refresh. Each nREFI, the busy rank stops for nRFC and for
  // closing and reopening its banks (PRE waits up to nRAS, the reopened row nRCD + nCL), so the time lost is
  // between nRFC / nREFI = 6.69% and (nRFC + nRAS + nRP + nRCD + nCL) / nREFI = 8.70%.
  const DramPreset p = one_controller(hbm3());
  DramPreset off = p;
  off.controller.refresh = false;
  const std::vector<Request> req = stream(60'000, 32);
  const RunResult with = simulate(p, req), without = simulate(off, req);
  const double lost = 1 - static_cast<double>(without.cycles) / static_cast<double>(with.cycles);
  const DramTiming& t = p.timing;
  const double low = static_cast<double>(t.nRFC) / static_cast<double>(t.nREFI);
  const double high = static_cast<double>(t.nRFC + t.nRAS + t.nRP + t.nRCDRD + t.nCL) / static_cast<double>(t.nREFI);
  std::cout << "refresh: " << 100 * lost << "% of streaming time lost (nRFC/nREFI = " << 100 * low << "%)\n";
  EXPECT_GE(lost, low);
  EXPECT_LE(lost, high);
  // Both stack IDs refresh at every nREFI deadline that passed before the last deadline's REF could issue.
  const int64_t deadlines = with.cycles / t.nREFI;
  EXPECT_GE(with.commands[Command::ref], 2 * (deadlines - 1));
  EXPECT_LE(with.commands[Command::ref], 2 * deadlines);
  EXPECT_EQ(without.commands[Command::ref], 0);
}

TEST(DramController, ClosedPageClosesEveryRowItOpens) {
  DramPreset p = hbm3();
  p.controller.page_policy = PagePolicy::closed;
  std::mt19937_64 rng(test::seed());
  std::vector<Request> req(20'000);
  for (Request& q : req) q.address = (rng() % (uint64_t{1} << 24)) * 32, q.write = rng() % 3 == 0;
  const RunResult r = simulate(p, req);
  EXPECT_EQ(r.commands[Command::pre], r.commands[Command::act]);
  EXPECT_EQ(r.row_conflicts, 0);  // no request ever finds another row open
  EXPECT_EQ(r.reads + r.writes, r.requests);
}

TEST(DramEnergy, EqualsCommandCountsTimesTableEnergies) {
  const DramPreset& p = hbm3();
  std::mt19937_64 rng(test::seed());
  std::vector<Request> req(30'000);
  for (size_t i = 0; i < req.size(); ++i)
    req[i] = Request{(rng() % 4 == 0 ? rng() % (uint64_t{1} << 30) : i) * 32, rng() % 3 == 0, static_cast<int64_t>(i)};
  const RunResult r = simulate(p, req);
  const EnergyTable& t = p.table;
  auto e = [&](const char* name) { return t.find(name)->energy_pJ; };
  const double bits = 32 * 8;
  const double act = 8192 * e("hbm_activate_bit");
  const double move = e("hbm_column_path_bit") + e("hbm_bg_to_global_io_bit"),
               io = e("hbm_tsv_bit") + e("hbm_interposer_bit");
  const auto n = [&](Command c) { return static_cast<double>(r.commands[c]); };
  EXPECT_GT(n(Command::ref), 0);
  EXPECT_DOUBLE_EQ(r.energy.activate_pJ, n(Command::act) * act);
  EXPECT_DOUBLE_EQ(r.energy.read_array_pJ, n(Command::rd) * bits * e("hbm_cell_read_bit"));
  EXPECT_DOUBLE_EQ(r.energy.read_movement_pJ, n(Command::rd) * bits * move);
  EXPECT_DOUBLE_EQ(r.energy.read_io_pJ, n(Command::rd) * bits * io);
  EXPECT_DOUBLE_EQ(r.energy.write_array_pJ, n(Command::wr) * bits * e("hbm_cell_read_bit"));
  EXPECT_DOUBLE_EQ(r.energy.write_movement_pJ, n(Command::wr) * bits * move);
  EXPECT_DOUBLE_EQ(r.energy.write_io_pJ, n(Command::wr) * bits * io);
  EXPECT_DOUBLE_EQ(r.energy.refresh_pJ, n(Command::ref) * 32 * act);
  EXPECT_DOUBLE_EQ(r.energy.total_pJ(),
                   n(Command::act) * act +
                       (n(Command::rd) + n(Command::wr)) * bits * (e("hbm_cell_read_bit") + move + io) +
                       n(Command::ref) * 32 * act);
}

TEST(DramPresets, EveryPresetLoadsAndRuns) {
  for (const auto& f : std::filesystem::directory_iterator("configs/dram")) {
    SCOPED_TRACE(f.path().string());
    const DramPreset p = load_dram_preset(f.path().string());
    EXPECT_EQ(p.name + ".yaml", f.path().filename().string());
    const RunResult r = simulate(p, stream(2000, p.org.access_bytes(), 0.3));
    EXPECT_EQ(r.reads + r.writes, 2000);
    EXPECT_GT(bandwidth_Bps(p, r), 0);
    EXPECT_LE(bandwidth_Bps(p, r), p.peak_Bps());
  }
  const DramPreset& h = hbm3();
  EXPECT_DOUBLE_EQ(h.peak_Bps(), 32 * 16 * 1e12 / 769);
  EXPECT_EQ(h.org.capacity_bytes(), 16.0 * (1 << 30));
}

// Processing in memory. hbm3-5.2: 32 pseudo-channels of 2 stack IDs x 4 bank groups x 4 banks, rows of 32
// accesses of 32 B; nRCDRD 19, nCL 19, nBL 2, nRTP 8, nRP 19, nRAS 45, nRC 63, nCCDL = nCCDAB 4, nRFC 456,
// nREFI 5070. A MAC completes nCL + nBL = 21 cycles after it issues.

// Steps (row sets) start `period` cycles apart; when the next would start at or after the refresh deadline,
// the stack IDs refresh first and it starts `gap` cycles later. The stream ends `last_done` after the last start.
int64_t pim_closed_form(int64_t steps, int64_t period, int64_t gap, int64_t last_done, bool refresh = true) {
  int64_t start = 0, deadline = 5070;
  for (int64_t i = 1; i < steps; ++i) {
    start += period;
    if (refresh && start >= deadline) start += gap, deadline += 5070;
  }
  return start + last_done;
}

TEST(DramPim, BankLevelAgainstTheClosedForm) {
  const DramPreset& p = hbm3();
  // One row per unit: ACT_AB at 0, 32 MAC_ABs at 19, 23, ..., 19 + 31 x 4 = 143, done 143 + 21 = 164. Every
  // pseudo-channel's 32 banks open once (32 x 32 activations) and each of its 32 units reads 32 accesses.
  PimStream s = pim_stream(p, PimLevel::bank, 1, 1024);
  EXPECT_EQ(s.cycles, 164);
  EXPECT_EQ(s.units, 32 * 32);
  EXPECT_EQ(s.activates, 32 * 32);
  EXPECT_EQ(s.column_reads, 32 * 32 * 32);
  EXPECT_EQ(s.bytes, 32 * 32 * 1024);
  EXPECT_EQ(s.macs, 32);
  EXPECT_EQ(s.refreshes, 0);
  // 64 rows: a row set every 170 cycles (PRE_AB at max(0 + nRAS 45, 143 + nRTP 8) = 151, the next ACT_AB nRP
  // later, past nRC 63). The row sets that would start at 30 x 170 = 5100 >= 5070 and at 5557 + 27 x 170 =
  // 10147 >= 10140 wait for REF of stack ID 0 then (its banks' nRP and nRC are met) and of stack ID 1 a cycle
  // later, and nRFC after that: 1 + 456 = 457 more each. The last starts at 63 x 170 + 2 x 457 = 11624.
  EXPECT_EQ(pim_closed_form(64, 170, 457, 164), 11788);
  s = pim_stream(p, PimLevel::bank, 1, 64 * 1024);
  EXPECT_EQ(s.cycles, 11788);
  EXPECT_EQ(s.activates, 64 * 32 * 32);
  EXPECT_EQ(s.refreshes, 2 * 2 * 32);  // two rounds, both stack IDs, every pseudo-channel
  // A unit per two banks, taking turns: a row set is 64 MAC_ABs of 16 accesses each (half the banks), done
  // 19 + 63 x 4 + 21 = 292; the next row set starts at 19 + 63 x 4 + nRTP 8 + nRP 19 = 298.
  s = pim_stream(p, PimLevel::bank, 2, 2048);
  EXPECT_EQ(s.cycles, 292);
  EXPECT_EQ(s.units, 32 * 16);
  EXPECT_EQ(s.column_reads, 32 * 16 * 64);
  EXPECT_EQ(s.activates, 32 * 32);
  // 30 row sets: the one that would start at 18 x 298 = 5364 waits for refresh: 29 x 298 + 457 + 292.
  EXPECT_EQ(pim_closed_form(30, 298, 457, 292), 9391);
  EXPECT_EQ(pim_stream(p, PimLevel::bank, 2, 30 * 2048).cycles, 9391);
  // Bytes round up to accesses: 100 B is 4 MACs, done 19 + 3 x 4 + 21.
  s = pim_stream(p, PimLevel::bank, 1, 100);
  EXPECT_EQ(s.cycles, 52);
  EXPECT_EQ(s.column_reads, 4 * 32 * 32);
  EXPECT_EQ(pim_stream(p, PimLevel::bank, 1, 0).cycles, 0);
  // The power limit: MAC_ABs ceil(4 / 0.6667) = 6 apart: done 19 + 31 x 6 + 21.
  DramPreset limited = p;
  limited.pim.power_limit = 0.6667;
  EXPECT_EQ(pim_stream(limited, PimLevel::bank, 1, 1024).cycles, 226);
  // 16 MB per unit (every row of its bank): the steady-state skip gives the closed form too.
  EXPECT_EQ(pim_stream(p, PimLevel::bank, 1, int64_t{16} << 20).cycles, pim_closed_form(16384, 170, 457, 164));
}

TEST(DramPim, BankGroupLevelAgainstTheClosedForm) {
  // JESD238's reading first: a unit per bank group, 8 per pseudo-channel, its data in bank 0 of the group. The
  // 8 ACTs share one activate window: 0, 2, 4, 6 (nRRDS), then nFAW after each: 39, 41, 43, 45. MAC_SBs from
  // 45 + 19 = 64 every nCCDL 4, the 32nd at 188, done 209.
  EXPECT_EQ(pim_stream(hbm3(), PimLevel::bankgroup, 1, 1024).cycles, 209);
  // The rest as AttAcc's model counts the activate limits: per stack ID.
  const DramPreset& p = hbm3_per_stack_id();
  // ACTs to the 8 banks at 0..7 (bank groups outer, stack IDs inner: nRRDS 2 per stack ID), MAC_SBs from
  // 7 + 19 = 26 every nCCDL 4, the 32nd at 150, done 171.
  PimStream s = pim_stream(p, PimLevel::bankgroup, 1, 1024);
  EXPECT_EQ(s.cycles, 171);
  EXPECT_EQ(s.units, 32 * 8);
  EXPECT_EQ(s.activates, 32 * 8);
  EXPECT_EQ(s.column_reads, 32 * 8 * 32);
  // The next row of the same banks 177 cycles later: PREs at 150 + nRTP 8 = 158..165, ACTs nRP later at
  // 177..184. A refresh: REF of stack ID 0 at its last PRE (164) + nRP = 183, of stack ID 1 at 184, the ACTs
  // nRFC later at 639..646: 462 cycles more than 177. 64 rows: the rows that would start at 29 x 177 = 5133
  // and at 5595 + 26 x 177 = 10197 wait.
  EXPECT_EQ(pim_closed_form(64, 177, 462, 171), 12246);
  EXPECT_EQ(pim_stream(p, PimLevel::bankgroup, 1, 64 * 1024).cycles, 12246);
  // Two banks per unit: one bank's next row opens while the other's is read (32 x 4 = 128 cycles), so the
  // MAC_SBs never pause: 30 rows, 960 MACs, done 26 + 959 x 4 + 21 = 3883 (the last ACTs near 3600, before
  // the first refresh deadline). The second bank's first ACTs wait for nFAW (39 after each stack ID's first).
  EXPECT_EQ(pim_stream(p, PimLevel::bankgroup, 2, 30 * 1024).cycles, 26 + 959 * 4 + 21);
  EXPECT_EQ(pim_stream(p, PimLevel::bankgroup, 4, 30 * 1024).cycles, 26 + 959 * 4 + 21);
  DramPreset off = p;
  off.controller.refresh = false;
  s = pim_stream(off, PimLevel::bankgroup, 2, 1000 * 1024);
  EXPECT_EQ(s.cycles, 26 + 31999 * 4 + 21);
  EXPECT_EQ(s.activates, 1000 * 8 * 32);
  EXPECT_EQ(pim_stream(off, PimLevel::bankgroup, 1, 64 * 1024).cycles, pim_closed_form(64, 177, 462, 171, false));
}

TEST(DramPim, SkippingPeriodsEqualsCommandByCommand) {
  const DramPreset ddr4 = load_dram_preset("configs/dram/ddr4-3200.yaml");
  int compared = 0;
  for (const DramPreset* base : {&hbm3(), &ddr4})
    for (const bool refresh : {true, false})
      for (const double limit : {1.0, 0.6667})
        for (const PimLevel level : {PimLevel::bank, PimLevel::bankgroup})
          for (const int64_t k : {1, 2, 3, 4})
            for (const int64_t bytes : {1, 32, 1000, 1024, 5000, 40 * 1024, 300 * 1024 + 96}) {
              if (level == PimLevel::bank && base->org.banks % k != 0) continue;
              DramPreset p = *base;
              p.controller.refresh = refresh;
              p.pim.power_limit = limit;
              SCOPED_TRACE(fmt::format("{} refresh {} limit {} {} x{} {} B", p.name, refresh, limit,
                                       pim_level_name(level), k, bytes));
              int64_t skipped = 0;
              const PimStream fast = pim_stream(p, level, k, bytes, PimOptions{false, nullptr, &skipped});
              const PimStream exact = pim_stream(p, level, k, bytes, PimOptions{true});
              // The comparison is not vacuous. (ddr4-3200's rows are 8 KB: 300 KB is too few of them to repeat.)
              if (bytes > 100'000 && base == &hbm3()) {
                EXPECT_GT(skipped, 0);
              }
              EXPECT_EQ(fast.cycles, exact.cycles);
              EXPECT_EQ(fast.activates, exact.activates);
              EXPECT_EQ(fast.refreshes, exact.refreshes);
              EXPECT_EQ(fast.macs, exact.macs);
              EXPECT_EQ(fast.column_reads, exact.column_reads);
              ++compared;
            }
  EXPECT_EQ(compared, 2 * 2 * 2 * (3 + 4) * 7);
}

TEST(DramPim, CommandsOfOneRowSet) {
  std::vector<IssuedCommand> log;
  pim_stream(hbm3(), PimLevel::bank, 1, 2 * 1024, PimOptions{false, &log});
  ASSERT_EQ(log.size(), 1 + 32 + 1 + 1 + 32u);
  EXPECT_EQ(log[0].command, Command::act_ab);
  EXPECT_EQ(log[1].command, Command::mac_ab);
  EXPECT_EQ(log[1].cycle, 19);
  EXPECT_EQ(log[32].cycle, 143);
  EXPECT_EQ(log[33].command, Command::pre_ab);
  EXPECT_EQ(log[33].cycle, 151);
  EXPECT_EQ(log[34].command, Command::act_ab);
  EXPECT_EQ(log[34].cycle, 170);
}

TEST(DramPim, InternalBandwidthIsTheLongStreamLimit) {
  // As AttAcc's model counts the activate limits (per stack ID). The bank level does not depend on it: ACT_AB
  // sets no activate term.
  const DramPreset& p = hbm3_per_stack_id();
  EXPECT_EQ(pim_internal_Bps(p, PimLevel::bank, 1), pim_internal_Bps(hbm3(), PimLevel::bank, 1));
  const double tck = 769e-12;
  auto near = [](double got, double want) {
    EXPECT_NEAR(got, want, 1e-9 * want) << got / 1e12 << " vs " << want / 1e12 << " TB/s";
  };
  // Bank level: every bank of the 32 pseudo-channels a MAC every nCCDAB = 4 cycles, 32 x 32 x 32 B / (4 x 769 ps)
  // = 10.65 TB/s, busy 32 x 4 = 128 of every 170 cycles (the row switch), less a refresh's 457 cycles in every
  // nREFI: 7.30 TB/s.
  const double refresh = (5070.0 - 457) / 5070;
  near(pim_internal_Bps(p, PimLevel::bank, 1), 32.0 * 32 * 32 / (4 * tck) * 128 / 170 * refresh);
  // A unit per two banks: 16 accesses per MAC, 64 MACs (256 cycles) of every 298.
  near(pim_internal_Bps(p, PimLevel::bank, 2), 32.0 * 16 * 32 / (4 * tck) * 256 / 298 * refresh);
  // Power limited: MACs 6 apart, 192 of every 19 + 31 x 6 + 8 + 19 = 232 cycles.
  DramPreset limited = p;
  limited.pim.power_limit = 0.6667;
  near(pim_internal_Bps(limited, PimLevel::bank, 1), 32.0 * 32 * 32 / (6 * tck) * 192 / 232 * refresh);
  // Bank-group level, one bank: 8 units per pseudo-channel, 128 of every 177 cycles, a refresh costs 462.
  near(pim_internal_Bps(p, PimLevel::bankgroup, 1), 32.0 * 8 * 32 / (4 * tck) * 128 / 177 * (5070.0 - 462) / 5070);
  // Two banks: MACs never pause but for refresh; without it exactly 8 x 32 B every 4 cycles per pseudo-channel.
  DramPreset off = p;
  off.controller.refresh = false;
  const double unpaused = 32.0 * 8 * 32 / (4 * tck);
  near(pim_internal_Bps(off, PimLevel::bankgroup, 2), unpaused);
  const double with = pim_internal_Bps(p, PimLevel::bankgroup, 2);
  EXPECT_LE(with, unpaused * (5070.0 - 456) / 5070);
  EXPECT_GE(with, unpaused * (5070.0 - 456 - 2 * 128) / 5070);  // nRFC and at most a row's drain and refill
  for (const double l : {1.0, 0.6667})
    for (const auto& [level, k] :
         {std::pair{PimLevel::bank, 1}, std::pair{PimLevel::bank, 2}, std::pair{PimLevel::bankgroup, 1},
          std::pair{PimLevel::bankgroup, 2}, std::pair{PimLevel::bankgroup, 4}}) {
      limited.pim.power_limit = l;
      std::cout << "hbm3-5.2 PIM, power limit " << l << ", " << pim_level_name(level) << " level, " << k
                << " bank(s) per unit: " << pim_internal_Bps(limited, level, k) / 1e12 << " TB/s\n";
    }
  // A terabyte per unit (2^30 row sets): only skipping periods can finish it, at the limit's rate.
  const PimStream huge = pim_stream(p, PimLevel::bank, 1, int64_t{1} << 40);
  EXPECT_NEAR(static_cast<double>(huge.bytes) / (static_cast<double>(huge.cycles) * tck),
              pim_internal_Bps(p, PimLevel::bank, 1), 1e-6 * 7.5e12);
  // And the limit is what long streams approach: 16 MB per unit.
  for (const auto& [level, k] :
       {std::pair{PimLevel::bank, 1}, std::pair{PimLevel::bank, 2}, std::pair{PimLevel::bankgroup, 2}}) {
    const PimStream s = pim_stream(p, level, k, int64_t{16} << 20);
    const double rate = static_cast<double>(s.bytes) / (static_cast<double>(s.cycles) * tck);
    EXPECT_NEAR(rate, pim_internal_Bps(p, level, k), 1e-3 * rate);
  }
}

TEST(DramPim, BadArguments) {
  EXPECT_THROW(pim_stream(hbm3(), PimLevel::bank, 3, 1024), UserError);       // 3 does not divide 4 banks
  EXPECT_THROW(pim_stream(hbm3(), PimLevel::bankgroup, 5, 1024), UserError);  // a group has 4 banks
  EXPECT_THROW(pim_stream(hbm3(), PimLevel::bank, 1, -1), UserError);
  EXPECT_THROW(pim_internal_Bps(hbm3(), PimLevel::bank, 0), UserError);
}

std::string preset_error(const std::vector<std::pair<std::string, std::string>>& sets) {
  try {
    load_dram_preset("configs/dram/hbm3-5.2.yaml", sets);
  } catch (const UserError& e) {
    return e.what();
  }
  return {};
}

TEST(DramPresets, BadValuesAreNamed) {
  EXPECT_NE(preset_error({{"timing.nCCDS", "1"}})
                .find("timing.nCCDS: nCCDS (1) below nBL (2) would drive the data bus twice at once"),
            std::string::npos);
  EXPECT_NE(preset_error({{"organization.banks", "3"}}).find("organization.banks: must be a power of two"),
            std::string::npos);
  EXPECT_NE(preset_error({{"controller.mapping", "zigzag"}}).find("unknown mapping 'zigzag'"), std::string::npos);
  EXPECT_NE(preset_error({{"timing.nRFC", "6000"}}).find("nRFC (6000) must be below nREFI (5070)"), std::string::npos);
  EXPECT_NE(preset_error({{"timing.nCCDAB", "3"}}).find("timing.nCCDAB: nCCDAB (3) below nCCDL (4)"),
            std::string::npos);
  EXPECT_NE(preset_error({{"pim.power_limit", "0"}}).find("pim.power_limit: power_limit is the fraction"),
            std::string::npos);
  EXPECT_NE(preset_error({{"pim.power_limit", "1.5"}}).find("at most 1; got 1.5"), std::string::npos);
  EXPECT_EQ(preset_error({{"pim.power_limit", "0.6667"}}), "");
  EXPECT_NE(preset_error({{"controller.refresh_mode", "per_row"}})
                .find("unknown refresh_mode 'per_row' (known: all_bank, per_bank)"),
            std::string::npos);
  EXPECT_NE(preset_error({{"controller.refresh_mode", "per_bank"}, {"timing.nRFCpb", "400"}})
                .find("must outlast nRFCpb (400)"),
            std::string::npos);
  EXPECT_EQ(preset_error({{"controller.refresh_mode", "per_bank"}}), "");
  try {
    load_dram_preset("configs/dram/ddr4-3200.yaml", {{"controller.refresh_mode", "per_bank"}});
    ADD_FAILURE() << "per-bank refresh without nRFCpb loaded";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("per_bank refresh needs timing.nRFCpb"), std::string::npos) << e.what();
  }
  EXPECT_EQ(hbm3().timing.nCCDAB, 4);
  EXPECT_EQ(load_dram_preset("configs/dram/ddr4-3200.yaml").timing.nCCDAB,
            load_dram_preset("configs/dram/ddr4-3200.yaml").timing.nCCDL);
  const std::string f =
      test::temp_file("dram.yaml",
                      "version: 1\nname: x\norganization: {channels: 1, bank_groups: 1, banks: 1, rows: 1,\n"
                      "  row_bytes: 64, data_width_bits: 64, burst_length: 8, colums: 4}\n");
  try {
    load_dram_preset(f);
    ADD_FAILURE() << "an unknown key loaded";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(":4:56: error: organization.colums: unknown key"), std::string::npos)
        << e.what();
  }
}

TEST(DramPresets, AnArchitecturesDramTakesTheBankModel) {
  const ArchSpec a = load_arch("configs/arch/fusemax.yaml", {{"dram.model", "bank"}, {"dram.preset", "hbm3-5.2"}});
  const auto& d = a.find("dram")->as<DramComponent>();
  ASSERT_TRUE(d.bank.has_value());
  EXPECT_EQ(d.bank->name, "hbm3-5.2");
  EXPECT_FALSE(load_arch("configs/arch/fusemax.yaml").find("dram")->as<DramComponent>().bank.has_value());
  auto error = [](const std::vector<std::pair<std::string, std::string>>& sets) {
    try {
      load_arch("configs/arch/fusemax.yaml", sets);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error({{"dram.model", "banked"}}).find("unknown model 'banked' (known: bandwidth, bank)"),
            std::string::npos);
  EXPECT_NE(error({{"dram.preset", "hbm3-5.2"}}).find("a preset is for model: bank"), std::string::npos);
  EXPECT_NE(error({{"dram.model", "bank"}, {"dram.preset", "hbm9"}})
                .find("components.dram.preset: unknown DRAM preset 'hbm9' (known: ddr4-3200, hbm2-2.0, hbm3-5.2"),
            std::string::npos);
  EXPECT_NE(error({{"dram.model", "bank"}, {"dram.preset", "../dram/hbm9.yaml"}}).find("dram/hbm9.yaml not found"),
            std::string::npos);
}

}  // namespace
}  // namespace einsim::dram
