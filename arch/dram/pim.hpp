#pragma once
// Processing-in-memory units inside the DRAM, timed by the bank-level model's rules (DeviceTiming): how long
// the units of a device take to stream data resident in their banks, and at what rate in the steady state.
//
// Two levels (docs/dram.md, "Processing in memory"):
// - bank: a unit per `banks_per_unit` banks of one bank group (1: AttAcc's bank-level units; 2: Samsung
//   HBM-PIM's unit per bank pair). A controller opens the same row in every bank (ACT_AB), then issues MAC_ABs,
//   each of which hands every unit one access from one of its banks, the unit's banks taking turns (bank 0,
//   bank 1, bank 0, ... of the pair, column by column), and closes every bank (PRE_AB). A row set (one ACT_AB)
//   gives each unit banks_per_unit rows.
// - bankgroup: a unit per bank group, its data in `banks_per_unit` banks of the group (1 to all of them), a
//   row of bank 0, then the same row of bank 1, ..., then the next row of bank 0 (AttAcc's bank-group layout).
//   Rows open and close with ordinary per-bank ACT and PRE (all units' banks of one slot, a batch of
//   ranks x bank groups commands); each MAC_SB hands every unit one access from that bank, consecutive ones
//   nCCDL apart (the unit reads one bank group). The next bank's rows open while the current one is read.
// Refresh (when the preset's controller refreshes, whatever its refresh_mode): an all-bank REF of every rank is
// due every nREFI from cycle 0; the sequence then opens no new row, reads and closes what is open, refreshes
// and goes on.
#include <cstdint>
#include <string_view>
#include <vector>

#include "arch/dram/model.hpp"

namespace einsim::dram {

enum class PimLevel { bank, bankgroup };
std::string_view pim_level_name(PimLevel l);

struct PimStream {
  int64_t cycles = 0;        // DRAM clock cycles from the first command to the last column access completing
  int64_t activates = 0;     // row activations (all-bank ACT counts once per bank it opens)
  int64_t column_reads = 0;  // accesses read into PIM units, summed over banks
  // The counts above and below are of the whole device (every channel runs the same sequence).
  int64_t refreshes = 0;  // all-bank REFs (one per rank each time)
  int64_t units = 0;      // PIM units
  int64_t bytes = 0;      // delivered to the units: column_reads x the access size
  int64_t macs = 0;       // broadcast MAC commands (MAC_AB or MAC_SB) one controller issued
};

struct PimOptions {
  // Issue every command through DeviceTiming. Otherwise, once the sequence repeats (the same device state
  // relative to the current cycle, a whole number of rows later), whole periods are skipped: the same result.
  bool exact = false;
  std::vector<IssuedCommand>* log = nullptr;  // controller 0's commands (implies exact)
  int64_t* skipped_steps = nullptr;           // set to the steps (row sets, bank rows) skipped (tests)
};

// Every PIM unit of `level` (one per `banks_per_unit` banks at bank level, one per bank group at bankgroup level)
// of ONE (pseudo-)channel streams `bytes_per_unit` bytes of rows resident in its banks, issuing the commands
// through DeviceTiming (so every rule applies); all channels run the same sequence in parallel.
// A MAC completes nCL + nBL after it issues (as a read's data would; AttAcc's model charges every column
// command that latency). Bytes are rounded up to whole accesses; a unit holding more than its banks' capacity
// wraps around their rows (the timing does not depend on which row). Bad arguments are UserErrors.
PimStream pim_stream(const DramPreset& p, PimLevel level, int64_t banks_per_unit, int64_t bytes_per_unit);
PimStream pim_stream(const DramPreset& p, PimLevel level, int64_t banks_per_unit, int64_t bytes_per_unit,
                     const PimOptions& options);

// Steady-state bytes per second delivered to all PIM units of the whole device (all channels): the limit of
// pim_stream over long streams (refresh included when the preset refreshes), from the sequence's period.
double pim_internal_Bps(const DramPreset& p, PimLevel level, int64_t banks_per_unit);

// PIM units per controller.
int64_t pim_units_per_controller(const DramOrg& org, PimLevel level, int64_t banks_per_unit);

}  // namespace einsim::dram
