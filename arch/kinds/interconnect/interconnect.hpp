#pragma once
// kind: interconnect — the links between the devices of a system: the architecture is one of `devices`
// identical devices, joined in a ring or through a switch. Collectives between them (arch/collectives.hpp) are
// costed on its links' bandwidth, latency and energy per byte.
#include <string>

#include "arch/component.hpp"

namespace einsim {

class InterconnectComponent : public Component, public DevicesRole {
 public:
  int64_t device_count = 1;
  Topology shape = Topology::switched;
  double bandwidth = 0;  // B/s, each direction of a device's link
  double latency = 0;    // s
  Cost transfer;         // per byte over a link

  const DevicesRole* devices() const override { return this; }
  bool counts_area() const override { return false; }  // between the chips, not on one
  void describe(nlohmann::ordered_json& fields, std::string& summary) const override;
  void check(const ArchSpec& arch, const std::string& self) const override;

  int64_t count() const override { return device_count; }
  Topology topology() const override { return shape; }
  double link_Bps() const override { return bandwidth; }
  double link_latency_s() const override { return latency; }
  double link_pJ_per_byte() const override { return transfer.energy_pJ; }
};

ComponentKind interconnect_kind();

}  // namespace einsim
