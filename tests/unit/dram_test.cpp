// The bank-level DRAM model: every timing rule at its edge, the address mappings, the controller's policies,
// and the bandwidth, refresh and energy figures they add up to.
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <set>
#include <tuple>

#include "arch/dram/model.hpp"
#include "arch/spec.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim::dram {
namespace {

const DramPreset& hbm3() {
  static const DramPreset p = load_dram_preset("configs/dram/hbm3-5.2.yaml");
  return p;
}

BankAddress at(int32_t rank, int32_t bank_group, int32_t bank, int32_t row = 7) { return BankAddress{rank, bank_group, bank, row, 0}; }

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
};

// hbm3-5.2: nCL 19, nCWL 6, nRCD 19, nRP 19, nRAS 45, nRC 63, nWR 21, nRTP 8, nWTRS 8, nWTRL 11, nCCDS 2,
// nCCDL 4, nRRDS 2, nRRDL 4, nFAW 39, nRFC 339, nBL 2, nRTW 2. A = rank 0, bank group 0, bank 0.
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
       act, at(0, 0, 1), 39},
      {"nCCDL: RD -> RD, same bank group", {{act, A, 0}, {act, B, 4}, {rd, A, 23}}, rd, B, 23 + 4},
      {"nCCDS: RD -> RD, other bank group", {{act, A, 0}, {act, C, 2}, {rd, A, 21}}, rd, C, 21 + 2},
      {"nCCDL: WR -> WR, same bank group", {{act, A, 0}, {act, B, 4}, {wr, A, 23}}, wr, B, 23 + 4},
      {"nCCDS: WR -> WR, other bank group", {{act, A, 0}, {act, C, 2}, {wr, A, 21}}, wr, C, 21 + 2},
      {"nWTRL: WR -> RD, same bank group", {{act, A, 0}, {wr, A, 19}}, rd, A, 19 + 6 + 2 + 11},
      {"nWTRS: WR -> RD, other bank group", {{act, A, 0}, {act, C, 2}, {wr, A, 21}}, rd, C, 21 + 6 + 2 + 8},
      {"nRTW: RD -> WR turnaround", {{act, A, 0}, {rd, A, 19}}, wr, A, 19 + 19 + 2 + 2 - 6},
      {"nRFC: REF -> ACT, same rank", {{ref, A, 0}}, act, A, 339},
      {"nRFC: REF -> REF, same rank", {{ref, A, 0}}, ref, A, 339},
      // ACT at 0 allows a REF at nRC = 63; the PRE at 45 pushes it to 45 + nRP = 64.
      {"nRP: PRE -> REF", {{act, A, 0}, {pre, A, 45}}, ref, A, 45 + 19},
      {"nRC: ACT -> REF", {{act, A, 0}, {pre, A, 45}}, ref, A, 63, [](DramTiming& t) { t.nRP = 10; }},
      {"row command bus: one command a cycle", {{act, A, 0}}, act, D, 1},
      {"dual command bus: a column command beside a row command", {{act, A, 0}, {act, D, 19}}, rd, A, 19},
      // ddr4-3200: nRCD 22, nCCDS 4, nBL 4, nRTRS 1.
      {"single command bus: a column command waits for a row command", {{act, A, 0}, {act, D, 22}}, rd, A, 23, {}, true},
      {"nRTRS: RD -> RD, other rank", {{act, A, 0}, {act, D, 1}, {rd, A, 23}}, rd, D, 23 + 4 + 1, {}, true},
  };
}

TEST(DramTiming, EveryRuleRefusesOneCycleEarlyAndAcceptsOnTime) {
  const DramPreset ddr4 = load_dram_preset("configs/dram/ddr4-3200.yaml");
  for (const RuleCase& c : rule_cases()) {
    SCOPED_TRACE(c.rule);
    const DramPreset& p = c.ddr4 ? ddr4 : hbm3();
    DramTiming t = p.timing;
    if (c.tweak) c.tweak(t);
    DeviceTiming dev(p.org, t, p.controller.dual_command_bus);
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
      EXPECT_TRUE(seen.insert({a.controller, a.at.rank, a.at.bank_group, a.at.bank, a.at.row, a.at.column}).second) << "line " << l;
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
  const Address a0 = decode(o, AddressMapping::ro_ba_ra_co_ch, 0), a1 = decode(o, AddressMapping::ro_ba_ra_co_ch, 32 * 32);
  EXPECT_EQ(a1.controller, a0.controller);
  EXPECT_EQ(a1.at.bank_group, a0.at.bank_group);
  EXPECT_EQ(a1.at.column, a0.at.column + 1);
}

std::vector<Request> stream(int64_t n, int64_t bytes, double write_ratio = 0, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::vector<Request> r(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) r[static_cast<size_t>(i)] = Request{static_cast<uint64_t>(i * bytes), std::bernoulli_distribution(write_ratio)(rng), 0};
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
  r = simulate(hbm3(), {Request{0, false, 0}, Request{4 * 32 * 32, false, 1000}});  // the row's next column (xor mapping)
  EXPECT_EQ(r.cycles, 1000 + 21);
  EXPECT_EQ(r.row_hits, 1);
  EXPECT_EQ(r.commands[Command::act], 1);
}

TEST(DramController, StreamingWithXorMappingReaches85PercentOfPeak) {
  // 32 B lines in address order, every controller's queue kept full.
  const DramPreset& p = hbm3();
  const RunResult r = simulate(p, stream(400'000, 32));
  const double fraction = bandwidth_Bps(p, r) / p.peak_Bps();
  std::cout << "hbm3-5.2 streaming, xor mapping: " << bandwidth_Bps(p, r) / 1e9 << " GB/s, " << 100 * fraction << "% of peak, row hit rate "
            << static_cast<double>(r.row_hits) / static_cast<double>(r.requests) << '\n';
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
  // Random lines over 16 GB rarely hit an open row, so nearly every read needs an ACT, and a stack ID takes at
  // most 4 ACTs per nFAW (nRRDS = 2 would allow 19.5; each bank's nRC = 63 over 16 banks allows 9.9).
  // Bound: reads <= row hits + 32 pseudo-channels x 2 stack IDs x 4 ACTs x cycles / nFAW, i.e. 210 B per
  // cycle (273 GB/s, 41% of the 665.6 GB/s peak) plus the hits.
  const DramPreset& p = hbm3();
  std::mt19937_64 rng(test::seed());
  const auto lines = static_cast<uint64_t>(p.org.capacity_bytes()) / 32;
  std::vector<Request> req(200'000);
  for (Request& q : req) q.address = (rng() % lines) * 32;
  const RunResult r = simulate(p, req);
  const double cycles = static_cast<double>(r.cycles);
  const double act_bound = static_cast<double>(p.org.controllers() * p.org.ranks) * 4 * std::ceil(cycles / static_cast<double>(p.timing.nFAW));
  std::cout << "hbm3-5.2 random reads: " << bandwidth_Bps(p, r) / 1e9 << " GB/s, " << 100 * bandwidth_Bps(p, r) / p.peak_Bps()
            << "% of peak; ACTs " << r.commands[Command::act] << " of the nFAW bound " << act_bound << ", row hits " << r.row_hits << '\n';
  EXPECT_LE(static_cast<double>(r.commands[Command::act]), act_bound);
  EXPECT_LE(static_cast<double>(r.requests), static_cast<double>(r.row_hits) + act_bound);
  // Every miss and conflict took an ACT; a row that refresh closed before its reads were served took another.
  EXPECT_GE(r.commands[Command::act], r.row_misses + r.row_conflicts);
  // And the activate rules are what binds: the run gets within 25% of the bound.
  EXPECT_GE(static_cast<double>(r.requests - r.row_hits), 0.75 * act_bound);
}

DramPreset one_controller(DramPreset p) {
  p.org.channels = 1;
  p.org.pseudo_channels = 1;
  return p;
}

TEST(DramController, IdleRefreshEveryRankEveryNrefi) {
  // Nothing to do until 10.5 nREFI: each stack ID refreshes at k nREFI (the second one a cycle later, the row
  // bus being taken), and refresh holds each for nRFC: 10 x 2 x 339 cycles.
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
  for (size_t i = 0; i < req.size(); ++i) req[i] = Request{(rng() % 4 == 0 ? rng() % (uint64_t{1} << 30) : i) * 32, rng() % 3 == 0, static_cast<int64_t>(i)};
  const RunResult r = simulate(p, req);
  const EnergyTable& t = p.table;
  auto e = [&](const char* name) { return t.find(name)->energy_pJ; };
  const double bits = 32 * 8;
  const double act = 8192 * e("hbm_activate_bit");
  const double move = e("hbm_column_path_bit") + e("hbm_bg_to_global_io_bit"), io = e("hbm_tsv_bit") + e("hbm_interposer_bit");
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
  EXPECT_DOUBLE_EQ(r.energy.total_pJ(), n(Command::act) * act + (n(Command::rd) + n(Command::wr)) * bits * (e("hbm_cell_read_bit") + move + io) +
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

std::string preset_error(const std::vector<std::pair<std::string, std::string>>& sets) {
  try {
    load_dram_preset("configs/dram/hbm3-5.2.yaml", sets);
  } catch (const UserError& e) {
    return e.what();
  }
  return {};
}

TEST(DramPresets, BadValuesAreNamed) {
  EXPECT_NE(preset_error({{"timing.nCCDS", "1"}}).find("timing.nCCDS: nCCDS (1) below nBL (2) would drive the data bus twice at once"),
            std::string::npos);
  EXPECT_NE(preset_error({{"organization.banks", "3"}}).find("organization.banks: must be a power of two"), std::string::npos);
  EXPECT_NE(preset_error({{"controller.mapping", "zigzag"}}).find("unknown mapping 'zigzag'"), std::string::npos);
  EXPECT_NE(preset_error({{"timing.nRFC", "6000"}}).find("nRFC (6000) must be below nREFI (5070)"), std::string::npos);
  const std::string f = test::temp_file("dram.yaml",
                                        "version: 1\nname: x\norganization: {channels: 1, bank_groups: 1, banks: 1, rows: 1,\n"
                                        "  row_bytes: 64, data_width_bits: 64, burst_length: 8, colums: 4}\n");
  try {
    load_dram_preset(f);
    ADD_FAILURE() << "an unknown key loaded";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(":4:56: error: organization.colums: unknown key"), std::string::npos) << e.what();
  }
}

TEST(DramPresets, AnArchitecturesDramTakesTheBankModel) {
  const ArchSpec a = load_arch("configs/arch/fusemax.yaml", {{"dram.model", "bank"}, {"dram.preset", "hbm3-5.2"}});
  const auto& d = std::get<DramSpec>(a.find("dram")->spec);
  ASSERT_TRUE(d.bank.has_value());
  EXPECT_EQ(d.bank->name, "hbm3-5.2");
  EXPECT_FALSE(std::get<DramSpec>(load_arch("configs/arch/fusemax.yaml").find("dram")->spec).bank.has_value());
  auto error = [](const std::vector<std::pair<std::string, std::string>>& sets) {
    try {
      load_arch("configs/arch/fusemax.yaml", sets);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error({{"dram.model", "banked"}}).find("unknown model 'banked' (known: bandwidth, bank)"), std::string::npos);
  EXPECT_NE(error({{"dram.preset", "hbm3-5.2"}}).find("a preset is for model: bank"), std::string::npos);
  EXPECT_NE(error({{"dram.model", "bank"}, {"dram.preset", "hbm9"}}).find("dram/hbm9.yaml not found"), std::string::npos);
}

}  // namespace
}  // namespace einsim::dram
