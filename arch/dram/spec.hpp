#pragma once
// A DRAM device and its controller, as plain values read from configs/dram/*.yaml: organization, timing in
// clock cycles, controller policy and per-command energies. The bank-level model (arch/dram/model.hpp) is
// built from a DramPreset and never parses.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "arch/energy_table.hpp"

namespace einsim::dram {

struct DramOrg {
  int64_t channels = 1;
  int64_t pseudo_channels = 1;  // per channel (HBM); each pseudo-channel has its own controller and data bus
  int64_t ranks = 1;            // ranks (DDR) or stack IDs (HBM3)
  int64_t bank_groups = 1;      // per rank
  int64_t banks = 1;            // per bank group
  int64_t rows = 1;             // per bank
  int64_t row_bytes = 0;        // of one (pseudo-)channel's row across its devices
  int64_t data_width_bits = 0;  // of one (pseudo-)channel
  int64_t burst_length = 0;     // beats per access: the prefetch

  int64_t access_bytes() const { return data_width_bits * burst_length / 8; }
  int64_t columns() const { return row_bytes / access_bytes(); }  // accesses per row
  int64_t controllers() const { return channels * pseudo_channels; }
  int64_t banks_per_rank() const { return bank_groups * banks; }
  int64_t banks_per_controller() const { return ranks * banks_per_rank(); }
  double capacity_bytes() const {
    return static_cast<double>(controllers() * banks_per_controller() * rows * row_bytes);
  }
};

// Where the activate limits nRRDS and nFAW are counted: `rank`, one window per rank or stack ID (DDR4;
// AttAcc's reading of HBM3); `channel`, one window per controller shared by its ranks or stack IDs (JESD238
// counts HBM3's array-access timings per pseudo-channel). nRRDL stays per bank group either way.
enum class ActivateScope { rank, channel };

// JEDEC-style timing in clock cycles (tCK). S/L: to a different / the same bank group.
struct DramTiming {
  ActivateScope activate_scope = ActivateScope::rank;
  double tCK_ps = 0;
  int64_t nBL = 0;  // cycles one access holds the data bus
  int64_t nCL = 0, nCWL = 0;
  int64_t nRCDRD = 0, nRCDWR = 0;
  int64_t nRP = 0, nRAS = 0, nRC = 0;
  int64_t nWR = 0;               // write recovery: end of write data to PRE
  int64_t nRTP = 0;              // RD to PRE (HBM3's long nRTPL)
  int64_t nWTRS = 0, nWTRL = 0;  // end of write data to RD
  int64_t nCCDS = 0, nCCDL = 0;
  int64_t nRRDS = 0, nRRDL = 0;
  int64_t nFAW = 0;
  int64_t nRFC = 0, nREFI = 0;
  int64_t nRTW = 0;   // read-to-write bus turnaround: idle cycles between read data and write data
  int64_t nRTRS = 0;  // rank-to-rank switch: idle data-bus cycles between accesses to different ranks
  // All-bank PIM MAC to all-bank PIM MAC (MAC_AB, arch/dram/pim.hpp), before any power-limit stretch. Optional
  // in a preset; defaults to nCCDL (a MAC_AB is a column access of every bank group), never below it.
  int64_t nCCDAB = 0;
  // Per-bank refresh (controller.refresh_mode: per_bank; HBM3 REFpb, LPDDR4 REFpb), optional otherwise:
  // REFpb to ACT or REFpb of the same bank; REFpb to REFpb and to ACT of another bank of the rank (default nRRDS).
  int64_t nRFCpb = 0;
  int64_t nPBR2PBR = 0, nPBR2ACT = 0;

  double clock_hz() const { return 1e12 / tCK_ps; }
};

enum class PagePolicy { open, closed };
// Bit order of a line address, most significant field first:
// ro_ba_ra_co_ch: row:bank:rank:column:channel; consecutive lines walk the channels, then a row's columns.
// xor: row:bank:rank:column:bankgroup:channel, with the channel, bank-group and bank fields XORed with the
//      low row bits, so consecutive lines spread over channels and bank groups and strides over banks.
enum class AddressMapping { ro_ba_ra_co_ch, xor_interleaved };
enum class RefreshMode { all_bank, per_bank };

struct DramController {
  int64_t queue_size = 32;  // requests (reads and writes) per controller
  PagePolicy page_policy = PagePolicy::open;
  AddressMapping mapping = AddressMapping::xor_interleaved;
  bool dual_command_bus = true;  // row and column commands on separate buses (HBM); one bus for DDR/LPDDR
  bool refresh = true;
  // all_bank: a REF of each rank every nREFI. per_bank: a REFpb every nREFI / (banks per rank) in each rank,
  // to its banks in turn, so every bank is refreshed every nREFI.
  RefreshMode refresh_mode = RefreshMode::all_bank;
};

// Energy per command. `activate` covers an ACT with its PRE (sense, restore, precharge of one row); reads
// and writes are per bit, split where the energy goes: in the array, moving on the die, and crossing the I/O.
struct DramEnergy {
  Cost activate;
  Cost read_array, read_movement, read_io;  // per bit
  Cost write_array, write_movement, write_io;
  Cost refresh;  // per all-bank REF of one rank; a REFpb is charged its bank's share (refresh / banks per rank)
};

// Processing-in-memory units inside the DRAM (arch/dram/pim.hpp).
struct DramPim {
  // The fraction of the broadcast MAC rate (a MAC_AB every nCCDAB, a MAC_SB every nCCDL) the device's power
  // budget sustains: AttAcc and Samsung's HBM-PIM note that every bank reading at once draws more than the
  // stack may. The MAC-to-MAC interval is stretched to ceil(interval / power_limit); 1 stretches nothing.
  double power_limit = 1;
};

struct DramPreset {
  std::string name;
  std::string file;
  std::string description;
  DramOrg org;
  DramTiming timing;
  DramController controller;
  DramEnergy energy;
  DramPim pim;
  EnergyTable table;

  // Every controller's data bus busy all the time.
  double peak_Bps() const {
    return static_cast<double>(org.controllers() * org.access_bytes()) / static_cast<double>(timing.nBL) *
           timing.clock_hz();
  }
  // Every access needing an ACT of its own (random lines): each activate window (a rank or a controller,
  // timing.activate_scope) opens at most min(4 / nFAW, 1 / nRRDS) rows a cycle, refresh aside.
  double activate_bound_Bps() const {
    const int64_t windows = org.controllers() * (timing.activate_scope == ActivateScope::rank ? org.ranks : 1);
    const double acts_per_cycle =
        std::min(4.0 / static_cast<double>(timing.nFAW), 1.0 / static_cast<double>(timing.nRRDS));
    return std::min(peak_Bps(), static_cast<double>(windows * org.access_bytes()) * acts_per_cycle * timing.clock_hz());
  }
  // A read that finds its controller idle, to its last data beat, in cycles: a row hit (nCL + nBL), a closed
  // bank (nRCDRD first) and another row open (nRP first as well).
  int64_t idle_hit_cycles() const { return timing.nCL + timing.nBL; }
  int64_t idle_miss_cycles() const { return timing.nRCDRD + idle_hit_cycles(); }
  int64_t idle_conflict_cycles() const { return timing.nRP + idle_miss_cycles(); }
};

// `sets` are (path, value) pairs such as {"timing.nCL", "20"} or {"controller.page_policy", "closed"}.
// Where a preset named in a file or on the command line lives: a name with a '/' or ending in .yaml is a path
// relative to `base`; any other name is NAME.yaml in the first of `folders` that has it. Throws UserError at
// `where` (a preset's node, or an option) when there is none, listing the presets of the first folder.
std::string find_dram_preset(const std::string& name, const std::string& base, const std::vector<std::string>& folders,
                             const SourceLoc& where, const std::string& key);

DramPreset load_dram_preset(const std::string& file, const std::vector<std::pair<std::string, std::string>>& sets = {});

std::string_view page_policy_name(PagePolicy p);
std::string_view mapping_name(AddressMapping m);
std::string_view refresh_mode_name(RefreshMode m);
std::string_view activate_scope_name(ActivateScope s);

}  // namespace einsim::dram
