#include "arch/dram/model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <memory>
#include <tuple>

#include "common/error.hpp"

namespace einsim::dram {

std::string_view command_name(Command c) {
  static constexpr std::string_view names[] = {"ACT",    "PRE",    "RD",     "WR",     "REF",
                                               "ACT_AB", "MAC_AB", "PRE_AB", "MAC_SB", "REFpb"};
  return names[static_cast<size_t>(c)];
}

namespace {

int bits(int64_t n) { return std::countr_zero(static_cast<uint64_t>(n)); }  // n is a power of two

// Takes the low `width` bits off `v`.
int32_t take(uint64_t& v, int width) {
  const auto field = static_cast<int32_t>(v & ((uint64_t{1} << width) - 1));
  v >>= width;
  return field;
}

}  // namespace

namespace {

// decode() with the field widths worked out once.
class Decoder {
 public:
  Decoder(const DramOrg& org, AddressMapping mapping)
      : xor_(mapping == AddressMapping::xor_interleaved),
        access_(static_cast<uint64_t>(org.access_bytes())),
        ch_(bits(org.controllers())),
        col_(bits(org.columns())),
        rank_(bits(org.ranks)),
        bg_(bits(org.bank_groups)),
        bank_(bits(org.banks)),
        row_(bits(org.rows)) {
    shift_ = std::has_single_bit(access_) ? std::countr_zero(access_) : -1;
  }

  Address operator()(uint64_t byte_address) const {
    uint64_t line = shift_ >= 0 ? byte_address >> shift_ : byte_address / access_;
    Address a;
    if (!xor_) {
      a.controller = take(line, ch_);
      a.at.column = take(line, col_);
      a.at.rank = take(line, rank_);
      a.at.bank_group = take(line, bg_);
      a.at.bank = take(line, bank_);
      a.at.row = take(line, row_);
      return a;
    }
    a.controller = take(line, ch_);
    a.at.bank_group = take(line, bg_);
    a.at.column = take(line, col_);
    a.at.rank = take(line, rank_);
    a.at.bank = take(line, bank_);
    a.at.row = take(line, row_);
    // Permutation interleaving: XOR with row bits is a bijection (the row is kept) and sends the same
    // column of successive rows to different channels, bank groups and banks.
    const auto r = static_cast<uint32_t>(a.at.row);
    a.controller ^= static_cast<int32_t>(r & ((1u << ch_) - 1));
    a.at.bank_group ^= static_cast<int32_t>((r >> ch_) & ((1u << bg_) - 1));
    a.at.bank ^= static_cast<int32_t>((r >> (ch_ + bg_)) & ((1u << bank_) - 1));
    return a;
  }

 private:
  bool xor_;
  uint64_t access_;
  int shift_ = -1;
  int ch_, col_, rank_, bg_, bank_, row_;
};

}  // namespace

Address decode(const DramOrg& org, AddressMapping mapping, uint64_t byte_address) {
  return Decoder(org, mapping)(byte_address);
}

namespace {

// ceil(interval / fraction), tolerant of a fraction such as 0.6667 written for 2/3.
int64_t stretch(int64_t interval, double fraction) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(interval) / fraction - 1e-6));
}

}  // namespace

DeviceTiming::DeviceTiming(const DramOrg& org, const DramTiming& timing, bool dual_command_bus, const DramPim& pim)
    : org_(org), t_(timing), dual_bus_(dual_command_bus) {
  banks_.resize(static_cast<size_t>(org.banks_per_controller()));
  groups_.resize(static_cast<size_t>(org.ranks * org.bank_groups));
  ranks_.resize(static_cast<size_t>(org.ranks));
  windows_.resize(timing.activate_scope == ActivateScope::rank ? static_cast<size_t>(org.ranks) : 1);
  if (!(pim.power_limit > 0 && pim.power_limit <= 1))
    throw InternalError(fmt::format("PIM power_limit {} outside (0, 1]", pim.power_limit));
  mac_ab_interval_ = stretch(std::max(t_.nCCDAB, t_.nCCDL), pim.power_limit);
  mac_sb_interval_ = stretch(t_.nCCDL, pim.power_limit);
}

bool DeviceTiming::any_open() const {
  for (const Rank& r : ranks_)
    if (r.open_banks > 0) return true;
  return false;
}

int64_t DeviceTiming::earliest(Command cmd, const BankAddress& at, const RankFloor& f) const {
  if (cmd == Command::ref || cmd == Command::refpb || is_broadcast(cmd))
    throw InternalError(fmt::format("{} has no bank-level earliest", command_name(cmd)));
  return earliest(cmd, bank_index(at), group_index(at), f);
}

int64_t DeviceTiming::earliest(Command cmd, const BankAddress& at, int64_t now) const {
  if (is_broadcast(cmd)) return earliest_broadcast(cmd, at, now);
  if (cmd == Command::refpb) {
    const Bank& b = banks_[static_cast<size_t>(bank_index(at))];
    if (b.open_row >= 0) return never;
    return std::max(
        {now, bus_free_[0], b.next_act, ranks_[static_cast<size_t>(at.rank)].next_refpb, window(at.rank).next_act});
  }
  if (cmd != Command::ref) return earliest(cmd, at, floor(at.rank, now));
  const Rank& r = ranks_[at.rank];
  if (r.open_banks > 0) return never;
  int64_t e = std::max({now, bus_free_[0], r.next_act, window(at.rank).next_act});
  const int64_t first = static_cast<int64_t>(at.rank) * org_.banks_per_rank();
  for (int64_t i = first; i < first + org_.banks_per_rank(); ++i) e = std::max(e, banks_[i].next_act);
  return e;
}

// The rules, as "after X at t, Y waits until ...":
//   ACT: same bank ACT t+nRC, RD t+nRCDRD, WR t+nRCDWR, PRE t+nRAS; same bank group ACT t+nRRDL; same window
//        (the rank, or the controller: timing.activate_scope) ACT and REFpb t+nRRDS, and a fifth ACT t+nFAW
//        after the fourth-last.
//   PRE: same bank ACT (and REF) t+nRP.
//   RD:  same bank PRE t+nRTP; same bank group RD t+nCCDL; channel RD t+nCCDS, WR t+nCL+nBL+nRTW-nCWL (the
//        write's data follows the read's after nRTW idle cycles).
//   WR:  same bank PRE t+nCWL+nBL+nWR; same bank group WR t+nCCDL, RD t+nCWL+nBL+nWTRL; same rank RD
//        t+nCWL+nBL+nWTRS; channel WR t+nCCDS, RD of another rank t+nCWL+nBL+nRTRS-nCL.
//   RD or WR to another rank than the last: t+nBL+nRTRS (the data bus changes hands).
//   REF: same rank ACT and REFpb t+nRFC; needs every bank of the rank closed and past its nRP/nRC.
//   REFpb (per-bank refresh): same bank ACT and REFpb t+nRFCpb; same rank ACT t+nPBR2ACT, REFpb t+nPBR2PBR
//        (HBM3 tRREFD for both, JESD238; LPDDR4 tRRD and tpbR2pbR, JESD209-4). It needs its bank closed and past
//        its nRP/nRC, and waits nRRDS after an ACT of its window (as an ACT would). It is not counted in nFAW.
//   Every command takes its command bus for a cycle (row and column buses apart when dual).
void DeviceTiming::issue(Command cmd, const BankAddress& at, int64_t now) {
  if (earliest(cmd, at, now) != now)
    throw InternalError(fmt::format("DRAM {} to rank {} bank group {} bank {} at cycle {}: earliest is {}",
                                    command_name(cmd), at.rank, at.bank_group, at.bank, now, earliest(cmd, at, now)));
  commit(cmd, at, now);
}

void DeviceTiming::commit(Command cmd, const BankAddress& at, int64_t now) {
  switch (cmd) {
    case Command::act:
      return commit<Command::act>(at, now);
    case Command::pre:
      return commit<Command::pre>(at, now);
    case Command::rd:
      return commit<Command::rd>(at, now);
    case Command::wr:
      return commit<Command::wr>(at, now);
    case Command::ref:
      return commit<Command::ref>(at, now);
    case Command::refpb:
      return commit<Command::refpb>(at, now);
    default:
      return issue_broadcast(cmd, at, now);
  }
}

template <Command C>
void DeviceTiming::commit(const BankAddress& at, int64_t now) {
  static_assert(!is_broadcast(C));
  Bank& b = banks_[bank_index(at)];
  Group& g = groups_[at.rank * org_.bank_groups + at.bank_group];
  Rank& r = ranks_[at.rank];
  auto later = [](int64_t& x, int64_t v) { x = std::max(x, v); };
  bus_free_[bus_of(C)] = now + 1;
  if constexpr (C == Command::act) {
    b.open_row = at.row;
    ++r.open_banks;
    later(b.next_act, now + t_.nRC);
    later(b.next_rd, now + t_.nRCDRD);
    later(b.next_wr, now + t_.nRCDWR);
    later(b.next_pre, now + t_.nRAS);
    later(g.next_act, now + t_.nRRDL);
    Window& w = window(at.rank);
    later(w.next_act, now + t_.nRRDS);
    w.faw[w.faw_next] = now;
    w.faw_next = (w.faw_next + 1) % 4;
    w.faw_count = std::min(w.faw_count + 1, 4);
    if (w.faw_count == 4) w.faw_at = w.faw[w.faw_next] + t_.nFAW;
  } else if constexpr (C == Command::pre) {
    b.open_row = -1;
    --r.open_banks;
    later(b.next_act, now + t_.nRP);
  } else if constexpr (C == Command::rd) {
    later(b.next_pre, now + t_.nRTP);
    later(g.next_rd, now + t_.nCCDL);
    later(next_rd_, now + t_.nCCDS);
    later(next_wr_, now + t_.nCL + t_.nBL + t_.nRTW - t_.nCWL);
  } else if constexpr (C == Command::wr) {
    later(b.next_pre, now + t_.nCWL + t_.nBL + t_.nWR);
    later(g.next_wr, now + t_.nCCDL);
    later(g.next_rd, now + t_.nCWL + t_.nBL + t_.nWTRL);
    later(r.next_rd, now + t_.nCWL + t_.nBL + t_.nWTRS);
    later(next_wr_, now + t_.nCCDS);
    // Only reads of other ranks see this; the rank's own are held by nWTRS, which is longer.
    later(next_rd_, now + t_.nCWL + t_.nBL + t_.nRTRS - t_.nCL);
  } else if constexpr (C == Command::refpb) {
    later(b.next_act, now + t_.nRFCpb);
    later(r.next_act, now + t_.nPBR2ACT);
    later(r.next_refpb, now + t_.nPBR2PBR);
  } else {
    static_assert(C == Command::ref);
    later(r.next_act, now + t_.nRFC);
    later(r.next_refpb, now + t_.nRFC);
    const int64_t first = static_cast<int64_t>(at.rank) * org_.banks_per_rank();
    for (int64_t i = first; i < first + org_.banks_per_rank(); ++i) later(banks_[i].next_act, now + t_.nRFC);
  }
  if constexpr (C == Command::rd || C == Command::wr) {
    last_column_rank_ = at.rank;
    rank_switch_at_ = now + t_.nBL + t_.nRTRS;
  }
}

// The broadcast (PIM) commands, as "after X at t, Y waits until ...". Sources: AttAcc's HBM3-PIM device model
// (scale-snu/attacc_simulator, pim_ramulator_src/HBM3-PIM.cpp: ACTAB->MACAB nRCDRD, MACAB->MACAB nCCDAB,
// MACAB->PREA nRTPL, PREA->ACTAB nRP, ACTAB->PREA nRAS, ACTAB->ACTAB nRC, ACTAB->REFab nRC, PREA->REFab nRP,
// REFab->ACTAB nRFC); here they act through each bank's own terms, so they also hold against per-bank commands.
//   ACT_AB: every bank ACT t+nRC, RD/MAC t+nRCDRD, WR t+nRCDWR, PRE/PRE_AB t+nRAS (each bank is activated).
//           It waits for what an ACT to any bank would (every bank's nRC/nRP/nRFC, nRRDS/nRRDL and nFAW after
//           earlier ACTs); it sets no nRRD/nFAW terms itself: every bank is open after it, so the next ACT waits
//           for a PRE and nRP anyway.
//   MAC_AB: every bank PRE/PRE_AB t+nRTP; every bank group RD, WR, MAC t+nCCDL (it is a column access of each
//           group); the next MAC_AB t+nCCDAB stretched by pim.power_limit. It waits for RD/MAC nCCDL and WR
//           nCWL+nBL+nWTRL in every group, and uses no data bus (no nCCDS, turnaround or rank switch).
//   MAC_SB: the same for the banks it reads (bank at.bank of every bank group of every rank); next MAC t+nCCDL
//           stretched by pim.power_limit.
//   PRE_AB: every open bank ACT/ACT_AB/REF t+nRP. It waits for every open bank's nRAS, nRTP and write recovery.
//   REF needs every bank of its rank closed, so it follows PRE_AB by nRP and ACT_AB by nRC; ACT_AB follows REF
//   by nRFC (through the banks' terms).
int64_t DeviceTiming::earliest_broadcast(Command cmd, const BankAddress& at, int64_t now) const {
  const auto banks = static_cast<int64_t>(banks_.size());
  int64_t e = std::max(now, bus_free_[bus_of(cmd)]);
  switch (cmd) {
    case Command::act_ab:
      if (any_open()) return never;
      for (int32_t r = 0; r < org_.ranks; ++r) e = std::max(e, floor(r, now).act);
      for (const Group& g : groups_) e = std::max(e, g.next_act);
      for (const Bank& b : banks_) e = std::max(e, b.next_act);
      return e;
    case Command::pre_ab: {
      bool open = false;
      for (const Bank& b : banks_)
        if (b.open_row >= 0) open = true, e = std::max(e, b.next_pre);
      return open ? e : never;
    }
    case Command::mac_ab:
      e = std::max(e, next_mac_);
      for (const Group& g : groups_) e = std::max(e, g.next_rd);
      for (const Bank& b : banks_) {
        if (b.open_row < 0) return never;
        e = std::max(e, b.next_rd);
      }
      return e;
    case Command::mac_sb:
      if (at.bank < 0 || at.bank >= org_.banks)
        throw InternalError(fmt::format("MAC_SB to bank {} of {}", at.bank, org_.banks));
      e = std::max(e, next_mac_);
      for (const Group& g : groups_) e = std::max(e, g.next_rd);
      for (int64_t i = at.bank; i < banks; i += org_.banks) {
        const Bank& b = banks_[static_cast<size_t>(i)];
        if (b.open_row < 0) return never;
        e = std::max(e, b.next_rd);
      }
      return e;
    default:
      throw InternalError(fmt::format("{} is not a broadcast command", command_name(cmd)));
  }
}

void DeviceTiming::issue_broadcast(Command cmd, const BankAddress& at, int64_t now) {
  auto later = [](int64_t& x, int64_t v) { x = std::max(x, v); };
  bus_free_[bus_of(cmd)] = now + 1;
  const auto banks = static_cast<int64_t>(banks_.size());
  switch (cmd) {
    case Command::act_ab:
      for (Bank& b : banks_) {
        b.open_row = at.row;
        later(b.next_act, now + t_.nRC);
        later(b.next_rd, now + t_.nRCDRD);
        later(b.next_wr, now + t_.nRCDWR);
        later(b.next_pre, now + t_.nRAS);
      }
      for (Rank& r : ranks_) r.open_banks = org_.banks_per_rank();
      break;
    case Command::pre_ab:
      for (Bank& b : banks_)
        if (b.open_row >= 0) b.open_row = -1, later(b.next_act, now + t_.nRP);
      for (Rank& r : ranks_) r.open_banks = 0;
      break;
    case Command::mac_ab:
    case Command::mac_sb: {
      const bool all = cmd == Command::mac_ab;
      for (int64_t i = all ? 0 : at.bank; i < banks; i += all ? 1 : org_.banks)
        later(banks_[static_cast<size_t>(i)].next_pre, now + t_.nRTP);
      for (Group& g : groups_) later(g.next_rd, now + t_.nCCDL), later(g.next_wr, now + t_.nCCDL);
      next_mac_ = now + (all ? mac_ab_interval_ : mac_sb_interval_);
      break;
    }
    default:
      throw InternalError(fmt::format("{} is not a broadcast command", command_name(cmd)));
  }
}

void DeviceTiming::fingerprint(int64_t now, std::vector<int64_t>& out) const {
  auto rel = [&](int64_t x) { out.push_back(std::max<int64_t>(x - now, 0)); };
  for (const Bank& b : banks_)
    rel(b.next_act), rel(b.next_pre), rel(b.next_rd), rel(b.next_wr), out.push_back(b.open_row >= 0);
  for (const Group& g : groups_) rel(g.next_act), rel(g.next_rd), rel(g.next_wr);
  for (const Rank& r : ranks_) rel(r.next_act), rel(r.next_rd), rel(r.next_refpb), out.push_back(r.open_banks);
  for (const Window& w : windows_) {
    rel(w.next_act);
    for (int i = 0; i < 4; ++i) {  // the window, oldest first
      const int k = (w.faw_next + i) % 4;
      rel(i < 4 - w.faw_count ? 0 : w.faw[static_cast<size_t>(k)] + t_.nFAW);
    }
  }
  rel(next_rd_), rel(next_wr_), rel(bus_free_[0]), rel(bus_free_[1]), rel(next_mac_);
  rel(rank_switch_at_);
  out.push_back(rank_switch_at_ > now ? last_column_rank_ : -1);
}

void DeviceTiming::shift(int64_t delta) {
  for (Bank& b : banks_) b.next_act += delta, b.next_pre += delta, b.next_rd += delta, b.next_wr += delta;
  for (Group& g : groups_) g.next_act += delta, g.next_rd += delta, g.next_wr += delta;
  for (Rank& r : ranks_) r.next_act += delta, r.next_rd += delta, r.next_refpb += delta;
  for (Window& w : windows_) {
    w.next_act += delta;
    for (int64_t& f : w.faw) f += delta;
    w.faw_at += delta;
  }
  next_rd_ += delta, next_wr_ += delta, bus_free_[0] += delta, bus_free_[1] += delta, next_mac_ += delta,
      rank_switch_at_ += delta;
}

int64_t DeviceTiming::auto_precharge(const BankAddress& at) {
  Bank& b = banks_[bank_index(at)];
  if (b.open_row < 0) throw InternalError("auto-precharge of a closed bank");
  const int64_t when = b.next_pre;
  b.open_row = -1;
  --ranks_[at.rank].open_banks;
  b.next_act = std::max(b.next_act, when + t_.nRP);
  return when;
}

EnergyBreakdown command_energy(const DramPreset& p, const CommandCounts& c) {
  const DramEnergy& e = p.energy;
  const double bits_per_access = static_cast<double>(p.org.access_bytes() * 8);
  const auto rd = static_cast<double>(c[Command::rd]) * bits_per_access,
             wr = static_cast<double>(c[Command::wr]) * bits_per_access;
  EnergyBreakdown b;
  b.activate_pJ = static_cast<double>(c[Command::act]) * e.activate.energy_pJ;
  b.read_array_pJ = rd * e.read_array.energy_pJ;
  b.read_movement_pJ = rd * e.read_movement.energy_pJ;
  b.read_io_pJ = rd * e.read_io.energy_pJ;
  b.write_array_pJ = wr * e.write_array.energy_pJ;
  b.write_movement_pJ = wr * e.write_movement.energy_pJ;
  b.write_io_pJ = wr * e.write_io.energy_pJ;
  b.refresh_pJ = static_cast<double>(c[Command::ref]) * e.refresh.energy_pJ;
  if (c[Command::refpb] > 0)  // only then, so all-bank figures keep their arithmetic
    b.refresh_pJ +=
        static_cast<double>(c[Command::refpb]) * e.refresh.energy_pJ / static_cast<double>(p.org.banks_per_rank());
  return b;
}

namespace {

// One controller: a queue of requests (their age is their admission number), scheduled FR-FCFS (the oldest
// request whose column command is ready first, then the oldest ready ACT or PRE), with all-bank refresh of each
// rank every nREFI or per-bank refresh of its banks in turn.
class Controller {
 public:
  // `latencies` counts requests by latency in cycles.
  Controller(const DramPreset& p, int32_t id, RunResult& result, std::vector<int64_t>& latencies,
             std::vector<IssuedCommand>* log)
      : p_(p),
        id_(id),
        dev_(p.org, p.timing, p.controller.dual_command_bus),
        result_(result),
        latencies_(latencies),
        log_(log) {
    hits_.assign(static_cast<size_t>(p.org.banks_per_controller()), Hits{});
    firsts_.assign(static_cast<size_t>(p.org.banks_per_controller()) + 1, 0);
    per_bank_ = p.controller.refresh && p.controller.refresh_mode == RefreshMode::per_bank;
    refresh_due_.assign(static_cast<size_t>(p.org.ranks),
                        p.controller.refresh && !per_bank_ ? p.timing.nREFI : DeviceTiming::never);
    pb_interval_ = p.timing.nREFI / p.org.banks_per_rank();
    pb_due_.assign(static_cast<size_t>(p.org.ranks), per_bank_ ? pb_interval_ : DeviceTiming::never);
    pb_next_.assign(static_cast<size_t>(p.org.ranks), 0);
    pb_refreshing_.assign(static_cast<size_t>(p.org.banks_per_controller()), 0);
    refresh_moved();
    floors_.resize(static_cast<size_t>(p.org.ranks));
    refreshing_.assign(static_cast<size_t>(p.org.ranks), false);
    banks_.resize(static_cast<size_t>(p.org.banks_per_controller()));
    for (size_t b = 0; b < banks_.size(); ++b)
      banks_[b].rank = static_cast<int64_t>(b) / p.org.banks_per_rank(),
      banks_[b].group = static_cast<int64_t>(b) / p.org.banks;
    slots_.resize(static_cast<size_t>(p.controller.queue_size));
    for (auto slot = static_cast<int32_t>(p.controller.queue_size); slot-- > 0;) free_.push_back(slot);
    static constexpr Command by_class[classes] = {Command::rd, Command::wr, Command::act, Command::pre};
    terms_.resize(classes * banks_.size());
    for (int k = 0; k < classes; ++k)
      for (size_t b = 0; b < banks_.size(); ++b)
        terms_[k * banks_.size() + b] = dev_.terms(by_class[k], static_cast<int64_t>(b), banks_[b].group);
    for (int32_t r = 0; r < p.org.ranks; ++r) {
      DeviceTiming::RankFloor& f = floors_[static_cast<size_t>(r)];
      for (const int64_t* term : {&f.rd, &f.wr, &f.act, &f.pre}) floor_terms_.push_back(term);
    }
    for (int half = 0; half < 3; ++half) {
      Half& h = halves_[static_cast<size_t>(half)];
      const size_t positions = (half == 0 ? 2 : 1) * banks_.size();
      h.taken.assign((positions + 63) / 64, 0);
      h.seq.resize(positions);
      h.floor.resize(positions);
      h.bank_term.resize(positions);
      h.group_term.resize(positions);
    }
  }
  Controller(const Controller&) = delete;  // the halves point into it
  Controller& operator=(const Controller&) = delete;

  static constexpr size_t prefetch_ahead = 16;

  // Runs this controller's requests: requests[order[0]], requests[order[1]], ...
  void run(const Request* requests, const uint32_t* order, size_t n, const Decoder& decode) {
    const auto capacity = static_cast<size_t>(p_.controller.queue_size);
    size_t next_in = 0;
    int64_t t = 0;
    for (;;) {
      while (queued_ < capacity && next_in < n && requests[order[next_in]].arrival <= t) {
        // This controller's requests are scattered over all of them: fetch ahead.
        if (next_in + prefetch_ahead < n) __builtin_prefetch(&requests[order[next_in + prefetch_ahead]]);
        const Request& r = requests[order[next_in++]];
        admit(decode(r.address).at, r.write, t);
      }
      if (queued_ == 0 && next_in == n) break;
      int64_t next = DeviceTiming::never;
      if (queued_ < capacity && next_in < n) next = std::max(requests[order[next_in]].arrival, t + 1);
      if (step(t, next)) continue;  // something issued: look again in the same cycle (the other bus may be free)
      if (next == DeviceTiming::never) throw InternalError(fmt::format("DRAM controller {} stuck at cycle {}", id_, t));
      t = next;
    }
  }

 private:
  struct Entry {
    BankAddress at;
    int64_t bank = 0;  // index in the device
    int64_t admitted = 0;
    int64_t seq = 0;  // admission order: FR-FCFS's "oldest"
    bool write = false;
    bool activated = false;        // an ACT was issued for it
    bool conflicted = false;       // a PRE was issued for it
    int32_t prev = -1, next = -1;  // its bank's requests
  };
  // FR-FCFS only ever picks, in a bank, its oldest read hit, its oldest write hit or its oldest other request
  // (all of a kind wait for the same cycle): those are the bank's candidates.
  struct Candidate {
    int32_t slot = -1;  // none when negative
    Command cmd = Command::act;
  };
  struct BankQueue {
    int32_t head = -1, tail = -1;  // its requests, oldest first, linked through Entry::next/prev
    std::array<Candidate, 3> candidates;
    int64_t busy_at = -1;  // its place in busy_
    int64_t rank = 0, group = 0;
    int64_t touched_at = -1;
  };
  // Queued requests for the bank's open row.
  struct Hits {
    int32_t reads = 0, writes = 0;
  };
  // A candidate's cycle is the largest of its rank's floor for its command (rank- and channel-wide terms, the
  // same for every candidate of the class) and its own term (its bank's and bank group's).
  static constexpr int classes = 4;  // RD, WR, ACT, PRE
  // Each half's candidates by position: a column candidate (RD, WR) at 2 * bank + 0 or 1, a row candidate (ACT
  // or PRE) at its bank; a bit marks each position taken. Row candidates form two halves, ACTs and PREs: a PRE
  // moves only the bus term of the ACTs and an ACT only that of the PREs, so the other's first often stands. A
  // candidate keeps where its rank's floor and its own terms live, so weighing one is a few loads and no branch,
  // and a half is weighed in one pass over its bits.
  struct Half {
    std::vector<uint64_t> taken;
    std::vector<uint64_t> seq;
    std::vector<const int64_t*> floor, bank_term, group_term;
  };
  __extension__ typedef unsigned __int128 Key;  // (cycle, seq): FR-FCFS's order within a half
  static Key key(int64_t cycle, uint64_t seq) { return static_cast<Key>(static_cast<uint64_t>(cycle)) << 64 | seq; }

  void admit(const BankAddress& at, bool write, int64_t t) {
    const int32_t slot = free_.back();
    free_.pop_back();
    Entry& e = slots_[static_cast<size_t>(slot)];
    e = Entry{at, dev_.bank_index(at), t, admitted_++, write};
    ++queued_;
    BankQueue& b = banks_[static_cast<size_t>(e.bank)];
    if (b.head < 0)
      b.busy_at = static_cast<int64_t>(busy_.size()), busy_.push_back(e.bank), b.head = slot;
    else
      slots_[static_cast<size_t>(b.tail)].next = slot, e.prev = b.tail;
    b.tail = slot;
    if (dev_.open_row(e.bank) == at.row) ++(write ? hits_[e.bank].writes : hits_[e.bank].reads);
    changed(e.bank);  // a new hit makes the bank's conflicts wait
  }

  void log(Command c, const BankAddress& at, int64_t t, bool automatic = false) {
    if (!automatic) moved(c, t);
    ++result_.commands[c];
    if (log_) log_->push_back(IssuedCommand{t, id_, c, at, automatic});
  }

  // Issues one command at cycle t if one is ready and returns true; otherwise lowers `next` to the first cycle
  // at which one may be.
  bool step(int64_t t, int64_t& next) {
    if (refresh_next_ > t) {  // what the loops below do while no refresh is due
      next = std::min(next, refresh_next_);
    } else if (refresh(t, next)) {
      return true;
    }
    // FR-FCFS: the oldest ready column command; failing that, the oldest ready ACT or PRE. The plan holds until
    // a command issues, a request arrives or a rank starts refreshing.
    if (dirty_) plan(t);
    if (first_ready_ > t) {
      next = std::min(next, first_ready_);
      return false;
    }
    return issue(t);
  }

  // The first of refresh_due_ and pb_due_.
  void refresh_moved() {
    refresh_next_ = DeviceTiming::never;
    for (size_t r = 0; r < refresh_due_.size(); ++r)
      refresh_next_ = std::min({refresh_next_, refresh_due_[r], pb_due_[r]});
  }

  // Refresh's part of step().
  bool refresh(int64_t t, int64_t& next) {
    // A rank past its refresh deadline takes no new work: its banks close, then it refreshes.
    for (int32_t rank = 0; rank < p_.org.ranks; ++rank) {
      const int64_t due = refresh_due_[static_cast<size_t>(rank)];
      if (due > t) {
        next = std::min(next, due);
        continue;
      }
      if (!refreshing_[static_cast<size_t>(rank)]) refreshing_[static_cast<size_t>(rank)] = true, changed_all();
      BankAddress at{rank, 0, 0, 0, 0};
      bool any_open = false;
      for (at.bank_group = 0; at.bank_group < p_.org.bank_groups; ++at.bank_group)
        for (at.bank = 0; at.bank < p_.org.banks; ++at.bank) {
          if (dev_.open_row(at) < 0) continue;
          any_open = true;
          const int64_t e = dev_.earliest(Command::pre, at, t);
          if (e == t) return precharge(at, t, nullptr);
          next = std::min(next, e);
        }
      if (any_open) continue;
      const int64_t e = dev_.earliest(Command::ref, at, t);
      if (e == t) {
        dev_.commit(Command::ref, at, t);
        log(Command::ref, at, t);
        changed_all();
        refresh_due_[static_cast<size_t>(rank)] += p_.timing.nREFI;
        refresh_moved();
        refreshing_[static_cast<size_t>(rank)] = false;
        result_.refresh_cycles += p_.timing.nRFC;
        return true;
      }
      next = std::min(next, e);
    }
    // Per-bank refresh: every nREFI / (banks per rank), the rank's next bank in turn takes no new work, closes
    // and refreshes (REFpb); the other banks go on.
    for (int32_t rank = 0; per_bank_ && rank < p_.org.ranks; ++rank) {
      const int64_t due = pb_due_[static_cast<size_t>(rank)];
      if (due > t) {
        next = std::min(next, due);
        continue;
      }
      const int64_t in_rank = pb_next_[static_cast<size_t>(rank)], bank = rank * p_.org.banks_per_rank() + in_rank;
      if (!pb_refreshing_[static_cast<size_t>(bank)]) pb_refreshing_[static_cast<size_t>(bank)] = 1, changed(bank);
      const BankAddress at{rank, static_cast<int32_t>(in_rank / p_.org.banks),
                           static_cast<int32_t>(in_rank % p_.org.banks), 0, 0};
      if (dev_.open_row(bank) >= 0) {
        const int64_t e = dev_.earliest(Command::pre, at, t);
        if (e == t) return precharge(at, t, nullptr);
        next = std::min(next, e);
        continue;
      }
      const int64_t e = dev_.earliest(Command::refpb, at, t);
      if (e == t) {
        dev_.commit(Command::refpb, at, t);
        log(Command::refpb, at, t);
        pb_refreshing_[static_cast<size_t>(bank)] = 0;
        changed(bank);
        pb_due_[static_cast<size_t>(rank)] += pb_interval_;
        refresh_moved();
        pb_next_[static_cast<size_t>(rank)] = (in_rank + 1) % p_.org.banks_per_rank();
        result_.refresh_bank_cycles += p_.timing.nRFCpb;
        return true;
      }
      next = std::min(next, e);
    }
    return false;
  }

  // Issues the plan's choice at t, its cycle.
  bool issue(int64_t t) {
    const int32_t slot = choice_.slot;
    Entry& q = slots_[static_cast<size_t>(slot)];
    if (choice_.cmd == Command::rd || choice_.cmd == Command::wr) return serve(slot, choice_.cmd, t);
    if (choice_.cmd == Command::pre) return precharge(q.at, t, &q);
    changed(q.bank);
    dev_.commit<Command::act>(q.at, t);
    log(Command::act, q.at, t);
    q.activated = true;
    Hits& hits = hits_[q.bank];
    hits = {};
    for (int32_t o = banks_[static_cast<size_t>(q.bank)].head; o >= 0; o = slots_[static_cast<size_t>(o)].next) {
      const Entry& e = slots_[static_cast<size_t>(o)];
      if (e.at.row == q.at.row) ++(e.write ? hits.writes : hits.reads);
    }
    return true;
  }

  // The bank's candidates and their commands. Requests for another row than the open one have none while the
  // open row still has work.
  void candidates(BankQueue& b, int64_t bank) {
    const int32_t open = dev_.open_row(bank);
    const Hits h = hits_[bank];
    b.candidates = {};
    bool read = h.reads > 0, write = h.writes > 0, other = open < 0 || h.reads + h.writes == 0;  // still to find
    for (int32_t slot = b.head; slot >= 0; slot = slots_[static_cast<size_t>(slot)].next) {
      const Entry& e = slots_[static_cast<size_t>(slot)];
      if (e.at.row == open) {
        if (e.write && write)
          b.candidates[1] = {slot, Command::wr}, write = false;
        else if (!e.write && read)
          b.candidates[0] = {slot, Command::rd}, read = false;
      } else if (other) {
        b.candidates[2] = {slot, open < 0 ? Command::act : Command::pre}, other = false;
      }
      if (!read && !write && !other) break;
    }
  }

  // The least (cycle, row command, age) over the candidates of one half: column commands (RD, WR) or row
  // commands (ACT, PRE).
  struct Best {
    Key key = none;  // (cycle, seq)
    Candidate choice;
    int64_t bank = -1;
    int64_t cycle() const { return static_cast<int64_t>(key >> 64); }
  };
  static constexpr Key none = static_cast<Key>(static_cast<uint64_t>(DeviceTiming::never))
                              << 64;  // nothing at `never` wins

  // The least (cycle, seq) of a half; the order of the pass does not matter, ages being distinct.
  Best first_of_half(int half) const {
    const Half& h = halves_[static_cast<size_t>(half)];
    Key best = none;
    size_t at = 0;
    for (size_t w = 0; w < h.taken.size(); ++w)
      for (uint64_t m = h.taken[w]; m; m &= m - 1) {
        const size_t i = 64 * w + static_cast<size_t>(std::countr_zero(m));
        const Key k = key(std::max(*h.floor[i], std::max(*h.bank_term[i], *h.group_term[i])), h.seq[i]);
        const bool less = k < best;
        at = less ? i : at;
        best = less ? k : best;
      }
    Best b;
    if (best == none) return b;
    b.key = best;
    b.bank = half == 0 ? static_cast<int64_t>(at / 2) : static_cast<int64_t>(at);  // a row half's positions are banks
    b.choice = banks_[static_cast<size_t>(b.bank)].candidates[half == 0 ? at % 2 : 2];
    return b;
  }

  // Candidates 0 and 1 (RD, WR) are column commands (half 0), 2 an ACT (half 1) or a PRE (half 2).
  static int half_of(const Candidate& c, int candidate) { return candidate < 2 ? 0 : c.cmd == Command::act ? 1 : 2; }
  static size_t position(int64_t bank, int candidate) {
    return candidate < 2 ? static_cast<size_t>(2 * bank + candidate) : static_cast<size_t>(bank);
  }
  void unwait(int64_t bank) {
    const auto column = static_cast<size_t>(2 * bank), row = static_cast<size_t>(bank);
    halves_[0].taken[column / 64] &= ~(uint64_t{3} << column % 64);
    halves_[1].taken[row / 64] &= ~(uint64_t{1} << row % 64);
    halves_[2].taken[row / 64] &= ~(uint64_t{1} << row % 64);
  }
  // Puts candidate i among its half's; returns its position.
  size_t wait(const BankQueue& b, int64_t bank, int i, uint64_t seq) {
    static constexpr int8_t class_by_command[] = {2, 3, 0, 1};  // act, pre, rd, wr
    const int cls = class_by_command[static_cast<size_t>(b.candidates[static_cast<size_t>(i)].cmd)];
    Half& h = halves_[static_cast<size_t>(half_of(b.candidates[static_cast<size_t>(i)], i))];
    const size_t at = position(bank, i);
    h.taken[at / 64] |= uint64_t{1} << at % 64;
    h.seq[at] = seq;
    h.floor[at] = floor_terms_[static_cast<size_t>(b.rank * classes + cls)];
    const auto& terms = terms_[static_cast<size_t>(cls) * banks_.size() + static_cast<size_t>(bank)];
    h.bank_term[at] = terms[0];
    h.group_term[at] = terms[1];
    return at;
  }

  // The first cycle any candidate may issue, and which FR-FCFS picks then: the better of the halves' firsts. A
  // touched bank's candidates are rebuilt. A half is looked at anew after a command on its bus (its floors
  // moved) or when its first's bank was touched; otherwise its first stands and only the touched banks' new
  // candidates can beat it. (Time moves only up to the first cycle found, so a first found earlier keeps its
  // cycle.)
  void plan(int64_t t) {
    if (all_changed_) {
      touched_.clear();
      for (const int64_t bank : busy_) touched_.push_back(bank);
      stale_ = 7;
    }
    if (bus_moved_) {
      // A half whose floors only rose to bus_at_ keeps its first if that is not below it: every other candidate's
      // cycle was at least the first's, so none moved.
      const int64_t b = bus_at_;
      stale_ |= bus_moved_ & (unsigned{best_[0].cycle() < b} | unsigned{best_[1].cycle() < b} << 1 |
                              unsigned{best_[2].cycle() < b} << 2);
    }
    const unsigned moved_floors = stale_ | bus_moved_;
    bus_moved_ = 0;
    // Only floors that may have moved are worked out anew. The others have changed by no command since they
    // were: at t they are the larger of t and their value then.
    for (int32_t r = 0; r < p_.org.ranks; ++r) {
      if (moved_floors & 1) dev_.column_floor(r, t, floors_[static_cast<size_t>(r)]);
      if (moved_floors & 6) dev_.row_floor(r, t, floors_[static_cast<size_t>(r)]);
    }
    for (const int64_t bank : touched_) {
      BankQueue& b = banks_[static_cast<size_t>(bank)];
      unwait(bank);
      if (b.head < 0 || refresh_due_[static_cast<size_t>(b.rank)] <= t || pb_refreshing_[static_cast<size_t>(bank)])
        continue;
      candidates(b, bank);
      for (int i = 0; i < 3; ++i) {
        const Candidate& c = b.candidates[static_cast<size_t>(i)];
        if (c.slot < 0) continue;
        const auto seq = static_cast<uint64_t>(slots_[static_cast<size_t>(c.slot)].seq);
        const int half = half_of(c, i);
        const size_t at = wait(b, bank, i, seq);
        if (!(stale_ >> half & 1)) {
          Best& best = best_[half];
          const Half& h = halves_[static_cast<size_t>(half)];
          const Key k = key(std::max({t, *h.floor[at], *h.bank_term[at], *h.group_term[at]}), seq);
          if (k < best.key) best.key = k, best.bank = bank, best.choice = c;
        }
      }
    }
    touched_.clear();
    if (stale_ & 1) best_[0] = first_of_half(0);
    if (stale_ & 2) best_[1] = first_of_half(1);
    if (stale_ & 4) best_[2] = first_of_half(2);
    stale_ = 0;
    firsts_[static_cast<size_t>(firsts_at_[0] + 1)] = firsts_[static_cast<size_t>(firsts_at_[1] + 1)] =
        firsts_[static_cast<size_t>(firsts_at_[2] + 1)] = 0;
    for (int half = 0; half < 3; ++half)
      firsts_at_[half] = best_[half].bank, firsts_[static_cast<size_t>(best_[half].bank + 1)] |= uint8_t(1 << half);
    // At equal cycles a column command goes first.
    const int row_half = best_[2].key < best_[1].key ? 2 : 1;
    const bool row = best_[row_half].cycle() < best_[0].cycle();
    first_ready_ = row ? best_[row_half].cycle() : best_[0].cycle();
    choice_ = best_[row ? row_half : 0].choice;
    dirty_ = false;
    all_changed_ = false;
    ++plans_;
  }

  // A command at t makes stale the halves whose floors or bank-group terms it moves beyond its bus: RD and WR
  // the column half, ACT and REFpb the ACTs (the rank's ACT floor, the group's term), REF all. In the halves
  // that share its bus only that bus term moves, to t + 1.
  void moved(Command c, int64_t t) {
    const bool column = c == Command::rd || c == Command::wr;
    stale_ |= column ? 1u : c == Command::act || c == Command::refpb ? 2u : c == Command::ref ? 7u : 0u;
    bus_moved_ |= !p_.controller.dual_command_bus ? 7u : column ? 0u : 6u;  // a column command's own half is stale
    bus_at_ = t + 1;
  }

  void changed(int64_t bank) {
    // A half whose first's bank is touched is looked at anew.
    stale_ |= firsts_[static_cast<size_t>(bank + 1)];
    BankQueue& b = banks_[static_cast<size_t>(bank)];
    if (b.touched_at != plans_) b.touched_at = plans_, touched_.push_back(bank);
    dirty_ = true;
  }
  void changed_all() { all_changed_ = dirty_ = true; }

  bool precharge(const BankAddress& at, int64_t t, Entry* for_whom) {
    changed(dev_.bank_index(at));
    dev_.commit<Command::pre>(at, t);
    log(Command::pre, at, t);
    hits_[dev_.bank_index(at)] = {};
    if (for_whom) for_whom->conflicted = true;
    return true;
  }

  bool serve(int32_t slot, Command c, int64_t t) {
    const Entry& q = slots_[static_cast<size_t>(slot)];
    changed(q.bank);
    if (c == Command::rd)
      dev_.commit<Command::rd>(q.at, t);
    else
      dev_.commit<Command::wr>(q.at, t);
    log(c, q.at, t);
    const int64_t start = t + (c == Command::rd ? p_.timing.nCL : p_.timing.nCWL), done = start + p_.timing.nBL;
    if (start < data_bus_free_)
      throw InternalError(fmt::format("DRAM controller {}: data bus driven twice at cycle {}", id_, start));
    data_bus_free_ = done;
    const auto latency = static_cast<size_t>(done - q.admitted);
    if (latency >= latencies_.size()) latencies_.resize(2 * latency + 1, 0);
    ++latencies_[latency];
    result_.cycles = std::max(result_.cycles, done);
    if (q.conflicted)
      ++result_.row_conflicts;
    else if (q.activated)
      ++result_.row_misses;
    else
      ++result_.row_hits;
    const BankAddress at = q.at;
    const int64_t bank = q.bank;
    Hits& hits = hits_[bank];
    --(q.write ? hits.writes : hits.reads);
    BankQueue& b = banks_[static_cast<size_t>(bank)];
    (q.prev >= 0 ? slots_[static_cast<size_t>(q.prev)].next : b.head) = q.next;
    (q.next >= 0 ? slots_[static_cast<size_t>(q.next)].prev : b.tail) = q.prev;
    if (b.head < 0) {  // off the busy list: the last busy bank takes its place
      const int64_t moved = busy_.back();
      busy_[static_cast<size_t>(b.busy_at)] = moved;
      banks_[static_cast<size_t>(moved)].busy_at = b.busy_at;
      busy_.pop_back();
      b.busy_at = -1;
    }
    free_.push_back(slot);
    --queued_;
    // Closed page: a read or write with nothing else queued for its row auto-precharges (RDA/WRA).
    if (p_.controller.page_policy == PagePolicy::closed && hits.reads + hits.writes == 0) {
      const int64_t when = dev_.auto_precharge(at);
      log(Command::pre, at, when, true);
    }
    return true;
  }

  const DramPreset& p_;
  int32_t id_;
  DeviceTiming dev_;
  RunResult& result_;
  std::vector<int64_t>& latencies_;
  std::vector<IssuedCommand>* log_;
  std::vector<Entry> slots_;  // the queue: queue_size slots, unordered (age is `seq`)
  std::vector<int32_t> free_;
  size_t queued_ = 0;
  std::vector<BankQueue> banks_;
  std::vector<int64_t> busy_;         // banks with queued requests
  std::vector<Hits> hits_;            // per bank
  std::vector<int64_t> refresh_due_;  // per rank
  int64_t data_bus_free_ = 0;
  std::vector<DeviceTiming::RankFloor> floors_;
  std::vector<bool> refreshing_;           // per rank: past its deadline, not yet refreshed
  bool per_bank_ = false;                  // per-bank refresh
  int64_t pb_interval_ = 0;                // between a rank's REFpbs
  std::vector<int64_t> pb_due_, pb_next_;  // per rank: the next REFpb's deadline and bank (in the rank)
  std::vector<char> pb_refreshing_;        // per bank: past its REFpb deadline, not yet refreshed
  bool dirty_ = true;                      // the plan is stale
  int64_t admitted_ = 0;
  bool all_changed_ = true;       // every bank's candidates may have changed
  std::vector<int64_t> touched_;  // banks changed since the last plan
  int64_t plans_ = 0;
  std::array<Half, 3> halves_;                        // column candidates, ACTs and PREs
  std::vector<const int64_t*> floor_terms_;           // by rank and class: where its floor lives
  std::vector<std::array<const int64_t*, 2>> terms_;  // by class and bank
  std::array<Best, 3> best_;                          // the first of each half
  unsigned stale_ = 7;                                // by half, a bit each: look at it anew
  unsigned bus_moved_ = 0;                            // by half: a command took its bus since the last plan
  int64_t bus_at_ = 0;                                // and it is free from here
  std::vector<uint8_t> firsts_;  // by bank + 1: the halves whose first is there (changed() reads it)
  std::array<int64_t, 3> firsts_at_{-1, -1, -1};
  int64_t first_ready_ = DeviceTiming::never;
  int64_t refresh_next_ = 0;  // the first refresh deadline
  Candidate choice_;
};

}  // namespace

RunResult simulate(const DramPreset& preset, const std::vector<Request>& requests, const RunOptions& options) {
  const DramOrg& org = preset.org;
  // Each controller's requests, in order, side by side in one array (a counting sort by controller).
  const auto controllers = static_cast<size_t>(org.controllers());
  // Each controller's requests in order: their indices, grouped by controller (a counting sort). Decoding again
  // when a request is admitted costs less than keeping decoded copies (fresh memory is slow to fault in).
  if (requests.size() > UINT32_MAX)
    throw UserError(fmt::format("{} DRAM requests: at most {} at once", requests.size(), UINT32_MAX));
  const Decoder decoder(org, preset.controller.mapping);
  std::vector<size_t> start(controllers + 1, 0);
  for (const Request& r : requests) ++start[static_cast<size_t>(decoder(r.address).controller) + 1];
  for (size_t c = 0; c < controllers; ++c) start[c + 1] += start[c];
  std::vector<size_t> fill(start.begin(), start.end() - 1);
  const auto order = std::make_unique_for_overwrite<uint32_t[]>(requests.size());
  for (size_t i = 0; i < requests.size(); ++i)
    order[fill[static_cast<size_t>(decoder(requests[i].address).controller)]++] = static_cast<uint32_t>(i);
  RunResult result;
  std::vector<int64_t> latencies(1024, 0);  // requests by latency
  for (size_t c = 0; c < controllers; ++c) {
    if (start[c] == start[c + 1]) continue;
    Controller(preset, static_cast<int32_t>(c), result, latencies, options.log)
        .run(requests.data(), order.get() + start[c], start[c + 1] - start[c], decoder);
  }
  result.requests = static_cast<int64_t>(requests.size());
  result.reads = result.commands[Command::rd];
  result.writes = result.commands[Command::wr];
  result.energy = command_energy(preset, result.commands);
  if (!requests.empty()) {
    int64_t sum = 0;
    for (size_t l = 0; l < latencies.size(); ++l) {
      sum += static_cast<int64_t>(l) * latencies[l];
      if (latencies[l]) result.max_latency = static_cast<int64_t>(l);
    }
    result.avg_latency = static_cast<double>(sum) / static_cast<double>(requests.size());
    // The k-th smallest latency, k = q (n - 1) rounded down.
    auto pct = [&](double q) {
      const auto k = static_cast<int64_t>(q * static_cast<double>(requests.size() - 1));
      int64_t below = 0;
      for (size_t l = 0; l < latencies.size(); ++l)
        if ((below += latencies[l]) > k) return static_cast<int64_t>(l);
      return result.max_latency;
    };
    result.p50_latency = pct(0.50);
    result.p90_latency = pct(0.90);
    result.p99_latency = pct(0.99);
  }
  return result;
}

}  // namespace einsim::dram
