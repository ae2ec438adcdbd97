#include "arch/kinds/noc/noc.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "arch/spec.hpp"
#include "common/units.hpp"

namespace einsim {

void NocComponent::describe(nlohmann::ordered_json& fields, std::string& summary) const {
  fields["cores"] = core_count;
  fields["per_core"] = replicated;
  fields["port_bandwidth_Bps"] = port_bandwidth;
  fields["latency_cycles"] = latency;
  fields["multicast"] = multicasts;
  fields["l2_bytes"] = l2;
  fields["reduce_bandwidth_Bps"] = reduce_bandwidth;
  fields["mesh"] = {mesh_rows, mesh_cols};
  fields["mean_hops"] = mean_hops();
  fields["link_bandwidth_Bps"] = link_bandwidth;
  summary = fmt::format(
      "{} cores, each with its own {}; {:g} GB/s per core port, {} cycles{}{}{}{}", core_count,
      fmt::join(replicated, ", "), port_bandwidth / 1e9, latency, multicasts ? ", multicast" : "",
      l2 > 0 ? ", an L2 of " + format_bytes(l2) : "",
      reduce_bandwidth > 0 ? fmt::format(", reduces {:g} GB/s", reduce_bandwidth / 1e9) : "",
      mesh_rows > 0 ? fmt::format(", a {} x {} mesh ({:.3g} hops on average, {} cycles each{})", mesh_rows, mesh_cols,
                                  mean_hops(), hop_latency,
                                  link_bandwidth > 0 ? fmt::format(", links {:g} GB/s", link_bandwidth / 1e9) : "")
                    : "");
}

// The mean Manhattan distance between a node of an n-node line and one picked evenly from all of them (itself
// included): (n^2 - 1) / 3n. A mesh's is the sum of its two lines'.
static double mean_distance(int64_t n) {
  const auto x = static_cast<double>(n);
  return (x * x - 1) / (3 * x);
}

double NocComponent::mean_hops() const {
  return mesh_rows > 0 ? mean_distance(mesh_rows) + mean_distance(mesh_cols) : 0;
}

int64_t NocComponent::hops_latency_cycles() const {
  return static_cast<int64_t>(std::llround(mean_hops() * static_cast<double>(hop_latency)));
}

// Uniform traffic crosses the cut through the middle of the longer side L (the shorter side W's links) one way
// for a floor(L/2) * ceil(L/2) / L^2 share of its pairs of ends: the rate at which those links fill.
double NocComponent::mesh_Bps() const {
  if (mesh_rows == 0 || link_bandwidth <= 0) return 0;
  const int64_t l = std::max(mesh_rows, mesh_cols), w = std::min(mesh_rows, mesh_cols);
  if (l == 1) return 0;  // one node: no links
  const double share = static_cast<double>(l / 2) * static_cast<double>(l - l / 2) / static_cast<double>(l * l);
  return static_cast<double>(w) * link_bandwidth / share;
}

void NocComponent::check(const ArchSpec& arch, const std::string& self) const {
  const std::string key = "components." + self + ".per_core";
  for (const ComponentSpec& c : arch.components)
    if (c.cores() && c.name != self)
      throw UserError(per_core_loc, key,
                      fmt::format("{} has two nocs ('{}' and '{}'): a chip has one", arch.file, std::min(self, c.name),
                                  std::max(self, c.name)));
  for (const std::string& name : replicated) {
    const ComponentSpec* c = arch.find(name);
    if (!c) throw UserError(per_core_loc, key, fmt::format("{} has no component named '{}'", arch.file, name));
    // The memory the cores share stays one: its interface is what their ports lead to.
    if (c->path() || c->cores() || !(c->compute() || c->memory()))
      throw UserError(per_core_loc, key,
                      fmt::format("'{}' is a {}: each core has its own buffers and arrays only", name, c->kind()));
    if (std::count(replicated.begin(), replicated.end(), name) > 1)
      throw UserError(per_core_loc, key, fmt::format("'{}' is named twice", name));
  }
}

namespace {

std::shared_ptr<const Component> build(const ParamValues& p, const BuildContext& context) {
  auto n = std::make_shared<NocComponent>();
  n->core_count = p.count("cores");
  n->replicated = p.names("per_core");
  n->per_core_loc = p.node("per_core").loc();
  if (n->replicated.empty()) p.node("per_core").fail("name the components each core has its own of");
  n->port_bandwidth = p.real("port_bandwidth");
  if (n->port_bandwidth <= 0) p.node("port_bandwidth").fail("port_bandwidth must be positive");
  n->latency = p.has("latency_cycles") ? p.count("latency_cycles") : 0;
  if (const auto e = p.node_if("transfer_energy")) n->transfer = evaluate_cost(context.table, *e);
  n->multicasts = p.flag("multicast");
  if (p.has("l2_size")) {
    n->l2 = p.real("l2_size");
    if (n->l2 < 0) p.node("l2_size").fail("l2_size must be 0 (none) or more");
  }
  if (p.has("reduce_bandwidth")) n->reduce_bandwidth = p.real("reduce_bandwidth");  // not negative, as a bandwidth
  if (const auto e = p.node_if("reduce_energy")) n->reduce = evaluate_cost(context.table, *e);
  if (p.has("mesh_rows") != p.has("mesh_cols"))
    p.node(p.has("mesh_rows") ? "mesh_rows" : "mesh_cols").fail("give a mesh both mesh_rows and mesh_cols");
  if (p.has("mesh_rows")) {
    n->mesh_rows = p.count("mesh_rows");
    n->mesh_cols = p.count("mesh_cols");
    if (n->mesh_rows * n->mesh_cols != n->core_count)
      p.node("mesh_rows")
          .fail(fmt::format("a {} x {} mesh has {} nodes, and the noc {} cores: one core a node", n->mesh_rows,
                            n->mesh_cols, n->mesh_rows * n->mesh_cols, n->core_count));
  }
  for (const char* key : {"hop_latency_cycles", "hop_energy", "link_bandwidth"})
    if (p.has(key) && !p.has("mesh_rows")) p.node(key).fail(fmt::format("{} needs a mesh (mesh_rows, mesh_cols)", key));
  if (p.has("hop_latency_cycles")) n->hop_latency = p.count("hop_latency_cycles");
  if (const auto e = p.node_if("hop_energy")) n->hop = evaluate_cost(context.table, *e);
  if (p.has("link_bandwidth")) n->link_bandwidth = p.real("link_bandwidth");
  return n;
}

}  // namespace

ComponentKind noc_kind() {
  return {"noc",
          "the cores of a many-core chip: each has its own copy of the per_core components, and a port to the memory",
          {
              {"cores", ParamType::count, true, "", "cores on the chip"},
              {"per_core", ParamType::names, true, "", "the components each core has its own copy of"},
              {"port_bandwidth", ParamType::bandwidth, true, "",
               "what one core's port to the memory outside the cores carries"},
              {"latency_cycles", ParamType::count, false, "",
               "cycles a transfer between that memory and a core takes beyond the memory's own latency (default 0)"},
              {"transfer_energy", ParamType::cost, false, "",
               "energy of one byte through a core's port (default: none charged)"},
              {"multicast", ParamType::flag, false, "false",
               "a tile the cores running at once share is read from the memory once and sent to each of them"},
              {"l2_size", ParamType::bytes, false, "",
               "an L2 of this size between the ports and the memory (default 0: none): a tile the items of a group "
               "share is read from the memory once while the tensors they share fit in it, else once for the cores "
               "running at once; each core still receives it through its port"},
              {"reduce_bandwidth", ParamType::bandwidth, false, "",
               "what its reducers (an L2's atomic adds) combine of the partial results of items spread over a rank "
               "their Einsum sums or takes the maximum over (split-K), all together (default 0: none; such a "
               "spread is refused)"},
              {"reduce_energy", ParamType::cost, false, "",
               "energy of combining one byte of a partial result (default: none charged)"},
              {"mesh_rows", ParamType::count, false, "",
               "the cores on a mesh of mesh_rows x mesh_cols routers, one core a node, the memory's interfaces spread "
               "evenly over the nodes (default: no mesh, each port reaches the memory directly)"},
              {"mesh_cols", ParamType::count, false, "", "see mesh_rows"},
              {"hop_latency_cycles", ParamType::count, false, "",
               "cycles a hop between neighbouring routers adds to a transfer (default 0): the mean hops times this"},
              {"hop_energy", ParamType::cost, false, "", "energy of one byte over one hop (default: none charged)"},
              {"link_bandwidth", ParamType::bandwidth, false, "",
               "what each link between neighbours carries each way (default: not limited): all the cores' "
               "transfers together at most fill the mesh's narrowest cut"},
          },
          R"({kind: noc, cores: 4, per_core: [glb], port_bandwidth: 32 GB/s, latency_cycles: 20})",
          &build};
}

}  // namespace einsim
