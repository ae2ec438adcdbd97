#pragma once
// kind: dram — a memory's interface: the backing memory that holds a mapping's tensors, and the path (with its
// DMA engines) that tiles cross to reach a buffer. Timed by its bandwidth and latency, or per command by the
// bank-level model (model: bank, a preset in configs/dram/).
#include <optional>

#include "arch/component.hpp"
#include "arch/dram/spec.hpp"

namespace einsim {

class DramComponent : public Component, public PathRole {
 public:
  double bandwidth = 0;      // B/s
  int64_t latency = 0;       // cycles of the architecture's clock
  int64_t engines = 1;       // DMA engines moving tiles between it and the buffer, sharing its bandwidth
  bool ready_first = false;  // dma_order: ready_first: an engine takes the oldest request that may run now
  Cost read;                 // per access of access_bits
  Cost write;
  int64_t access_bits = 0;
  double capacity = 0;  // bytes; 0: not given
  // model: bank: the cycle engine times each transfer with the bank-level model and this preset, and both
  // evaluators charge the commands it issues; the figures above still give the analytical timing.
  std::optional<dram::DramPreset> bank;

  const PathRole* path() const override { return this; }
  bool counts_area() const override { return false; }  // off chip
  void describe(nlohmann::ordered_json& fields, std::string& summary) const override;
  void charge_run(const RunTraffic& traffic, ActionEnergy& energy) const override;

  double bandwidth_Bps() const override { return bandwidth; }
  int64_t latency_cycles(double) const override { return latency; }
  int64_t dma_engines(const ArchSpec&) const override { return engines; }
  bool dma_ready_first(const ArchSpec&) const override { return ready_first; }
  bool holds_tensors() const override { return true; }
  double capacity_bytes() const override { return capacity; }
  std::optional<int64_t> timed_cycles(int64_t bytes, bool write, BankTransfers& memo,
                                      double arch_clock_hz) const override;
  void charge_transfers(int64_t bytes, int64_t count, bool write, BankTransfers& memo,
                        ActionEnergy& energy) const override;
};

ComponentKind dram_kind();

}  // namespace einsim
