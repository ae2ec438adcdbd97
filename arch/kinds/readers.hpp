#pragma once
// What several component kinds read the same way: op tables, access energies, DRAM presets.
#include <map>
#include <string>

#include "arch/component.hpp"
#include "arch/dram/spec.hpp"
#include "arch/params.hpp"
#include "workloads/dtype.hpp"

namespace einsim {

// A compute unit's ops: {kind: {latency_cycles, interval_cycles, function_unit, energy}}, costs at the unit's
// dtype.
std::map<std::string, OpSpec> read_ops(const EnergyTable& table, const YNode& node, DType dtype);

// An access energy whose table figures say how many bits they move must be for this memory's access size.
Cost access_cost(const EnergyTable& table, const YNode& node, int64_t access_bits, const char* size_key);

// A name is a preset in configs/dram/ beside the architecture's folder; a path is relative to the arch file.
dram::DramPreset dram_preset(const YNode& preset);

DType dtype_param(const ParamValues& p, const std::string& name);

// A PE's or lane's register file: regfile_entries, and the energy of one read and one write at the unit's dtype
// (regfile_read_energy, regfile_write_energy; zero when absent).
struct RegisterFile {
  int64_t entries = 0;
  double read_pJ = 0;
  double write_pJ = 0;
};
RegisterFile regfile_params(const ParamValues& p, const EnergyTable& table, DType dtype);
// The params that describe it, for a kind's table.
std::vector<ParamDef> regfile_param_defs(const char* per);

// An optional area (or per-unit area) cost at the unit's dtype.
std::optional<Cost> area_param(const ParamValues& p, const std::string& name, const EnergyTable& table, DType dtype);

}  // namespace einsim
