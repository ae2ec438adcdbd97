#include "mappings/unconstrained.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <ranges>

#include "mappings/lower.hpp"
#include "workloads/analysis.hpp"

namespace einsim {

std::vector<SpatialMap> spatial_maps(const ComponentSpec& unit, const Einsum& e) {
  std::vector<const Var*> vars;
  for (const Var& v : e.vars)
    if (v.extent > 1) vars.push_back(&v);
  std::vector<std::string> dims;
  if (unit.compute()->maps_spatially())
    for (const char* dim : {"rows", "cols", "lanes"})
      if (unit.compute()->dimension(dim)) dims.push_back(dim);
  // Every way to give each dimension an index of its own, or two where neither fills it alone (a GQA group's 4
  // query heads and a head's 128 channels on the xPU's 528 rows): their tiles multiply there.
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
  return maps;
}

MappingSpec with_spatial_maps(MappingSpec m, const Cascade& cascade, const ArchSpec& arch) {
  for (GroupSpec& g : m.groups)
    for (PassSpec& pass : g.passes)
      for (auto& [name, b] : pass.einsums) {
        if (b.maps_auto.empty()) continue;
        const Einsum* e = nullptr;
        for (const Einsum& x : cascade.einsums)
          if (x.name == name) e = &x;
        if (!e)
          throw UserError(b.loc, b.key, fmt::format("the workload {} has no Einsum writing '{}'", cascade.file, name));
        std::vector<std::pair<std::string, SpatialMap>> choices;
        for (size_t i = 0; i < b.unit_choices.size(); ++i) {
          const auto& [unit, map] = b.unit_choices[i];
          if (std::find(b.maps_auto.begin(), b.maps_auto.end(), i) == b.maps_auto.end()) {
            choices.emplace_back(unit, map);
            continue;
          }
          const std::string key = b.key + ".spatial";
          if (unit != "*" && (!arch.find(unit) || !arch.find(unit)->compute()))
            throw UserError(b.loc, key, fmt::format("auto: {} has no compute unit named '{}'", arch.file, unit));
          const size_t before = choices.size();
          for (const ComponentSpec& c : arch.components)
            if (c.compute() && (unit == c.name || (unit == "*" && unit_cannot_run(c, *e).empty())))
              for (SpatialMap& each : spatial_maps(c, *e)) choices.emplace_back(c.name, std::move(each));
          if (choices.size() == before)
            throw UserError(b.loc, key,
                            unit == "*" ? fmt::format("auto: no unit of {} can compute Einsum {}", arch.file, name)
                                        : fmt::format("auto: no spatial map of {} gives each of its dimensions an "
                                                      "index of Einsum {} longer than 1",
                                                      unit, name));
        }
        b.unit_choices = std::move(choices);
        b.maps_auto.clear();
      }
  return m;
}

bool has_auto_maps(const MappingSpec& m) {
  for (const GroupSpec& g : m.groups)
    for (const PassSpec& pass : g.passes)
      for (const auto& [name, b] : pass.einsums)
        if (!b.maps_auto.empty()) return true;
  return false;
}

MappingSpec unconstrained(const Cascade& cascade, const ArchSpec& arch) {
  MappingSpec m;
  m.name = cascade.name + "-mapped";
  m.description =
      "each Einsum (a recurrence's together) a group of its own; units, spatial maps, loop orders and "
      "tiles chosen by einsim map, buffer stages the most that fit";
  m.file = cascade.file;
  m.arch = arch.file;
  m.workload = cascade.file;
  m.pipeline_when_fused = true;
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
  // On a many-core chip whose cores each stage tiles in a buffer of their own, which of a group's loops spread over
  // the cores is searched too (`cores: auto`).
  const bool many_cores = arch.noc() && arch.copies(m.buffer) > 1;
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
    g.stages_fit = true;
    if (many_cores) {
      g.setting_choices.emplace_back("cores", cores_choices(g.loops));
      g.cores_loc = g.settings_loc = g.loc;
    }
    PassSpec pass;
    for (EinsumId id : group.einsums) {
      const Einsum& e = cascade.einsums[id];
      EinsumBinding b;
      b.loc = e.loc;
      b.key = e.name;
      if (!einsum_ops(e).empty()) {  // a split or a copy computes nothing and needs no unit
        b.unit = "auto";
        for (const ComponentSpec& unit : arch.components) {
          if (!unit.compute() || !unit_cannot_run(unit, e).empty()) continue;
          for (SpatialMap& map : spatial_maps(unit, e)) b.unit_choices.emplace_back(unit.name, std::move(map));
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

namespace {

// Whether groups `a` and `b` leave the same settings to the mapper, with the same values (but for `cores: auto`,
// whose values are the group's loops).
bool same_choices(const GroupSpec& a, const GroupSpec& b) {
  return std::ranges::equal(a.setting_choices, b.setting_choices, [](const auto& x, const auto& y) {
    return x.first == y.first && (x.first == "cores" || x.second == y.second);
  });
}

}  // namespace

std::string unfusable(const MappingSpec& templ, size_t first, size_t last) {
  if (last < first + 2) return "";  // a group alone is as it is
  const GroupSpec& g = templ.groups[first];
  for (size_t k = first; k < last; ++k) {
    const GroupSpec& more = templ.groups[k];
    if (more.collective) return fmt::format("group '{}' is a collective", more.name);
    if (more.passes.size() != 1 || !more.passes.front().loops.empty() ||
        std::any_of(more.setting_choices.begin(), more.setting_choices.end(),
                    [](const auto& c) { return c.first == "passes"; }))  // passes: auto, its pass_loops with it
      return fmt::format("group '{}' has passes of its own", more.name);
    if (k == first) continue;
    // What a group says beyond its loops and Einsums holds for all of it: fused groups must say the same.
    const bool alike = more.pipeline == g.pipeline && more.buffer_stages == g.buffer_stages &&
                       more.stages_fit == g.stages_fit && more.tensor_buffer_stages == g.tensor_buffer_stages &&
                       more.place == g.place && more.cores == g.cores && more.devices == g.devices &&
                       same_choices(more, g) &&
                       std::ranges::equal(more.bypassed | std::views::keys, g.bypassed | std::views::keys);
    if (!alike)
      return fmt::format(
          "groups '{}' and '{}' differ in their pipelining, buffer stages, tensors, place, spread or settings left "
          "to the mapper",
          g.name, more.name);
  }
  return "";
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
    if (const std::string why = unfusable(templ, next, next + n); !why.empty())
      throw UserError(templ.groups[next].loc, "groups", fmt::format("cannot fuse: {}", why));
    GroupSpec g = templ.groups[next];
    for (size_t k = next + 1; k < next + n; ++k) {
      const GroupSpec& more = templ.groups[k];
      g.name += "+" + more.name;
      // An index's loops are the first group's that has it; the backing memory's loops stay before the buffer's.
      for (const LoopSpec& loop : more.loops)
        if (std::none_of(g.loops.begin(), g.loops.end(), [&](const LoopSpec& l) { return l.index == loop.index; }))
          g.loops.insert(loop.buffer_level ? g.loops.end()
                                           : std::find_if(g.loops.begin(), g.loops.end(),
                                                          [](const LoopSpec& l) { return l.buffer_level; }),
                         loop);
      const auto& einsums = more.passes.front().einsums;
      g.passes.front().einsums.insert(g.passes.front().einsums.end(), einsums.begin(), einsums.end());
    }
    if (n > 1) {
      g.order_auto = g.loops.size() > 1;  // the groups' loops together have no order of their own
      for (auto& [setting, values] : g.setting_choices)
        if (setting == "cores") values = cores_choices(g.loops);  // the fused group's loops
      // Its units may work on different tiles at once (each Einsum alone has nothing to overlap).
      if (templ.pipeline_when_fused)
        g.setting_choices.emplace_back("pipeline", std::vector<std::string>{"false", "true"});
      m.description = fmt::format(
          "consecutive Einsums fused into {} groups; fusion, {}units, spatial maps, loop orders and tiles chosen by "
          "einsim map, buffer stages the most that fit",
          sizes.size(), templ.pipeline_when_fused ? "pipelining, " : "");
    }
    m.groups.push_back(std::move(g));
    next += n;
  }
  return m;
}

}  // namespace einsim
