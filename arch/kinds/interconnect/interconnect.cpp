#include "arch/kinds/interconnect/interconnect.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "arch/spec.hpp"

namespace einsim {

void InterconnectComponent::describe(nlohmann::ordered_json& fields, std::string& summary) const {
  fields["devices"] = device_count;
  fields["topology"] = topology_name(shape);
  fields["link_bandwidth_Bps"] = bandwidth;
  fields["latency_s"] = latency;
  fields["transfer_pJ_per_byte"] = transfer.energy_pJ;
  summary = fmt::format("{} devices, {}; {:g} GB/s each way per device, {:g} us", device_count, topology_name(shape),
                        bandwidth / 1e9, latency * 1e6);
}

void InterconnectComponent::check(const ArchSpec& arch, const std::string& self) const {
  for (const ComponentSpec& c : arch.components)
    if (c.devices() && c.name != self)
      throw UserError(SourceLoc{arch.file}, "components." + std::max(self, c.name),
                      fmt::format("{} has two interconnects ('{}' and '{}'): a system has one", arch.file,
                                  std::min(self, c.name), std::max(self, c.name)));
}

namespace {

std::shared_ptr<const Component> build(const ParamValues& p, const BuildContext& context) {
  auto n = std::make_shared<InterconnectComponent>();
  n->device_count = p.count("devices");
  n->shape = p.text("topology") == "ring" ? Topology::ring : Topology::switched;
  n->bandwidth = p.real("link_bandwidth");
  if (n->bandwidth <= 0) p.node("link_bandwidth").fail("link_bandwidth must be positive");
  n->latency = p.has("latency") ? p.real("latency") : 0;
  if (n->latency < 0) p.node("latency").fail("latency must not be negative");
  if (const auto e = p.node_if("transfer_energy")) n->transfer = evaluate_cost(context.table, *e);
  return n;
}

}  // namespace

ComponentKind interconnect_kind() {
  return {"interconnect",
          "the links between the devices of a system, of which the architecture is one: collectives are costed on them",
          {
              {"devices", ParamType::count, true, "", "identical devices in the system, this architecture each"},
              {"topology",
               ParamType::choice,
               false,
               "switch",
               "ring: each device linked to its two neighbours; switch: each by one port to a non-blocking switch",
               {"ring", "switch"}},
              {"link_bandwidth", ParamType::bandwidth, true, "",
               "what a device's link (or switch port) carries in each direction"},
              {"latency", ParamType::duration, false, "", "a message's from one device to the next (default 0)"},
              {"transfer_energy", ParamType::cost, false, "", "energy of one byte over a link (default: none charged)"},
          },
          R"({kind: interconnect, devices: 4, topology: switch, link_bandwidth: 450 GB/s, latency: 2 us})",
          &build};
}

}  // namespace einsim
