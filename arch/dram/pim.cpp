// PIM streams: one controller's command sequence (arch/dram/pim.hpp) through DeviceTiming, with whole periods
// of a repeating sequence skipped.
#include "arch/dram/pim.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "common/error.hpp"

namespace einsim::dram {

std::string_view pim_level_name(PimLevel l) { return l == PimLevel::bank ? "bank" : "bankgroup"; }

int64_t pim_units_per_controller(const DramOrg& org, PimLevel level, int64_t banks_per_unit) {
  if (level == PimLevel::bank) {
    if (banks_per_unit < 1 || org.banks % banks_per_unit != 0)
      throw UserError(
          fmt::format("banks_per_unit {} at bank level: a unit's banks are in one bank group, so it must divide the {} "
                      "banks of a group",
                      banks_per_unit, org.banks));
    return org.banks_per_controller() / banks_per_unit;
  }
  if (banks_per_unit < 1 || banks_per_unit > org.banks)
    throw UserError(
        fmt::format("banks_per_unit {} at bankgroup level: the unit's data lies in 1 to {} banks of its group",
                    banks_per_unit, org.banks));
  return org.ranks * org.bank_groups;
}

namespace {

constexpr int64_t never = DeviceTiming::never;

// One controller's sequence. A step is what one activation batch opens: at bank level a row set (ACT_AB, every
// bank), at bankgroup level one bank slot's row in every bank group (ranks x bank groups ACTs). Steps are
// activated, read (MACs) and precharged in order; a step's ACTs may go ahead while the previous step is read.
class Sequencer {
 public:
  Sequencer(const DramPreset& p, PimLevel level, int64_t k, int64_t accesses, const PimOptions& o)
      : p_(p),
        bank_(level == PimLevel::bank),
        k_(k),
        dev_(p.org, p.timing, p.controller.dual_command_bus, p.pim),
        log_(o.log),
        exact_(o.exact || o.log) {
    const DramOrg& org = p.org;
    per_step_ = bank_ ? k * org.columns() : org.columns();
    steps_ = accesses == 0 ? 0 : (accesses + per_step_ - 1) / per_step_;
    last_macs_ = accesses - (steps_ - 1) * per_step_;
    batch_ = bank_ ? 1 : org.ranks * org.bank_groups;
    reuse_ = bank_ ? 1 : k;
    deadline_ = p.controller.refresh ? p.timing.nREFI : never;
  }

  // Runs to the last MAC. With `rate_only`, stops at the first period found and returns its MACs per cycle
  // (or, should none appear in a million steps, the average so far).
  double run(bool rate_only = false) {
    rate_only_ = rate_only;
    while (mac_step_ < steps_ && !(rate_only && checkpoints_ > 1'000'000)) {
      if (step() && rate_ > 0) return rate_;
    }
    return rate_only ? static_cast<double>(macs_) / static_cast<double>(std::max<int64_t>(t_, 1)) : 0;
  }

  int64_t done() const { return last_done_; }
  int64_t activates() const { return activates_; }
  int64_t refreshes() const { return refreshes_; }
  int64_t macs() const { return macs_; }
  int64_t skipped() const { return skipped_; }

 private:
  struct Mark {
    int64_t step = 0, t = 0, activates = 0, macs = 0, refreshes = 0, deadline = 0;
  };

  int64_t macs_in(int64_t step) const { return step == steps_ - 1 ? last_macs_ : per_step_; }
  int32_t slot(int64_t step) const { return bank_ ? 0 : static_cast<int32_t>(step % k_); }
  int32_t row(int64_t step) const { return static_cast<int32_t>((bank_ ? step : step / k_) % p_.org.rows); }
  // The batch's pos-th bank: bank groups outer, ranks inner, so consecutive ACTs go to different ranks.
  BankAddress batch_bank(int64_t step, int64_t pos) const {
    return BankAddress{static_cast<int32_t>(pos % p_.org.ranks), static_cast<int32_t>(pos / p_.org.ranks), slot(step),
                       row(step), 0};
  }

  // Issues the command due first (MAC, then PRE, REF, ACT on a tie); returns true at a step's first ACT.
  bool step() {
    enum Kind { none, mac, pre, ref, act };
    Kind pick = none;
    int64_t best = never;
    Command cmd = Command::act;
    BankAddress at;
    auto offer = [&](Kind k, Command c, const BankAddress& a) {
      const int64_t e = dev_.earliest(c, a, t_);
      if (e < best) best = e, pick = k, cmd = c, at = a;
      return e;
    };
    if (act_step_ > mac_step_) {
      BankAddress a{0, 0, slot(mac_step_), row(mac_step_), static_cast<int32_t>(mac_pos_ % p_.org.columns())};
      offer(mac, bank_ ? Command::mac_ab : Command::mac_sb, a);
    }
    if (pre_step_ < mac_step_) offer(pre, bank_ ? Command::pre_ab : Command::pre, batch_bank(pre_step_, pre_pos_));
    if (refreshing_ && !dev_.any_open()) offer(ref, Command::ref, BankAddress{ref_rank_, 0, 0, 0, 0});
    if (!refreshing_ && act_step_ < steps_ && act_step_ <= mac_step_ + 1 && act_step_ - reuse_ < pre_step_) {
      const BankAddress a = batch_bank(act_step_, act_pos_);
      const Command c = bank_ ? Command::act_ab : Command::act;
      if (act_pos_ == 0 && deadline_ <= dev_.earliest(c, a, t_)) {
        refreshing_ = true;  // open no new row: drain, refresh, then go on
        return false;
      }
      offer(act, c, a);
    }
    if (pick == none || best >= never) throw InternalError(fmt::format("PIM sequence stuck at cycle {}", t_));
    t_ = best;
    dev_.issue(cmd, at, t_);
    if (log_) log_->push_back(IssuedCommand{t_, 0, cmd, at, false});
    switch (pick) {
      case mac:
        ++macs_;
        last_done_ = t_ + p_.timing.nCL + p_.timing.nBL;
        if (++mac_pos_ == macs_in(mac_step_)) mac_pos_ = 0, ++mac_step_;
        return false;
      case pre:
        if (++pre_pos_ == batch_) pre_pos_ = 0, ++pre_step_;
        return false;
      case ref:
        if (++ref_rank_ == p_.org.ranks)
          ref_rank_ = 0, refreshing_ = false, deadline_ += p_.timing.nREFI, ++refreshes_, after_refresh_ = true;
        return false;
      case act:
        activates_ += bank_ ? p_.org.banks_per_controller() : 1;
        if (++act_pos_ == batch_) act_pos_ = 0, ++act_step_;
        if (act_pos_ == 1 || batch_ == 1) return checkpoint();
        return false;
      default:
        return false;
    }
  }

  // At a step's first ACT: if the state relative to now was seen a whole number of steps ago, the sequence
  // repeats with that period; skip as many periods as leave the last steps, and the next refresh, to be issued.
  bool checkpoint() {
    if (exact_) return false;
    ++checkpoints_;
    const int64_t step = batch_ == 1 ? act_step_ - 1 : act_step_;
    key_.clear();
    dev_.fingerprint(t_, key_);
    key_.insert(key_.end(),
                {act_step_ - mac_step_, act_step_ - pre_step_, act_pos_, mac_pos_, pre_pos_, step % reuse_});
    const Mark here{step, t_, activates_, macs_, refreshes_, deadline_};
    const bool refresh = deadline_ < never;
    // Type 1: no refresh between the two marks, and none due in what is skipped.
    bool skipped = false;
    if (auto it = recent_.find(key_); it != recent_.end() && it->second.refreshes == refreshes_) {
      const Mark& then = it->second;
      const int64_t m = periods(then, here, refresh ? (deadline_ - 1 - t_) / (t_ - then.t) : never);
      if (rate_only_ && !refresh) return found(then, here);
      if (m > 0) skip(then, here, m), skipped = true;
    }
    // Type 2: the same state and the same distance to the next refresh deadline, both marked at the first step
    // after a refresh: the period spans whole refresh intervals.
    if (refresh && !skipped && after_refresh_) {
      std::vector<int64_t> key2 = key_;
      key2.push_back(deadline_ - t_);
      if (auto it = after_.find(key2); it != after_.end()) {
        if (rate_only_) return found(it->second, here);
        const int64_t m = periods(it->second, here, never);
        if (m > 0) skip(it->second, here, m), skipped = true;
      } else {
        after_.emplace(std::move(key2), here);
      }
    }
    after_refresh_ = false;
    // A skip is exact, so the marks before it still describe the sequence; only the recent ones are dropped.
    if (skipped)
      recent_.clear();
    else
      recent_[key_] = here;
    return false;
  }

  // Whole periods that may be skipped: the last steps (the partial one and those around it) are issued.
  int64_t periods(const Mark& then, const Mark& here, int64_t by_refresh) const {
    const int64_t p = here.step - then.step;
    const int64_t by_steps = (steps_ - 4 - here.step) / p;
    return std::max<int64_t>(0, std::min(by_steps, by_refresh));
  }

  void skip(const Mark& then, const Mark& here, int64_t m) {
    const int64_t steps = m * (here.step - then.step), cycles = m * (here.t - then.t);
    dev_.shift(cycles);
    t_ += cycles;
    skipped_ += steps;
    act_step_ += steps, mac_step_ += steps, pre_step_ += steps;
    activates_ += m * (here.activates - then.activates);
    macs_ += m * (here.macs - then.macs);
    refreshes_ += m * (here.refreshes - then.refreshes);
    if (deadline_ < never) deadline_ += m * (here.deadline - then.deadline);
    last_done_ += cycles;
  }

  bool found(const Mark& then, const Mark& here) {
    rate_ = static_cast<double>(here.macs - then.macs) / static_cast<double>(here.t - then.t);
    return true;
  }

  const DramPreset& p_;
  bool bank_;
  int64_t k_;
  DeviceTiming dev_;
  std::vector<IssuedCommand>* log_;
  bool exact_;
  int64_t per_step_ = 0, steps_ = 0, last_macs_ = 0, batch_ = 1, reuse_ = 1;
  int64_t t_ = 0;
  int64_t act_step_ = 0, act_pos_ = 0, mac_step_ = 0, mac_pos_ = 0, pre_step_ = 0, pre_pos_ = 0;
  int64_t deadline_ = never;
  bool refreshing_ = false, after_refresh_ = false;
  int32_t ref_rank_ = 0;
  int64_t activates_ = 0, macs_ = 0, refreshes_ = 0, last_done_ = 0;
  std::vector<int64_t> key_;
  std::map<std::vector<int64_t>, Mark> recent_, after_;
  bool rate_only_ = false;
  double rate_ = 0;
  int64_t checkpoints_ = 0, skipped_ = 0;
};

}  // namespace

PimStream pim_stream(const DramPreset& p, PimLevel level, int64_t banks_per_unit, int64_t bytes_per_unit) {
  return pim_stream(p, level, banks_per_unit, bytes_per_unit, PimOptions{});
}

PimStream pim_stream(const DramPreset& p, PimLevel level, int64_t banks_per_unit, int64_t bytes_per_unit,
                     const PimOptions& options) {
  const int64_t units = pim_units_per_controller(p.org, level, banks_per_unit);
  if (bytes_per_unit < 0) throw UserError(fmt::format("a PIM stream of {} bytes per unit", bytes_per_unit));
  const int64_t access = p.org.access_bytes();
  const int64_t accesses = (bytes_per_unit + access - 1) / access;
  Sequencer s(p, level, banks_per_unit, accesses, options);
  s.run();
  const int64_t controllers = p.org.controllers();
  PimStream r;
  r.cycles = s.done();
  r.activates = s.activates() * controllers;
  r.refreshes = s.refreshes() * controllers * p.org.ranks;
  r.units = units * controllers;
  r.column_reads = accesses * r.units;
  r.bytes = r.column_reads * access;
  r.macs = s.macs();
  if (options.skipped_steps) *options.skipped_steps = s.skipped();
  return r;
}

double pim_internal_Bps(const DramPreset& p, PimLevel level, int64_t banks_per_unit) {
  const int64_t units = pim_units_per_controller(p.org, level, banks_per_unit);
  // A stream too long to end: the sequencer stops at its first period.
  Sequencer s(p, level, banks_per_unit, int64_t{1} << 50, PimOptions{});
  const double macs_per_cycle = s.run(true);
  return macs_per_cycle * static_cast<double>(units * p.org.controllers() * p.org.access_bytes()) * p.timing.clock_hz();
}

}  // namespace einsim::dram
