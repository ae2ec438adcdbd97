#pragma once
// kind: noc — the cores of a many-core chip and the network joining each of them to the memory outside the cores.
// Each core has its own copy of the components named in `per_core` (its buffer, its arrays). A mapping spreads a
// group's outer loops over the cores; every tile a core loads or stores crosses that core's port at the port's
// bandwidth, and all the cores' transfers share the backing memory's (mappings/lower.cpp, spread_over_cores). An
// L2 (`l2_size`) between the ports and that memory keeps the tiles the items of a group share; reducers in it
// (`reduce_bandwidth`) sum the partial results of items spread over a rank their Einsum reduces (split-K). On a mesh
// (`mesh_rows` x `mesh_cols`) a transfer also takes the hops between its core and the memory's interfaces, spread
// evenly over the mesh's nodes, and all the cores' transfers share the links of its narrowest cut.
#include <string>
#include <vector>

#include "arch/component.hpp"

namespace einsim {

class NocComponent : public Component, public CoresRole {
 public:
  int64_t core_count = 1;
  std::vector<std::string> replicated;  // per_core
  double port_bandwidth = 0;            // B/s, each core's
  int64_t latency = 0;                  // cycles
  Cost transfer;                        // per byte through a port
  bool multicasts = false;
  double l2 = 0;  // bytes
  double reduce_bandwidth = 0;  // B/s of partial results its reducers combine, all of them together; 0: none
  Cost reduce;                  // per byte of partial results combined
  int64_t mesh_rows = 0, mesh_cols = 0;  // 0: no mesh (the ports reach the memory directly)
  int64_t hop_latency = 0;               // cycles a hop
  Cost hop;                              // per byte a hop
  double link_bandwidth = 0;             // B/s each way on each link between neighbours; 0: not limited
  SourceLoc per_core_loc;

  const CoresRole* cores() const override { return this; }
  void describe(nlohmann::ordered_json& fields, std::string& summary) const override;
  void check(const ArchSpec& arch, const std::string& self) const override;

  int64_t count() const override { return core_count; }
  const std::vector<std::string>& per_core() const override { return replicated; }
  double port_Bps() const override { return port_bandwidth; }
  int64_t port_latency_cycles() const override { return latency; }
  double port_pJ_per_byte() const override { return transfer.energy_pJ; }
  bool multicast() const override { return multicasts; }
  double l2_bytes() const override { return l2; }
  double reduce_Bps() const override { return reduce_bandwidth; }
  double reduce_pJ_per_byte() const override { return reduce.energy_pJ; }
  double mean_hops() const override;
  int64_t hops_latency_cycles() const override;
  double hop_pJ_per_byte() const override { return hop.energy_pJ; }
  double mesh_Bps() const override;
};

ComponentKind noc_kind();

}  // namespace einsim
