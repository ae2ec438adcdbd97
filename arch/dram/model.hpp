#pragma once
// The bank-level DRAM model: the timing rules between commands (DeviceTiming), address mappings, and
// controllers (FR-FCFS, open or closed page, all-bank or per-bank refresh) that turn a stream of requests into
// commands.
// Plain C++, event-driven: a controller jumps to the next cycle at which some command may issue instead of
// ticking through idle cycles. Controllers share nothing, so each runs its own requests to completion.
#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "arch/dram/spec.hpp"

namespace einsim::dram {

// act..ref and refpb (a per-bank refresh) are what controllers issue; act_ab..mac_sb are processing-in-memory
// commands (arch/dram/pim.hpp), broadcast to many banks of one controller's devices: ACT_AB opens the same row
// in every bank, MAC_AB reads one access of every bank's open row into its bank's PIM unit (no data on the
// external bus), PRE_AB closes every bank, and MAC_SB reads one access of bank `at.bank` of every bank group
// (a unit per bank group).
enum class Command : uint8_t { act, pre, rd, wr, ref, act_ab, mac_ab, pre_ab, mac_sb, refpb };
inline constexpr int command_count = 10;
inline constexpr int controller_command_count = 5;  // act, pre, rd, wr, ref: what einsim dram reports by default
std::string_view command_name(Command c);
constexpr bool is_broadcast(Command c) { return c >= Command::act_ab && c <= Command::mac_sb; }

// A location within one controller's devices.
struct BankAddress {
  int32_t rank = 0;
  int32_t bank_group = 0;
  int32_t bank = 0;  // within its bank group
  int32_t row = 0;
  int32_t column = 0;
};

struct Address {
  int32_t controller = 0;  // channel * pseudo_channels + pseudo-channel
  BankAddress at;
};

// Byte address -> location; addresses beyond the capacity wrap around.
Address decode(const DramOrg& org, AddressMapping mapping, uint64_t byte_address);

// One controller's ranks, bank groups and banks: which rows are open and the earliest cycle each command may
// issue under every timing rule (the rules are listed in model.cpp, beside issue()).
class DeviceTiming {
 public:
  static constexpr int64_t never = INT64_MAX / 4;

  // `pim` stretches the broadcast MACs' interval (power_limit); the controllers' commands ignore it.
  DeviceTiming(const DramOrg& org, const DramTiming& timing, bool dual_command_bus, const DramPim& pim = {});

  // The earliest cycle >= now at which `cmd` to `at` meets every rule; `never` when the bank's state forbids
  // it: ACT to an open bank; RD, WR or PRE to a closed one; REF while a bank of the rank is open; ACT_AB while
  // any bank is open, PRE_AB while none is, MAC_AB while any is closed, MAC_SB while a bank it reads is closed.
  // The broadcast commands read only `at.row` (ACT_AB) and `at.bank` (MAC_SB).
  int64_t earliest(Command cmd, const BankAddress& at, int64_t now) const;
  // The same, split for schedulers that weigh many requests at once: the rank- and channel-wide terms of one
  // rank at `now`, then the bank's and bank group's on top (ACT, PRE, RD and WR).
  struct RankFloor {
    int64_t act = 0, pre = 0, rd = 0, wr = 0;
  };
  RankFloor floor(int32_t rank, int64_t now) const {
    RankFloor f;
    row_floor(rank, now, f);
    column_floor(rank, now, f);
    return f;
  }
  // Its ACT and PRE terms, or its RD and WR terms.
  void row_floor(int32_t rank, int64_t now, RankFloor& f) const {
    const Rank& r = ranks_[static_cast<size_t>(rank)];
    const Window& w = window(rank);
    f.pre = std::max(now, bus_free_[0]);
    f.act = std::max({f.pre, r.next_act, w.next_act, w.faw_at});
  }
  void column_floor(int32_t rank, int64_t now, RankFloor& f) const {
    const Rank& r = ranks_[static_cast<size_t>(rank)];
    const int64_t column = std::max(now, bus_free_[dual_bus_ ? 1 : 0]);
    const int64_t other_rank = rank != last_column_rank_ ? rank_switch_at_ : 0;  // 0 before any column command
    f.rd = std::max({column, next_rd_, r.next_rd, other_rank});
    f.wr = std::max({column, next_wr_, other_rank});
  }
  int64_t earliest(Command cmd, const BankAddress& at, const RankFloor& f) const;
  // The same by the indices below; `cmd` is not REF.
  int64_t earliest(Command cmd, int64_t bank, int64_t group, const RankFloor& f) const {
    const Bank& b = banks_[static_cast<size_t>(bank)];
    const Group& g = groups_[static_cast<size_t>(group)];
    switch (cmd) {
      case Command::act:
        return b.open_row >= 0 ? never : std::max({f.act, b.next_act, g.next_act});
      case Command::pre:
        return b.open_row < 0 ? never : std::max(f.pre, b.next_pre);
      case Command::rd:
        return b.open_row < 0 ? never : std::max({f.rd, b.next_rd, g.next_rd});
      default:
        return b.open_row < 0 ? never : std::max({f.wr, b.next_wr, g.next_wr});
    }
  }
  // Where the bank's and its bank group's terms for ACT, PRE, RD or WR live (PRE has no group term: both point
  // at the bank's), so a scheduler can re-read a waiting command's own term without the switch above. Valid for
  // the device's lifetime; the open-row check is the caller's.
  std::array<const int64_t*, 2> terms(Command cmd, int64_t bank, int64_t group) const {
    const Bank& b = banks_[static_cast<size_t>(bank)];
    const Group& g = groups_[static_cast<size_t>(group)];
    switch (cmd) {
      case Command::act:
        return {&b.next_act, &g.next_act};
      case Command::pre:
        return {&b.next_pre, &b.next_pre};
      case Command::rd:
        return {&b.next_rd, &g.next_rd};
      default:
        return {&b.next_wr, &g.next_wr};
    }
  }
  bool can_issue(Command cmd, const BankAddress& at, int64_t now) const { return earliest(cmd, at, now) == now; }
  // Throws InternalError unless can_issue. RD and WR open no row: they read the bank's open one.
  void issue(Command cmd, const BankAddress& at, int64_t now);
  // issue() without the check, for a scheduler that has just found earliest(cmd, at, now) == now.
  void commit(Command cmd, const BankAddress& at, int64_t now);
  // The same for a command known when compiling (not a broadcast one): no dispatch. Defined in model.cpp.
  template <Command C>
  void commit(const BankAddress& at, int64_t now);
  // An auto-precharge after a RD or WR (RDA/WRA): the bank closes at the first cycle a PRE may, without taking
  // a command-bus slot. Returns that cycle.
  int64_t auto_precharge(const BankAddress& at);

  int32_t open_row(const BankAddress& at) const { return banks_[bank_index(at)].open_row; }
  int32_t open_row(int64_t bank) const { return banks_[static_cast<size_t>(bank)].open_row; }
  int64_t bank_index(const BankAddress& at) const { return group_index(at) * org_.banks + at.bank; }
  int64_t group_index(const BankAddress& at) const { return at.rank * org_.bank_groups + at.bank_group; }
  const DramOrg& org() const { return org_; }
  const DramTiming& timing() const { return t_; }
  // MAC_AB to MAC_AB and MAC_SB to MAC_SB, after the power limit's stretch.
  int64_t mac_ab_interval() const { return mac_ab_interval_; }
  int64_t mac_sb_interval() const { return mac_sb_interval_; }
  bool any_open() const;

  // For steady-state extrapolation (arch/dram/pim.cpp). The state that can still delay a command issued at
  // or after `now`, relative to `now` (terms already met read 0), and which banks are open: two devices with
  // equal fingerprints at their `now` accept the same commands at the same offsets from it.
  void fingerprint(int64_t now, std::vector<int64_t>& out) const;
  // Moves every cycle term `delta` cycles later (open rows stay).
  void shift(int64_t delta);

 private:
  struct Bank {
    int64_t next_act = 0, next_pre = 0, next_rd = 0, next_wr = 0;
    int32_t open_row = -1;
  };
  struct Group {
    int64_t next_act = 0, next_rd = 0, next_wr = 0;
  };
  struct Rank {
    int64_t next_act = 0, next_rd = 0;  // next_act: refresh's terms (nRFC, nPBR2ACT)
    int64_t next_refpb = 0;
    int64_t open_banks = 0;
  };
  // The activate limits of one rank or of the whole controller (DramTiming::activate_scope).
  struct Window {
    int64_t next_act = 0;          // the last ACT + nRRDS (also REFpb's term)
    std::array<int64_t, 4> faw{};  // the last four ACTs, oldest at faw_next
    int faw_count = 0, faw_next = 0;
    int64_t faw_at = 0;  // the next ACT's nFAW term: the fourth-last ACT + nFAW once there are four
  };
  const Window& window(int32_t rank) const { return windows_[windows_.size() == 1 ? 0 : static_cast<size_t>(rank)]; }
  Window& window(int32_t rank) { return windows_[windows_.size() == 1 ? 0 : static_cast<size_t>(rank)]; }

  int64_t bus_of(Command c) const {
    return dual_bus_ && (c == Command::rd || c == Command::wr || c == Command::mac_ab || c == Command::mac_sb) ? 1 : 0;
  }
  // ACT_AB, PRE_AB, MAC_AB, MAC_SB.
  int64_t earliest_broadcast(Command cmd, const BankAddress& at, int64_t now) const;
  void issue_broadcast(Command cmd, const BankAddress& at, int64_t now);

  DramOrg org_;
  DramTiming t_;
  bool dual_bus_;
  std::vector<Bank> banks_;
  std::vector<Group> groups_;
  std::vector<Rank> ranks_;
  std::vector<Window> windows_;  // one per rank, or one for the controller
  // Channel-wide: the data bus (column commands to any rank) and one slot per command bus per cycle.
  int64_t next_rd_ = 0, next_wr_ = 0;
  int32_t last_column_rank_ = -1;
  int64_t rank_switch_at_ = 0;  // earliest column command to a rank other than last_column_rank_
  std::array<int64_t, 2> bus_free_{0, 0};
  int64_t mac_ab_interval_ = 0, mac_sb_interval_ = 0;
  int64_t next_mac_ = 0;  // the next broadcast MAC (the power limit's term)
};

struct Request {
  uint64_t address = 0;
  bool write = false;
  int64_t arrival = 0;  // cycle it is offered to its controller; it waits outside while the queue is full
};

struct IssuedCommand {
  int64_t cycle = 0;
  int32_t controller = 0;
  Command command = Command::act;
  BankAddress at;
  bool automatic = false;  // an auto-precharge
};

struct CommandCounts {
  std::array<int64_t, command_count> n{};  // by Command
  int64_t operator[](Command c) const { return n[static_cast<size_t>(c)]; }
  int64_t& operator[](Command c) { return n[static_cast<size_t>(c)]; }
};

struct EnergyBreakdown {
  double activate_pJ = 0;
  double read_array_pJ = 0, read_movement_pJ = 0, read_io_pJ = 0;
  double write_array_pJ = 0, write_movement_pJ = 0, write_io_pJ = 0;
  double refresh_pJ = 0;
  double total_pJ() const {
    return activate_pJ + read_array_pJ + read_movement_pJ + read_io_pJ + write_array_pJ + write_movement_pJ +
           write_io_pJ + refresh_pJ;
  }
};

// The commands' energy: counts times the preset's per-command figures.
EnergyBreakdown command_energy(const DramPreset& p, const CommandCounts& c);

struct RunResult {
  int64_t requests = 0, reads = 0, writes = 0;
  int64_t cycles = 0;  // until the last data beat
  CommandCounts commands;
  int64_t row_hits = 0;             // served without an ACT of their own
  int64_t row_misses = 0;           // needed an ACT of a closed bank
  int64_t row_conflicts = 0;        // needed a PRE of another row first
  int64_t refresh_cycles = 0;       // nRFC per REF, summed over ranks and controllers
  int64_t refresh_bank_cycles = 0;  // nRFCpb per REFpb (one bank's), summed
  // Latency: from entering the controller's queue to the last data beat, in cycles.
  double avg_latency = 0;
  int64_t p50_latency = 0, p90_latency = 0, p99_latency = 0, max_latency = 0;
  EnergyBreakdown energy;
};

struct RunOptions {
  std::vector<IssuedCommand>* log = nullptr;  // every command in the order the controllers decided them (tests)
};

// Runs the requests (each controller sees its own in their order) until the last completes.
RunResult simulate(const DramPreset& preset, const std::vector<Request>& requests, const RunOptions& options = {});

}  // namespace einsim::dram
