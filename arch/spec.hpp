#pragma once
// The hardware description: YAML -> a validated ArchSpec of named components. Specs are plain values (what a
// sweep mutates); models are built from them and never parse.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "arch/dram/spec.hpp"
#include "arch/energy_table.hpp"
#include "common/error.hpp"
#include "workloads/dtype.hpp"

namespace einsim {

enum class Dataflow { ws, os, is };
std::string_view dataflow_name(Dataflow d);

// An operation a compute unit supports: cycles per op on one PE/lane and its cost.
struct OpSpec {
  int64_t latency_cycles = 1;
  Cost cost;
};

struct DramSpec {
  double bandwidth_Bps = 0;
  int64_t latency_cycles = 0;
  int64_t dma_engines = 1;  // DMA engines moving tiles between it and the buffer, sharing its bandwidth
  Cost read;   // per access of read.bits
  Cost write;
  int64_t access_bits = 0;
  // `model: bank`: the cycle engine times each transfer with the bank-level model (arch/dram) and this preset;
  // the figures above still serve the analytical evaluator and the energy.
  std::optional<dram::DramPreset> bank;
};

struct SramSpec {
  double size_bytes = 0;
  int64_t banks = 1;
  int64_t row_bits = 0;
  int64_t ports = 1;
  Cost read;  // per row access
  Cost write;
  std::optional<Cost> area;  // of the whole buffer
};

enum class FoldOverlap;

struct PeArraySpec {
  int64_t rows = 0;
  int64_t cols = 0;
  Dataflow dataflow = Dataflow::ws;
  // Set for systolic arrays: each tile pays fill and drain (arch/units/systolic). Unset: operands reach the
  // PEs by broadcast, and a tile costs its steady-state steps only.
  std::optional<FoldOverlap> fold_overlap;
  DType dtype = DType::bf16;
  int64_t regfile_entries = 0;
  int64_t ops_per_cycle = 1;  // per PE, at the array's dtype
  std::map<std::string, OpSpec> ops;
  std::optional<Cost> pe_area;
};

struct VectorArraySpec {
  int64_t lanes = 0;
  DType dtype = DType::bf16;
  int64_t regfile_entries = 0;
  std::map<std::string, OpSpec> ops;
  std::optional<Cost> lane_area;
};

enum class PimLevel { bank, bankgroup, logic };
std::string_view pim_level_name(PimLevel l);

// Processing in memory: compute units beside a DRAM's banks (a unit per bank or two), per bank group, or on the
// stack's logic die. A group placed on it stages its tiles in the units' buffers, fed from the banks at the
// internal bandwidth of its level instead of across the interface, at the level's energy per bit.
struct PimSpec {
  PimLevel level = PimLevel::logic;
  std::string memory;      // the dram component whose banks hold its operands
  SourceLoc memory_loc;
  int64_t stacks = 1;      // devices it spans (a DRAM preset describes one)
  int64_t units = 0;       // in all stacks
  int64_t banks_per_unit = 1;  // bank level
  int64_t lanes = 0;       // MAC lanes per unit
  DType dtype = DType::fp16;
  double clock_hz = 0;     // its own clock
  double bandwidth_Bps = 0;  // banks -> units, all stacks
  double buffer_bytes = 0;   // all units
  double latency_s = 0;      // from a transfer's start to its first data at the units
  Cost access;               // per bit brought from the banks to a unit
  std::map<std::string, OpSpec> ops;
  // Bank and bank-group levels: the device whose timing rules pace the all-bank (or per-group) column reads.
  std::optional<dram::DramPreset> device;
  std::optional<Cost> lane_area;
};

struct NocSpec {
  bool multicast = true;
  bool reduction = true;
};

struct ComponentSpec {
  std::string name;
  SourceLoc loc;
  std::variant<DramSpec, SramSpec, PeArraySpec, VectorArraySpec, NocSpec, PimSpec> spec;

  std::string_view kind() const;
  // The op kinds ("mac", "exp", ...) this component computes; empty for memories.
  const std::map<std::string, OpSpec>* ops() const;
  int64_t parallelism() const;  // PEs or lanes; 0 for memories
  int64_t op_slots() const;     // ops a unit can start per cycle: parallelism times ops per PE per cycle
  // Op slots per cycle of the architecture's clock (a PIM runs on its own clock).
  double op_rate(double arch_clock_hz) const;
  // A DRAM's interface bandwidth, or a PIM's from its banks; 0 for others.
  double path_Bps() const;
  std::optional<double> area_um2() const;
};

struct ArchSpec {
  std::string name;
  std::string description;
  std::string file;
  double clock_hz = 0;
  EnergyTable table;
  std::vector<ComponentSpec> components;

  const ComponentSpec* find(const std::string& name) const;
  // What a transfer between a DRAM and a buffer goes through: a PIM's internal path when either end is a PIM,
  // else the DRAM's interface (its bandwidth: ComponentSpec::path_Bps).
  const ComponentSpec& path(const std::string& from, const std::string& to) const;
};

// `sets` are (path below the arch, value) pairs from `--set arch.PATH=VALUE`, e.g. {"glb.size", "32 MiB"}.
ArchSpec load_arch(const std::string& file, const std::vector<std::pair<std::string, std::string>>& sets = {});

}  // namespace einsim
