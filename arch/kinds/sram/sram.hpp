#pragma once
// kind: sram — a buffer that stages a mapping's tiles: banks of rows, read and written through its ports.
#include <optional>

#include "arch/component.hpp"

namespace einsim {

class SramComponent : public Component, public MemoryRole {
 public:
  double size_bytes = 0;
  int64_t banks = 1;
  int64_t row_bits = 0;
  int64_t port_count = 1;
  Cost read;  // per row access
  Cost write;
  std::optional<Cost> area;  // of the whole buffer

  const MemoryRole* memory() const override { return this; }
  std::optional<double> area_um2() const override { return area ? area->area_um2 : std::nullopt; }
  void describe(nlohmann::ordered_json& fields, std::string& summary) const override;
  void charge_run(const RunTraffic& traffic, ActionEnergy& energy) const override;

  double capacity_bytes() const override { return size_bytes; }
  int64_t ports() const override { return port_count; }
  // Each port moves up to one row in every bank per cycle.
  double bytes_per_port_cycle() const override { return static_cast<double>(banks * row_bits / 8); }
};

ComponentKind sram_kind();

}  // namespace einsim
