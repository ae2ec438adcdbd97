#pragma once
// kind: pim — processing in memory: compute units beside a DRAM's banks (a unit per bank or two), per bank
// group, or on the stack's logic die. A group placed on it stages its tiles in the units' buffers, fed from the
// banks at the internal bandwidth of its level instead of across the interface, at the level's energy per bit.
// It plays all three roles: it computes, it holds tiles, and it is the path from its memory's banks to them.
#include <optional>

#include "arch/component.hpp"
#include "arch/dram/pim.hpp"
#include "arch/dram/spec.hpp"
#include "workloads/dtype.hpp"

namespace einsim {

class PimComponent : public Component, public ComputeRole, public MemoryRole, public PathRole {
 public:
  enum class Level { bank, bankgroup, logic };
  Level level = Level::logic;
  std::string memory_name;  // the dram component whose banks hold its operands
  SourceLoc memory_loc;
  int64_t stacks = 1;          // devices it spans (a DRAM preset describes one)
  int64_t units = 0;           // in all stacks
  int64_t banks_per_unit = 1;  // bank level
  int64_t lanes = 0;           // MAC lanes per unit
  DType dtype = DType::fp16;
  double clock_hz = 0;      // its own clock
  double bandwidth = 0;     // banks -> units, all stacks
  double buffer_bytes = 0;  // all units
  double latency_s = 0;     // from a transfer's start to its first data at the units
  Cost access;              // per bit brought from the banks to a unit
  std::map<std::string, OpSpec> op_table;
  // Bank and bank-group levels: the device whose timing rules pace the all-bank (or per-group) column reads.
  std::optional<dram::DramPreset> device;
  std::optional<Cost> lane_area;

  dram::PimLevel dram_level() const { return level == Level::bank ? dram::PimLevel::bank : dram::PimLevel::bankgroup; }

  const ComputeRole* compute() const override { return this; }
  const MemoryRole* memory() const override { return this; }
  const PathRole* path() const override { return this; }
  std::optional<double> area_um2() const override;
  void describe(nlohmann::ordered_json& fields, std::string& summary) const override;
  void check(const ArchSpec& arch, const std::string& self) const override;

  // Compute: the operands are spread over the banks evenly, so every lane of every unit works on its share; a
  // reduction over the banks combines its partial sums in the units' buffer, which is not charged.
  const std::map<std::string, OpSpec>& ops() const override { return op_table; }
  int64_t parallelism() const override { return units * lanes; }
  double op_rate(double arch_clock_hz) const override {
    return static_cast<double>(op_slots()) * clock_hz / arch_clock_hz;
  }
  bool maps_spatially() const override { return false; }
  TileTiming tile_timing(const TileWork& work, double arch_clock_hz) const override;

  // Memory: its units' buffers, which its lanes read while the banks write them (a port each, no bandwidth limit).
  double capacity_bytes() const override { return buffer_bytes; }
  int64_t ports() const override { return 2; }
  double bytes_per_port_cycle() const override { return 1e18; }
  bool stages_tiles() const override { return false; }

  // Path: from its memory's banks to its units, with as many DMA engines as that memory's interface.
  double bandwidth_Bps() const override { return bandwidth; }
  int64_t latency_cycles(double arch_clock_hz) const override;
  int64_t dma_engines(const ArchSpec& arch) const override;
  bool dma_ready_first(const ArchSpec& arch) const override;
  std::string inside() const override { return memory_name; }
  std::string engine_name(const std::string& self) const override { return self + "_banks"; }
  std::optional<int64_t> timed_cycles(int64_t bytes, bool write, BankTransfers& memo,
                                      double arch_clock_hz) const override;
  void charge_transfers(int64_t bytes, int64_t count, bool write, BankTransfers& memo,
                        ActionEnergy& energy) const override;
};

ComponentKind pim_kind();

}  // namespace einsim
