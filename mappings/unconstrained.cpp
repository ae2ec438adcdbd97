#include "mappings/unconstrained.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <ranges>

#include "mappings/lower.hpp"
#include "workloads/analysis.hpp"

namespace einsim {

MappingSpec unconstrained(const Cascade& cascade, const ArchSpec& arch) {
  MappingSpec m;
  m.name = cascade.name + "-mapped";
  m.description =
      "each Einsum (a recurrence's together) a group of its own; units, spatial maps, loop orders and "
      "tiles chosen by einsim map";
  m.file = cascade.file;
  m.arch = arch.file;
  m.workload = cascade.file;
  // Tiles go from the architecture's DRAM to a buffer that stages them: the defaults' names when it has them.
  auto stages_tiles = [&](const std::string& name) {
    const ComponentSpec* c = arch.find(name);
    return c && c->memory() && c->memory()->stages_tiles();
  };
  if (!arch.find(m.backing))
    for (const ComponentSpec& c : arch.components)
      if (c.kind() == "dram") m.backing = c.name;
  if (!stages_tiles(m.buffer))
    for (const ComponentSpec& c : arch.components)
      if (c.name != m.backing && stages_tiles(c.name)) {
        m.buffer = c.name;
        break;
      }
  for (const Group& group : cascade.schedule) {
    GroupSpec g;
    std::vector<std::string> names, indices;
    for (EinsumId e : group.einsums) {
      names.push_back(cascade.einsums[e].name);
      for (const Var& v : cascade.einsums[e].vars)
        if (v.extent > 1 && std::find(indices.begin(), indices.end(), v.name) == indices.end())
          indices.push_back(v.name);
    }
    g.name = fmt::format("{}", fmt::join(names, "+"));
    g.loc = SourceLoc{cascade.file};
    for (const std::string& index : indices) g.loops.push_back(LoopSpec{index, "auto", false, g.loc, std::nullopt});
    g.order_auto = indices.size() > 1;
    PassSpec pass;
    for (EinsumId id : group.einsums) {
      const Einsum& e = cascade.einsums[id];
      EinsumBinding b;
      b.loc = e.loc;
      b.key = e.name;
      if (!einsum_ops(e).empty()) {  // a split or a copy computes nothing and needs no unit
        b.unit = "auto";
        std::vector<const Var*> vars;
        for (const Var& v : e.vars)
          if (v.extent > 1) vars.push_back(&v);
        for (const ComponentSpec& unit : arch.components) {
          if (!unit.compute() || !unit_cannot_run(unit, e).empty()) continue;
          std::vector<std::string> dims;
          if (unit.compute()->maps_spatially())
            for (const char* dim : {"rows", "cols", "lanes"})
              if (unit.compute()->dimension(dim)) dims.push_back(dim);
          // Every way to give each dimension an index of its own, or two where neither fills it alone (a GQA
          // group's 4 query heads and a head's 128 channels on the xPU's 528 rows): their tiles multiply there.
          std::vector<SpatialMap> maps{{}};
          for (const std::string& dim : dims) {
            const int64_t size = *unit.compute()->dimension(dim);
            std::vector<SpatialMap> next;
            for (const SpatialMap& map : maps) {
              auto unused = [&](const Var* v) {
                return std::none_of(map.begin(), map.end(), [&](const auto& d) { return d.second == v->name; });
              };
              for (size_t i = 0; i < vars.size(); ++i) {
                if (!unused(vars[i])) continue;
                next.push_back(map);
                next.back().emplace_back(dim, vars[i]->name);
                for (size_t j = i + 1; j < vars.size() && vars[i]->extent < size; ++j)
                  if (unused(vars[j]) && vars[j]->extent < size) {
                    next.push_back(map);
                    next.back().emplace_back(dim, vars[i]->name);
                    next.back().emplace_back(dim, vars[j]->name);
                  }
              }
            }
            maps = std::move(next);
          }
          for (SpatialMap& map : maps) b.unit_choices.emplace_back(unit.name, std::move(map));
        }
        if (b.unit_choices.empty())
          throw UserError(e.loc, e.name,
                          fmt::format("no unit of {} can compute Einsum {} (its ops: {})", arch.file, e.name,
                                      fmt::join(einsum_ops_per_point(e) | std::views::keys, ", ")));
      }
      pass.einsums.emplace_back(e.name, std::move(b));
    }
    g.passes.push_back(std::move(pass));
    m.groups.push_back(std::move(g));
  }
  return m;
}

MappingSpec fused(const MappingSpec& templ, const std::vector<size_t>& sizes) {
  size_t total = 0;
  for (size_t n : sizes) total += n;
  if (total != templ.groups.size() || std::find(sizes.begin(), sizes.end(), size_t{0}) != sizes.end())
    throw UserError(SourceLoc{templ.file}, "groups",
                    fmt::format("fusing {} groups into groups of {}", templ.groups.size(), fmt::join(sizes, ", ")));
  MappingSpec m = templ;
  m.groups.clear();
  size_t next = 0;
  for (size_t n : sizes) {
    GroupSpec g = templ.groups[next];
    for (size_t k = next + 1; k < next + n; ++k) {
      const GroupSpec& more = templ.groups[k];
      if (more.passes.size() != 1 || g.passes.size() != 1 || !more.passes.front().loops.empty())
        throw UserError(more.loc, "groups",
                        fmt::format("group '{}' has passes of its own: it is not fused", more.name));
      g.name += "+" + more.name;
      for (const LoopSpec& loop : more.loops)
        if (std::none_of(g.loops.begin(), g.loops.end(), [&](const LoopSpec& l) { return l.index == loop.index; }))
          g.loops.push_back(loop);
      const auto& einsums = more.passes.front().einsums;
      g.passes.front().einsums.insert(g.passes.front().einsums.end(), einsums.begin(), einsums.end());
    }
    g.order_auto = g.loops.size() > 1;
    m.groups.push_back(std::move(g));
    if (n > 1)
      m.description = fmt::format(
          "consecutive Einsums fused into {} groups; fusion, units, spatial maps, loop orders and tiles chosen by "
          "einsim map",
          sizes.size());
    next += n;
  }
  return m;
}

}  // namespace einsim
