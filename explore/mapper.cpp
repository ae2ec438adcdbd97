#include "explore/mapper.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <ranges>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "mappings/lower.hpp"
#include "mappings/write.hpp"
#include "sim/actions.hpp"
#include "sim/analytical.hpp"
#include "workloads/analysis.hpp"

namespace einsim {

int64_t MapOptions::space_limit() const {
  if (max_candidates) return *max_candidates;
  return objective == MapObjective::latency && !pareto ? 50'000'000 : 2'000'000;
}

std::string_view objective_name(MapObjective o) {
  switch (o) {
    case MapObjective::latency:
      return "latency";
    case MapObjective::energy:
      return "energy";
    case MapObjective::edp:
      return "edp";
  }
  return "?";
}

namespace {

// Where a searched loop sits in a MappingSpec: its group, its pass (-1: the group's own loops; kPassLoops: the
// loops `passes: auto` gives each pass it cuts) and its position.
constexpr int kPassLoops = -2;
struct LoopAddress {
  size_t group = 0;
  int pass = -1;
  size_t loop = 0;
};

template <class Spec>  // MappingSpec or const MappingSpec
auto& loops_at(Spec& m, size_t group, int pass) {
  auto& g = m.groups[group];
  return pass == kPassLoops ? g.pass_loops : pass < 0 ? g.loops : g.passes[static_cast<size_t>(pass)].loops;
}

template <class Spec>  // MappingSpec or const MappingSpec
auto& loop_at(Spec& m, const LoopAddress& a) {
  return loops_at(m, a.group, a.pass)[a.loop];
}

void set_tile(LoopSpec& loop, int64_t tile) {
  loop.tile = std::to_string(tile);
  Expr number;  // what parse_expression(loop.tile) gives, without parsing it for every combination
  number.value = static_cast<double>(tile);
  loop.tile_expr = std::move(number);
}

std::vector<LoopAddress> auto_loops(const MappingSpec& m) {
  std::vector<LoopAddress> out;
  for (size_t g = 0; g < m.groups.size(); ++g) {
    for (size_t l = 0; l < m.groups[g].loops.size(); ++l)
      if (m.groups[g].loops[l].tile == "auto") out.push_back({g, -1, l});
    for (size_t p = 0; p < m.groups[g].passes.size(); ++p)
      for (size_t l = 0; l < m.groups[g].passes[p].loops.size(); ++l)
        if (m.groups[g].passes[p].loops[l].tile == "auto") out.push_back({g, static_cast<int>(p), l});
    for (size_t l = 0; l < m.groups[g].pass_loops.size(); ++l)
      if (m.groups[g].pass_loops[l].tile == "auto") out.push_back({g, kPassLoops, l});
  }
  return out;
}

// Where the loop at `a` is in `m`: itself, or for a loop of the passes `passes: auto` cuts, its copy in each pass
// once cut (while uncut, the group's pass_loops).
std::vector<LoopAddress> copies_of(const MappingSpec& m, const LoopAddress& a) {
  if (a.pass != kPassLoops || !m.groups[a.group].pass_loops.empty()) return {a};
  std::vector<LoopAddress> out;
  for (size_t p = 0; p < m.groups[a.group].passes.size(); ++p) out.push_back({a.group, static_cast<int>(p), a.loop});
  return out;
}

// A list of loops whose order the mapper chooses: loops [begin, end) of a group's own list (pass -1) or a pass's,
// one memory level of it (lists hold the backing memory's loops, then the buffer's).
struct OrderAddress {
  size_t group = 0;
  int pass = -1;
  size_t begin = 0, end = 0;
};

// The levels of the groups that say `order: auto` with more than one loop, group by group.
std::vector<OrderAddress> order_slots(const MappingSpec& m) {
  std::vector<OrderAddress> out;
  for (size_t g = 0; g < m.groups.size(); ++g) {
    if (!m.groups[g].order_auto) continue;
    for (int p = -1; p < static_cast<int>(m.groups[g].passes.size()); ++p) {
      const std::vector<LoopSpec>& loops = loops_at(m, g, p);
      size_t begin = 0;
      while (begin < loops.size()) {
        size_t end = begin;
        while (end < loops.size() && loops[end].buffer_level == loops[begin].buffer_level) ++end;
        if (end - begin > 1) out.push_back({g, p, begin, end});
        begin = end;
      }
    }
  }
  return out;
}

// Where an Einsum whose unit the mapper chooses sits: its group, pass and position in the pass's list.
struct BindingAddress {
  size_t group = 0;
  size_t pass = 0;
  size_t einsum = 0;
};

template <class Spec>  // MappingSpec or const MappingSpec
auto& binding_at(Spec& m, const BindingAddress& a) {
  return m.groups[a.group].passes[a.pass].einsums[a.einsum].second;
}

// The Einsums that say `unit: auto`, group by group.
std::vector<BindingAddress> binding_slots(const MappingSpec& m) {
  std::vector<BindingAddress> out;
  for (size_t g = 0; g < m.groups.size(); ++g)
    for (size_t p = 0; p < m.groups[g].passes.size(); ++p)
      for (size_t e = 0; e < m.groups[g].passes[p].einsums.size(); ++e)
        if (m.groups[g].passes[p].einsums[e].second.unit == "auto") out.push_back({g, p, e});
  return out;
}

// The Einsum at `a` of `to` bound to the `choice`-th unit `from` lets it take.
void bind(MappingSpec& to, const MappingSpec& from, const BindingAddress& a, size_t choice) {
  const auto& [unit, spatial] = binding_at(from, a).unit_choices.at(choice);
  EinsumBinding& b = binding_at(to, a);
  b.unit = unit;
  b.spatial = spatial;
  b.unit_choices.clear();
}

// Why the Einsum at `a` cannot run on the unit `m` binds it to (an op the unit lacks), or empty: legality first, so a
// binding no tile can make feasible is not lowered once per combination of tiles. (map_tiles has checked that every
// unit the constraints name is a compute unit of the architecture.)
std::string cannot_bind(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& m, const BindingAddress& a) {
  const auto& [name, binding] = m.groups[a.group].passes[a.pass].einsums[a.einsum];
  for (const Einsum& e : cascade.einsums)
    if (e.name == name) return unit_cannot_run(*arch.find(binding.unit), e);
  return "";
}

// Where the loop at `a` is once the slot's loops take order `perm` (new position i holds old position perm[i]).
void follow(LoopAddress& a, const OrderAddress& slot, const std::vector<size_t>& perm) {
  if (a.group != slot.group || a.pass != slot.pass || a.loop < slot.begin || a.loop >= slot.end) return;
  const size_t old = a.loop - slot.begin;
  a.loop = slot.begin + static_cast<size_t>(std::find(perm.begin(), perm.end(), old) - perm.begin());
}

// The slot's loops of `from` in order `perm`, into `to`.
void put_in_order(MappingSpec& to, const MappingSpec& from, const OrderAddress& slot, const std::vector<size_t>& perm) {
  const std::vector<LoopSpec>& src = loops_at(from, slot.group, slot.pass);
  std::vector<LoopSpec>& dst = loops_at(to, slot.group, slot.pass);
  for (size_t i = 0; i < perm.size(); ++i) dst[slot.begin + i] = src[slot.begin + perm[i]];
}

using Setting = std::pair<std::string, std::string>;

// Where a group's setting the mapper chooses sits: its group and its place in the group's setting_choices.
struct SettingAddress {
  size_t group = 0;
  size_t setting = 0;
};

// The groups' settings left to the mapper, group by group.
std::vector<SettingAddress> setting_slots(const MappingSpec& m) {
  std::vector<SettingAddress> out;
  for (size_t g = 0; g < m.groups.size(); ++g)
    for (size_t s = 0; s < m.groups[g].setting_choices.size(); ++s) out.push_back({g, s});
  return out;
}

// The tensor a group's setting `tensors.T.spill` names, or empty for another setting.
std::string spill_setting_tensor(const std::string& setting) {
  constexpr std::string_view head = "tensors.", tail = ".spill";
  if (setting.size() <= head.size() + tail.size() || !setting.starts_with(head) || !setting.ends_with(tail)) return "";
  return setting.substr(head.size(), setting.size() - head.size() - tail.size());
}

// The first `count` of group `g`'s loops in the backing memory (each index once), in their order now: what
// spreading that many of its loops over the cores spreads.
std::vector<std::string> first_loops(const GroupSpec& g, size_t count) {
  std::vector<std::string> out;
  for (const LoopSpec& l : g.loops)
    if (out.size() < count && !l.buffer_level && std::find(out.begin(), out.end(), l.index) == out.end())
      out.push_back(l.index);
  return out;
}

// Group `g` with its setting `setting` ("pipeline", "tensors.QK.spill", ...) pinned to `value`, no longer listed.
void pin(GroupSpec& g, const std::string& setting, const std::string& value) {
  if (const std::string tensor = spill_setting_tensor(setting); !tensor.empty()) {
    if (value == "true") g.spilled[tensor] = g.spill_choices.at(tensor);
    g.spill_choices.erase(tensor);
  } else if (setting == "pipeline") {
    g.pipeline = value == "true";
  } else if (setting == "cores") {
    g.cores = parse_spread(value);
  } else if (setting == "passes") {
    cut_into_passes(g, value);
  } else {
    g.buffer_stages = std::stoi(value);
    g.stages_fit = false;
  }
  std::erase_if(g.setting_choices, [&](const auto& c) { return c.first == setting; });
}

// The setting at `a` with its `choice`-th value, as `m` (the template `a` addresses, its loops in their order now)
// takes it: its name and value; `cores: auto` spreads as many of the group's first loops as the value lists.
Setting setting_value(const MappingSpec& m, const SettingAddress& a, size_t choice) {
  const GroupSpec& g = m.groups[a.group];
  const auto& [setting, values] = g.setting_choices[a.setting];
  const std::string& value = values.at(choice);
  return {g.name + "." + setting,
          setting == "cores" ? format_spread(first_loops(g, parse_spread(value).size())) : value};
}

// Where everything a template leaves to the mapper sits.
struct OpenSlots {
  std::vector<LoopAddress> tiles;
  std::vector<OrderAddress> orders;
  std::vector<BindingAddress> units;
  std::vector<SettingAddress> settings;
};

OpenSlots open_slots(const MappingSpec& m) {
  return {auto_loops(m), order_slots(m), binding_slots(m), setting_slots(m)};
}

std::vector<int64_t> divisors(int64_t n) {
  std::vector<int64_t> small, large;
  for (int64_t d = 1; d * d <= n; ++d)
    if (n % d == 0) {
      small.push_back(d);
      if (d != n / d) large.push_back(n / d);
    }
  small.insert(small.end(), large.rbegin(), large.rend());
  return small;
}

// The smallest tile for each number of tiles that covers n: ceil(n / k) for k = 1..n, ascending.
std::vector<int64_t> tiles_by_count(int64_t n) {
  std::vector<int64_t> out;
  for (int64_t k = n; k >= 1;) {
    const int64_t tile = ceil_div(n, k);
    out.push_back(tile);
    k = ceil_div(n, tile) - 1;  // the counts from ceil(n / tile) up all fit in tiles of `tile`
  }
  return out;
}

double score_of(const Stats& s, MapObjective o) {
  switch (o) {
    case MapObjective::latency:
      return static_cast<double>(s.cycles);
    case MapObjective::energy:
      return s.energy_pJ;
    case MapObjective::edp:
      return static_cast<double>(s.cycles) * s.energy_pJ;
  }
  return 0;
}

// What decides between equal scores: the energy for latency, the cycles otherwise (so that of two equally fast
// mappings the one that moves less data wins, not whichever the space lists first). It adds over runs as well.
double tie_break_of(const Stats& s, MapObjective o) {
  return o == MapObjective::latency ? s.energy_pJ : static_cast<double>(s.cycles);
}

}  // namespace

std::vector<SearchedTile> searched_tiles(const Cascade& cascade, const MappingSpec& templ, bool ragged) {
  std::vector<SearchedTile> out;
  for (const LoopAddress& a : auto_loops(templ)) {
    const LoopSpec& loop = loop_at(templ, a);
    int64_t extent = 0;
    for (const Einsum& e : cascade.einsums)
      for (const Var& v : e.vars)
        if (v.name == loop.index) extent = v.extent;
    if (extent <= 0)
      throw UserError(loop.loc.file.empty() ? SourceLoc{templ.file} : loop.loc, "tile",
                      fmt::format("auto: '{}' is not an index of the workload's Einsums", loop.index));
    out.push_back({templ.groups[a.group].name, loop.index, loop.buffer_level, loop.loc,
                   ragged ? tiles_by_count(extent) : divisors(extent)});
  }
  return out;
}

std::vector<SearchedBinding> searched_bindings(const MappingSpec& templ) {
  std::vector<SearchedBinding> out;
  for (const BindingAddress& a : binding_slots(templ)) {
    SearchedBinding b{templ.groups[a.group].name, templ.groups[a.group].passes[a.pass].einsums[a.einsum].first, {}};
    const auto& choices = binding_at(templ, a).unit_choices;
    for (const auto& [unit, spatial] : choices) {
      // A unit listed with several maps (constraints made for a workload alone) is named with its map.
      const bool several =
          std::count_if(choices.begin(), choices.end(), [&](const auto& c) { return c.first == unit; }) > 1;
      std::vector<std::string> dims;
      for (const auto& [dim, index] : spatial) dims.push_back(dim + ":" + index);
      b.units.push_back(several ? fmt::format("{}{{{}}}", unit, fmt::join(dims, ",")) : unit);
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<SearchedSetting> searched_settings(const MappingSpec& templ) {
  std::vector<SearchedSetting> out;
  for (const SettingAddress& a : setting_slots(templ)) {
    const GroupSpec& g = templ.groups[a.group];
    const auto& [setting, values] = g.setting_choices[a.setting];
    out.push_back({g.name, g.name + "." + setting, values});
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> chosen_settings(const MapResult& r, const MapCandidate& c) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const SearchedSetting& g : r.settings)
    for (const auto& p : c.choice.params)
      if (p.first == g.name) out.push_back(p);
  return out;
}

std::string settings_searched(const std::vector<SearchedSetting>& settings) {
  if (settings.empty()) return "";
  return fmt::format("the values of {} setting{}", settings.size(), settings.size() == 1 ? "" : "s");
}

std::string stopped_after(const MapResult& r, std::string (*number)(int64_t)) {
  const std::string descents = r.bindings_descended
                                   ? fmt::format("descents over {} binding{}", number(r.bindings_descended),
                                                 r.bindings_descended == 1 ? "" : "s")
                                   : "";
  if (r.shapes == 0) return "after " + descents;
  return fmt::format("after {} of {} shapes (settings, units and orders){}", number(r.shapes_searched),
                     number(r.shapes), descents.empty() ? "" : " and " + descents);
}

std::string bindings_searched(const std::vector<SearchedBinding>& bindings) {
  if (bindings.empty()) return "";
  const bool maps = std::any_of(bindings.begin(), bindings.end(), [](const SearchedBinding& b) {
    return std::any_of(b.units.begin(), b.units.end(), [](const std::string& u) { return u.find('{') != u.npos; });
  });
  return fmt::format("the units {}of {} Einsum{}", maps ? "and spatial maps " : "", bindings.size(),
                     bindings.size() == 1 ? "" : "s");
}

namespace {

// What uses index `index` in group `g`: each of its Einsums' accesses (and the Einsum) that names it. Loops with
// the same uses are alike to every op: next to each other, their order changes no count.
std::vector<std::string> uses_of(const Cascade& cascade, const GroupSpec& g, const std::string& index) {
  std::vector<std::string> uses;
  for (const PassSpec& pass : g.passes)
    for (const auto& [name, binding] : pass.einsums)
      for (const Einsum& e : cascade.einsums) {
        if (e.name != name) continue;
        const int v = e.var_index(index);
        if (v < 0) continue;
        uses.push_back(name);
        auto uses_var = [&](const Access& a) {
          return std::any_of(a.index.begin(), a.index.end(), [&](const Affine& x) {
            return std::any_of(x.terms.begin(), x.terms.end(), [&](const auto& t) { return t.first == v; });
          });
        };
        for (size_t a = 0; a < e.reads.size(); ++a)
          if (uses_var(e.reads[a])) uses.push_back(fmt::format("{}.read{}", name, a));
        if (uses_var(e.out)) uses.push_back(name + ".out");
      }
  return uses;
}

}  // namespace

std::vector<SearchedOrder> searched_orders(const Cascade& cascade, const MappingSpec& templ) {
  constexpr size_t kMaxLoops = 8;  // 8! = 40,320 orders of one level
  std::vector<SearchedOrder> out;
  for (const OrderAddress& slot : order_slots(templ)) {
    const GroupSpec& group = templ.groups[slot.group];
    const std::vector<LoopSpec>& loops = loops_at(templ, slot.group, slot.pass);
    SearchedOrder o{group.name, slot.pass, loops[slot.begin].buffer_level, {}, {}};
    for (size_t i = slot.begin; i < slot.end; ++i) o.indices.push_back(loops[i].index);
    // Loops alike to every op (the same uses; never in a group spread over cores or devices, whose spread takes
    // its outermost loops in order) keep their written order when next to each other.
    std::vector<std::vector<std::string>> uses;
    for (const std::string& index : o.indices) uses.push_back(uses_of(cascade, group, index));
    // A group whose spread is left to the mapper spreads the first loops of the order chosen: none are alike.
    const bool spread = !group.cores.empty() || !group.devices.empty() ||
                        std::any_of(group.setting_choices.begin(), group.setting_choices.end(),
                                    [](const auto& c) { return c.first == "cores"; });
    auto spread_index = [&](const std::string& index) {
      return slot.pass < 0 && std::count(group.cores.begin(), group.cores.end(), index) +
                                      std::count(group.devices.begin(), group.devices.end(), index) >
                                  0;
    };
    if (o.indices.size() > kMaxLoops)
      throw UserError(templ.groups[slot.group].order_loc, "order",
                      fmt::format("auto: group '{}' has {} loops at one level, more than the mapper orders ({})",
                                  o.group, o.indices.size(), kMaxLoops));
    std::vector<size_t> perm(o.indices.size());
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = i;
    do {  // every permutation, as written first; loops over one index keep their order
      bool kept = true;
      for (size_t i = 0; i < perm.size() && kept; ++i)
        for (size_t j = i + 1; j < perm.size() && kept; ++j)
          kept = o.indices[perm[i]] != o.indices[perm[j]] || perm[i] < perm[j];
      for (size_t i = 0; i + 1 < perm.size() && kept && !spread; ++i)
        kept = uses[perm[i]] != uses[perm[i + 1]] || perm[i] < perm[i + 1];
      // The loops a group spreads over cores or devices stay where they are written (outermost).
      for (size_t i = 0; i < perm.size() && kept && spread; ++i) kept = perm[i] == i || !spread_index(o.indices[i]);
      if (kept) o.orders.push_back(perm);
    } while (std::next_permutation(perm.begin(), perm.end()));
    out.push_back(std::move(o));
  }
  return out;
}

namespace {

// A run of groups: the first group and those after it that run with it (`concurrent`). Runs follow one another,
// so a mapping's cycles are the sum of its runs' and its energy the sum of their actions: the tiles of each run
// can be chosen on their own.
struct Run {
  size_t first = 0, last = 0;  // groups [first, last)
  size_t from = 0, to = 0;     // its searched tiles [from, to) (auto_loops lists them group by group)
  size_t sfrom = 0, sto = 0;   // its searched orders (order_slots lists them group by group)
  size_t bfrom = 0, bto = 0;   // its searched units (binding_slots lists them group by group)
  size_t gfrom = 0, gto = 0;   // its searched settings (setting_slots lists them group by group)
  bool searched() const { return to > from || sto > sfrom || bto > bfrom || gto > gfrom; }
};

template <class Address>
std::pair<size_t, size_t> in_groups(const std::vector<Address>& list, size_t first, size_t last) {
  size_t from = static_cast<size_t>(
      std::find_if(list.begin(), list.end(), [&](const Address& a) { return a.group >= first; }) - list.begin());
  size_t to = from;
  while (to < list.size() && list[to].group < last) ++to;
  return {from, to};
}

std::vector<Run> runs_of(const MappingSpec& m, const OpenSlots& open) {
  std::vector<Run> runs;
  for (size_t g = 0; g < m.groups.size(); ++g)
    if (runs.empty() || !m.groups[g].concurrent)
      runs.push_back({g, g + 1});
    else
      runs.back().last = g + 1;
  for (Run& run : runs) {
    std::tie(run.from, run.to) = in_groups(open.tiles, run.first, run.last);
    std::tie(run.sfrom, run.sto) = in_groups(open.orders, run.first, run.last);
    std::tie(run.bfrom, run.bto) = in_groups(open.units, run.first, run.last);
    std::tie(run.gfrom, run.gto) = in_groups(open.settings, run.first, run.last);
  }
  return runs;
}

// The whole template as one run.
Run whole_of(const MappingSpec& m, const OpenSlots& open) {
  return {0, m.groups.size(),   0, open.tiles.size(),   0, open.orders.size(),
          0, open.units.size(), 0, open.settings.size()};
}

// One combination of a range of searched tiles, as the search ranks it.
struct Partial {
  // an index into each setting's values, then each binding's units, then each order's list, then each tile's values
  std::vector<size_t> digits;
  std::vector<Setting> settings;  // each searched setting's name and value
  std::vector<size_t> units;
  std::vector<std::vector<size_t>> orders;
  std::vector<int64_t> tiles;
  Stats stats;
  double score = 0;
  double tie_break = 0;  // tie_break_of
  std::pair<double, double> rank() const { return {score, tie_break}; }
};

// Whether figures (cycles, pJ) `a` match or beat `b` in both. Energies a few ulps apart are equal: two mappings
// that charge the same actions may sum them in another order.
bool covers(int64_t a_cycles, double a_pJ, int64_t b_cycles, double b_pJ) {
  return a_cycles <= b_cycles && a_pJ <= b_pJ * (1 + 1e-12);
}

// Adds `p` to a Pareto front of latency against energy (fewest cycles first) unless a point there covers it,
// dropping the points it covers.
template <class Point, class Figures>  // Figures(const Point&) -> std::pair<int64_t, double>
void add_to_front(std::vector<Point>& front, Point p, Figures figures) {
  const auto [c, e] = figures(p);
  for (const Point& q : front)
    if (covers(figures(q).first, figures(q).second, c, e)) return;
  std::erase_if(front, [&](const Point& q) { return covers(c, e, figures(q).first, figures(q).second); });
  const auto at =
      std::upper_bound(front.begin(), front.end(), c, [&](int64_t x, const Point& q) { return x < figures(q).first; });
  front.insert(at, std::move(p));
}

std::pair<int64_t, double> figures_of(const Partial& p) { return {p.stats.cycles, p.stats.energy_pJ}; }

// What searching one shape (a value per searched setting, a unit per searched binding and an order per searched list of
// a run) found.
struct ShapeResult {
  std::vector<Partial> best;   // its `top` best, best first (ties: the earlier combination)
  std::vector<Partial> front;  // with a front asked for: its Pareto front
  int64_t combinations = 0, not_dividing = 0, infeasible = 0, evaluated = 0, pruned = 0, equivalent = 0;
  std::string first_infeasible_reason;
  bool stopped = false;  // by the deadline, part way
};

// Inserts `p` into a list ranked best first, `top` long at most; among equal ranks the earlier combination in the
// space's order (its digits) goes first, so the answer depends on nothing but the space, whatever order its shapes
// are searched in.
void rank_into(std::vector<Partial>& best, Partial p, int top) {
  auto key = [](const Partial& q) { return std::tie(q.score, q.tie_break, q.digits); };
  const auto ahead = std::upper_bound(best.begin(), best.end(), p,
                                      [&](const Partial& x, const Partial& b) { return key(x) < key(b); });
  if (static_cast<int>(ahead - best.begin()) >= top) return;
  best.insert(ahead, std::move(p));
  if (static_cast<int>(best.size()) > top) best.pop_back();
}

// Whether access `a` of Einsum `e` touches every element of its tensor: no where clause or guard thins its points,
// and each rank's index spans the rank exactly, as digits of a mixed radix (m, or m1 * M0 + m0 with m0 < M0 and
// m1 < M / M0), its variables used by no other rank.
bool reads_whole(const Cascade& cascade, const Einsum& e, const Access& a) {
  if (!e.where.empty() || e.guard >= 0 || a.earlier_step || !a.gathered_ranks.empty()) return false;
  const Tensor& t = cascade.tensors[a.tensor];
  std::set<int> used;
  for (size_t r = 0; r < a.index.size(); ++r) {
    std::vector<std::pair<int64_t, int>> terms;  // (coefficient, variable), the least significant first
    for (const auto& [v, coefficient] : a.index[r].terms) terms.emplace_back(coefficient, v);
    std::sort(terms.begin(), terms.end());
    int64_t spanned = 1;
    for (const auto& [coefficient, v] : terms) {
      if (coefficient != spanned || !used.insert(v).second) return false;
      spanned *= e.vars[static_cast<size_t>(v)].extent;
    }
    if (a.index[r].constant != 0 || spanned != t.ranks[r].extent) return false;
  }
  return true;
}

// Whether every evaluation of Einsum `e` reads all of access `a`'s tensor: reads_whole, and `e` computes something
// or a reader of what it writes needs all of that (a split, BK[m1,m0] = K[m1*M0+m0], loads only the tiles its
// readers need: none of K's beyond a causal mask).
bool needs_whole(const Cascade& cascade, const Einsum& e, const Access& a) {
  if (!reads_whole(cascade, e, a)) return false;
  if (!einsum_ops(e).empty() || cascade.tensors[e.out.tensor].output) return true;
  for (const Einsum& r : cascade.einsums)
    for (const Access& b : r.reads)
      if (b.tensor == e.out.tensor && needs_whole(cascade, r, b)) return true;
  return false;
}

// What groups [first, last) of `m` must move across the backing memory's path whatever their units, orders and
// tiles: each tensor a group reads whole from outside the run (an input, or what an earlier run stored) is loaded at
// least once, and each the run writes whole and a later group or the cascade's output needs is stored at least once.
// What a where clause or a guard thins, a part of a tensor written in parts, a recurrence's steps and a spill count
// nothing (a bound, not the traffic). A group placed on a PIM (or `auto`) reads through its own paths: such a run
// has none (`placed`).
struct CompulsoryTraffic {
  std::set<TensorId> loaded, stored;
  bool placed = false;
};

CompulsoryTraffic compulsory_traffic(const Cascade& cascade, const MappingSpec& m, size_t first, size_t last) {
  CompulsoryTraffic out;
  std::map<std::string, size_t> group_of;  // each Einsum's group, by name
  for (size_t g = 0; g < m.groups.size(); ++g) {
    if (g >= first && g < last && !m.groups[g].place.empty()) {
      out.placed = true;
      return out;
    }
    for (const PassSpec& pass : m.groups[g].passes)
      for (const auto& [name, binding] : pass.einsums) group_of[name] = g;
  }
  auto group = [&](EinsumId e) {
    const auto it = group_of.find(cascade.einsums[e].name);
    return it == group_of.end() ? m.groups.size() : it->second;
  };
  for (EinsumId e : cascade.einsums.ids()) {
    const size_t g = group(e);
    if (g < first || g >= last) continue;
    const Einsum& einsum = cascade.einsums[e];
    for (const Access& a : einsum.reads) {
      const std::vector<EinsumId> writers = cascade.tensors[a.tensor].writers();
      const bool outside = std::all_of(writers.begin(), writers.end(), [&](EinsumId w) { return group(w) < first; });
      if (outside && needs_whole(cascade, einsum, a)) out.loaded.insert(a.tensor);
    }
    const Tensor& t = cascade.tensors[einsum.out.tensor];
    bool needed = t.output;
    for (EinsumId r : cascade.einsums.ids())
      for (const Access& a : cascade.einsums[r].reads)
        needed = needed || (a.tensor == einsum.out.tensor && group(r) >= last);
    if (needed && t.pieces.empty() && reads_whole(cascade, einsum, einsum.out)) out.stored.insert(einsum.out.tensor);
  }
  return out;
}

// A lower bound on the cycles of groups [first, last) of `m` that no unit, order or tile changes: their compulsory
// traffic at the backing memory's path's bandwidth (on every device), as the memory roofline counts it, which no
// evaluation's cycles are below (0 where the run has a group placed on a PIM).
int64_t traffic_floor(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& m, size_t first, size_t last) {
  const CompulsoryTraffic must = compulsory_traffic(cascade, m, first, last);
  if (must.placed) return 0;
  std::map<std::string, std::pair<double, double>> bytes;  // per path: bytes, bandwidth
  auto add = [&](const std::set<TensorId>& tensors, const std::string& from, const std::string& to) {
    const ComponentSpec& path = arch.path(from, to);
    for (TensorId t : tensors) {
      auto& [b, bandwidth] = bytes[path.name];
      b += static_cast<double>(cascade.tensors[t].bytes());
      bandwidth = path.path_Bps();
    }
  };
  add(must.loaded, m.backing, m.buffer);
  add(must.stored, m.buffer, m.backing);
  const double devices = arch.devices() ? static_cast<double>(arch.devices()->count()) : 1;
  int64_t floor = 0;
  for (const auto& [path, b] : bytes)
    if (b.second > 0)
      // Rounded down, so that the runs' floors add to no more than the whole's memory roofline.
      floor = std::max(floor, static_cast<int64_t>(std::floor(b.first * arch.clock_hz / (b.second * devices))));
  return floor;
}

// One Einsum's part of a compute floor: its work on its unit, and the indices its map spreads over the unit's
// dimensions, each as far as its extent or, inside a loop over it, that loop's tile.
struct FloorTerm {
  std::string einsum;
  std::string unit;
  const ComputeRole* role = nullptr;
  double work = 0;  // its points x the busiest function unit's issue cycles, over the unit's copies on every device
  size_t group = 0, pass = 0;
  std::vector<std::pair<std::string, const Var*>> spread;  // (dimension, index)
  // Filled by floor_terms for floor_of, which runs once per combination and so allocates nothing: the unit's place
  // among the terms' units, the product of spans per dimension (keys made once), and each spread index's factor.
  size_t unit_slot = 0;
  std::map<std::string, int64_t> most;
  std::vector<int64_t*> span_of;
};

// Calls `f(einsum, unit, binding, group, pass)` for each Einsum of groups [first, last) of `m` that computes on a
// unit of `arch` that can run it, unguarded: those whose work no order or tile changes. A group placed on a PIM (or
// `auto`) runs on the PIM's own compute, and counts nothing.
template <class F>
void for_each_computed(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& m, size_t first, size_t last,
                       F f) {
  struct Place {
    size_t group, pass;
    const EinsumBinding* binding;
  };
  std::map<std::string, Place> bound;  // the Einsums of those groups, by name
  for (size_t g = first; g < last && g < m.groups.size(); ++g)
    if (m.groups[g].place.empty())
      for (size_t p = 0; p < m.groups[g].passes.size(); ++p)
        for (const auto& [name, binding] : m.groups[g].passes[p].einsums) bound[name] = {g, p, &binding};
  for (const Einsum& einsum : cascade.einsums) {
    const auto it = bound.find(einsum.name);
    if (it == bound.end()) continue;
    const EinsumBinding& binding = *it->second.binding;
    const ComponentSpec* unit = binding.unit.empty() ? nullptr : arch.find(binding.unit);
    if (!unit || !unit->compute() || einsum.guard >= 0 || !unit_cannot_run(*unit, einsum).empty()) continue;
    f(einsum, *unit, binding, it->second.group, it->second.pass);
  }
}

std::vector<FloorTerm> floor_terms(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& m, size_t first,
                                   size_t last) {
  const double devices = arch.devices() ? static_cast<double>(arch.devices()->count()) : 1;
  std::vector<FloorTerm> terms;
  for_each_computed(
      cascade, arch, m, first, last,
      [&](const Einsum& einsum, const ComponentSpec& unit, const EinsumBinding& binding, size_t group, size_t pass) {
        FloorTerm t{einsum.name, unit.name, unit.compute(), 0, group, pass, {}, 0, {}, {}};
        const int64_t per_point = busiest_function_unit(*unit.ops(), einsum_ops_per_point(einsum),
                                                        [](int64_t count, int64_t issue) { return count * issue; });
        t.work = static_cast<double>(einsum.points() / einsum.points_per_work()) * static_cast<double>(per_point) /
                 (static_cast<double>(arch.copies(unit.name)) * devices);
        if (t.role->maps_spatially())
          for (const auto& [dim, index] : binding.spatial)
            if (const int v = einsum.var_index(index); v >= 0)
              t.spread.emplace_back(dim, &einsum.vars[static_cast<size_t>(v)]);
        terms.push_back(std::move(t));
      });
  std::vector<std::string> units;
  for (FloorTerm& t : terms) {
    t.unit_slot = static_cast<size_t>(std::find(units.begin(), units.end(), t.unit) - units.begin());
    if (t.unit_slot == units.size()) units.push_back(t.unit);
    for (const auto& [dim, var] : t.spread) t.most.try_emplace(dim, 1);
    for (const auto& [dim, var] : t.spread) t.span_of.push_back(&t.most.at(dim));
  }
  return terms;
}

// The floor of `terms` when the j-th index of term i spans at most span(i, j) points in a tile: per unit, its terms'
// work at the rate those spreads allow; the largest of the units'.
template <class Span>  // (size_t term, size_t index) -> int64_t
int64_t floor_of(std::vector<FloorTerm>& terms, double clock_hz, Span span) {
  size_t units = 0;
  for (const FloorTerm& t : terms) units = std::max(units, t.unit_slot + 1);
  std::array<double, 16> small{};  // per unit (few: to the heap only past 16)
  std::vector<double> large(units > small.size() ? units : 0, 0.0);
  double* cycles = large.empty() ? small.data() : large.data();
  for (size_t i = 0; i < terms.size(); ++i) {
    FloorTerm& t = terms[i];
    for (auto& [dim, product] : t.most) product = 1;  // per dimension: the product of its indices' spans
    for (size_t j = 0; j < t.spread.size(); ++j) *t.span_of[j] *= span(i, j);
    cycles[t.unit_slot] += t.work / t.role->rate_when_spread(t.most, clock_hz);
  }
  double most_cycles = 0;
  for (size_t u = 0; u < units; ++u) most_cycles = std::max(most_cycles, cycles[u]);
  // Rounded up from just below, so that rounding in the sum cannot lift it above a figure that meets it exactly.
  return static_cast<int64_t>(std::ceil(most_cycles * (1 - 1e-9)));
}

}  // namespace

int64_t compute_floor(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& m, size_t first, size_t last) {
  std::vector<FloorTerm> terms = floor_terms(cascade, arch, m, first, last);
  return floor_of(terms, arch.clock_hz, [&](size_t i, size_t j) { return terms[i].spread[j].second->extent; });
}

double energy_floor(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& m, size_t first, size_t last) {
  double pj = 0;
  for_each_computed(cascade, arch, m, first, last,
                    [&](const Einsum& einsum, const ComponentSpec& unit, const EinsumBinding&, size_t, size_t) {
                      const ComputeRole& compute = *unit.compute();
                      for (const auto& [kind, count] : einsum_ops_per_point(einsum)) {
                        const double ops = static_cast<double>(count) * static_cast<double>(einsum.points());
                        pj += ops * (unit.ops()->at(kind).cost.energy_pJ +
                                     op_operands(kind) * std::max(0.0, compute.regfile_read_pJ()) +
                                     std::max(0.0, compute.regfile_write_pJ()));
                      }
                    });
  const CompulsoryTraffic must = compulsory_traffic(cascade, m, first, last);
  const ComponentSpec* backing = m.backing.empty() ? nullptr : arch.find(m.backing);
  if (!must.placed && backing) {
    RunTraffic traffic;
    for (TensorId t : must.loaded) traffic.read += cascade.tensors[t].bytes();
    for (TensorId t : must.stored) traffic.written += cascade.tensors[t].bytes();
    if (arch.path(m.backing, m.buffer).path()->holds_tensors()) {
      traffic.external_read = traffic.read;
      traffic.external_written = traffic.written;
    }
    traffic.devices = arch.devices() ? arch.devices()->count() : 1;
    ActionEnergy energy;
    backing->model->charge_run(traffic, energy);
    for (const auto& [action, e] : energy) pj += e;
  }
  // Just below, so that rounding in the evaluator's sums cannot put a figure that meets it exactly under it.
  return pj * (1 - 1e-9);
}

namespace {

// Every combination of the searched settings of `run`, its searched units, orders and tiles, evaluated on its
// groups: the `top` best, best first (ties: the secondary objective, then the earlier combination; settings vary
// slowest, then units, then orders, the last tile fastest). The counts go to the certificate in `r`; with a `front`,
// the Pareto front goes there.
//
// Shapes (a unit per binding and an order per list) are searched in batches of kBatch, the batch's shapes on up
// to options.jobs threads, their results merged in order; so the answer and the certificate are the same for any
// number of threads. Branch and bound, without a front: a shape's floor in the objective (compute_floor: its units'
// work at the rates its spatial maps allow; energy_floor: their ops' energy and the compulsory traffic's; neither
// changed by a setting, order or tile) bounds every combination of it from below. Shapes are searched lowest floor
// first; one whose floor exceeds the `top`-th best score found before its batch is pruned whole (counted, none of
// it lowered), and so are all after it; for latency, one whose first feasible combination shows a compute roofline
// above that score is pruned from there. With a front, shapes and combinations are pruned by dominance (below).
//
// With a `ceiling` (descend()'s best so far), what cannot beat it is pruned as what cannot rank is; `anytime`
// (descend()'s too) stops at the deadline even with nothing feasible found, and leaves the run's bound unsearched.
//
// With a deadline, no batch starts once it has passed and a feasible mapping was found; the shapes left are
// counted, and the run's lower bound is the least of its best score and the bounds of the bindings left: each one's
// compute floor or compute roofline (from its first feasible combination) or the run's traffic floor, whichever is
// higher.
std::vector<Partial> search(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& templ,
                            const OpenSlots& open, const Run& run, const MapOptions& options, MapResult& r,
                            std::vector<Partial>* front = nullptr,
                            std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt,
                            double ceiling = std::numeric_limits<double>::infinity(), bool anytime = false) {
  constexpr size_t kBatch = 16;
  const std::vector<LoopAddress>& where = open.tiles;
  const std::vector<OrderAddress>& slots = open.orders;
  const std::vector<BindingAddress>& units = open.units;
  const size_t from = run.from, n = run.to - run.from;
  // A searched tile's searched outer tiles: the same index further out in the same group's nest.
  std::vector<std::vector<size_t>> outer(n);
  for (size_t k = 0; k < n; ++k)
    for (size_t j = 0; j < k; ++j)
      if (where[from + j].group == where[from + k].group && r.searched[from + j].index == r.searched[from + k].index)
        outer[k].push_back(j);
  int64_t per_shape = 1;
  for (size_t k = 0; k < n; ++k) per_shape *= static_cast<int64_t>(r.searched[from + k].values.size());

  // The run's shapes, in the space's order: a value for each searched setting, then a unit for each searched
  // binding, then an order for each searched list. A shape's first `nu` digits are its binding (rooflines below).
  const size_t ns = run.gto - run.gfrom, nb = run.bto - run.bfrom, nu = ns + nb;
  std::vector<std::vector<size_t>> shapes;
  {
    std::vector<size_t> shape(nu + run.sto - run.sfrom, 0);
    auto choices = [&](size_t d) {
      return d < ns   ? r.settings[run.gfrom + d].values.size()
             : d < nu ? r.bindings[run.bfrom + d - ns].units.size()
                      : r.orders[run.sfrom + d - nu].orders.size();
    };
    for (bool more = true; more;) {
      shapes.push_back(shape);
      more = false;
      for (size_t d = shape.size(); d-- > 0;) {
        if (++shape[d] < choices(d)) {
          more = true;
          break;
        }
        shape[d] = 0;
      }
    }
  }
  // Branch and bound, without a front: shapes by their floors (in the objective's terms), and for latency
  // combinations by their tiles' compute floor and memory roofline too.
  const bool prune = !front;
  const bool latency = options.objective == MapObjective::latency;
  // A score in the objective's terms from bounds on cycles and energy.
  auto score_from = [&](double cycles, double pj) {
    return latency ? cycles : options.objective == MapObjective::energy ? pj : cycles * pj;
  };

  // Orders that differ only in where loops of one iteration sit are one mapping: such a loop (a group's outermost
  // over its index, whose tile is the index's extent) moves nothing and repeats nothing wherever it is. Of the
  // orders of a list that agree once those loops are left out, only the first listed is searched with those tiles;
  // the others are counted `equivalent`. The first ranks before them among equal scores, so the best is the same.
  // Not in a group spread over cores or devices (its spread takes the first loops of the order) and not in lists
  // with more than 2^20 (orders x sets of such loops) to tabulate.
  struct Canonical {
    std::vector<size_t> positions, tiles;  // per loop that may run once: its place in the list, its searched tile
    std::vector<int64_t> extents;          // and its index's extent in the group (as lowering takes it)
    std::vector<std::vector<char>> first;  // per set of such loops (a mask over them), per order: the first?
  };
  std::vector<Canonical> canonical(run.sto - run.sfrom);
  for (size_t s = run.sfrom; s < run.sto; ++s) {
    const OrderAddress& slot = slots[s];
    const GroupSpec& g = templ.groups[slot.group];
    if (slot.pass != -1 || !g.cores.empty() || !g.devices.empty() ||
        std::any_of(g.setting_choices.begin(), g.setting_choices.end(),
                    [](const auto& c) { return c.first == "cores"; }))
      continue;
    Canonical& c = canonical[s - run.sfrom];
    for (size_t i = slot.begin; i < slot.end; ++i) {
      const std::string& index = g.loops[i].index;
      if (std::any_of(g.loops.begin(), g.loops.begin() + static_cast<std::ptrdiff_t>(i),
                      [&](const LoopSpec& l) { return l.index == index; }))
        continue;  // inside another loop over its index
      int64_t extent = 0;  // the group's last Einsum with the index gives it, as in lowering
      for (const PassSpec& pass : g.passes)
        for (const auto& [name, binding] : pass.einsums)
          for (const Einsum& e : cascade.einsums)
            if (e.name == name && e.var_index(index) >= 0)
              extent = e.vars[static_cast<size_t>(e.var_index(index))].extent;
      for (size_t k = from; k < run.to; ++k)
        if (where[k].group == slot.group && where[k].pass == -1 && where[k].loop == i && extent > 0) {
          c.positions.push_back(i - slot.begin);
          c.tiles.push_back(k - from);
          c.extents.push_back(extent);
        }
    }
    const std::vector<std::vector<size_t>>& listed = r.orders[s].orders;
    if (c.positions.empty() || (listed.size() << c.positions.size()) > (size_t{1} << 20)) {
      c = Canonical{};
      continue;
    }
    c.first.resize(size_t{1} << c.positions.size());
    for (size_t mask = 1; mask < c.first.size(); ++mask) {
      std::set<std::vector<size_t>> seen;
      for (const std::vector<size_t>& perm : listed) {
        std::vector<size_t> rest;  // the order without the loops in `mask`
        for (size_t at : perm) {
          const auto b = std::find(c.positions.begin(), c.positions.end(), at) - c.positions.begin();
          if (b == static_cast<std::ptrdiff_t>(c.positions.size()) || !(mask >> b & 1)) rest.push_back(at);
        }
        c.first[mask].push_back(seen.insert(std::move(rest)).second ? 1 : 0);
      }
    }
  }
  // Whether the combination of `shape` with `tiles` is an earlier one's with loops of one iteration moved.
  auto equivalent = [&](const std::vector<size_t>& shape, const std::vector<int64_t>& tiles) {
    for (size_t s = 0; s < canonical.size(); ++s) {
      const Canonical& c = canonical[s];
      size_t mask = 0;
      for (size_t b = 0; b < c.tiles.size(); ++b)
        if (tiles[c.tiles[b]] >= c.extents[b]) mask |= size_t{1} << b;
      if (mask && !c.first[mask][shape[nu + s]]) return true;
    }
    return false;
  };

  // Each shape's floor (its binding's: no setting, order or tile changes it), where it prunes or bounds a stopped
  // search: its compute floor for latency, its energy floor for energy, their product for the energy-delay
  // product. Pruning, shapes are searched lowest floor first (among equal floors in the space's order), so the
  // best mappings come early, and once a shape's floor exceeds the `top`-th best score the shapes after it are
  // pruned without lowering any. Each shape's compute and energy floors too (`both_floors`), for the bounds below.
  std::vector<double> floors(shapes.size(), 0);
  std::vector<std::pair<double, double>> both_floors(shapes.size(), {0, 0});
  if (prune || deadline || front) {
    std::map<std::vector<size_t>, std::pair<double, double>> of_binding;  // compute floor, energy floor
    for (size_t i = 0; i < shapes.size(); ++i) {
      const std::vector<size_t> binding(shapes[i].begin() + static_cast<std::ptrdiff_t>(ns),
                                        shapes[i].begin() + static_cast<std::ptrdiff_t>(nu));
      const auto [it, added] = of_binding.try_emplace(binding);
      if (added) {
        MappingSpec m = templ;
        for (size_t b = 0; b < nb; ++b) bind(m, templ, units[run.bfrom + b], binding[b]);
        it->second = {static_cast<double>(compute_floor(cascade, arch, m, run.first, run.last)),
                      energy_floor(cascade, arch, m, run.first, run.last)};
      }
      floors[i] = score_from(it->second.first, it->second.second);
      both_floors[i] = it->second;
    }
  }
  // Dominance, with a front: a shape that a point of the front found before its batch matches or beats on both its
  // floors has no combination that could join the front (each is covered by that point, which comes before it in the
  // space's order); if its floor is above the `top`-th best score as well, none can rank either, and it is pruned
  // whole.
  auto dominated = [&](size_t shape, double rank_bound) {
    if (!front || floors[shape] <= rank_bound) return false;
    const auto [cycles, pj] = both_floors[shape];
    return std::any_of(front->begin(), front->end(), [&](const Partial& q) {
      return covers(q.stats.cycles, q.stats.energy_pJ, static_cast<int64_t>(cycles), pj);
    });
  };
  std::vector<size_t> order(shapes.size());
  std::iota(order.begin(), order.end(), size_t{0});
  if (prune) std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return floors[a] < floors[b]; });

  // Whether a lowered combination, its actions counted, cannot count: its figures' bound in the objective is above
  // `limit` (it cannot rank) and, with a front, a point found before it covers them (the run's before the batch, or
  // its shape's so far). Its cycles are at least its memory roofline and its binding's compute floor
  // (`shape_cycles`), its energy at least its actions' at that many cycles (energy_at; just below, for the sums'
  // rounding). Its timing, the rest of its evaluation, is then spared.
  auto cannot_count = [&](const CountedRun& counted, double shape_cycles, double limit,
                          const std::vector<Partial>& shape_front) {
    const int64_t cycles = std::max(counted.stats.roofline_memory_cycles, static_cast<int64_t>(shape_cycles));
    const double pj = energy_at(arch, counted.run, counted.stats, cycles) * (1 - 1e-9);
    if (score_from(static_cast<double>(cycles), pj) <= limit) return false;
    if (!front) return true;
    auto covering = [&](const Partial& q) { return covers(q.stats.cycles, q.stats.energy_pJ, cycles, pj); };
    return std::any_of(front->begin(), front->end(), covering) ||
           std::any_of(shape_front.begin(), shape_front.end(), covering);
  };

  // One shape, every combination of its tiles; `bound`: prune once the shape's lower bound (`shape_floor`, or its
  // compute roofline) exceeds it. With `roofline_only`, only as far as its first feasible combination, whose compute
  // roofline goes to `roofline`.
  //
  // With a deadline, a shape stops part way (`stopped`) once it has passed and a feasible mapping was found (before
  // the batch or in it so far: `found`); its combinations left are not counted. A roofline-only search gives up after
  // kRooflineTries combinations without a feasible one (leaving `roofline` at infinity and `stopped` set).
  constexpr int64_t kRooflineTries = 4096;
  auto search_shape = [&](const std::vector<size_t>& shape, double bound, double shape_floor,
                          bool roofline_only = false, double* roofline = nullptr, std::atomic<bool>* found = nullptr,
                          double shape_cycles = 0) {
    ShapeResult out;
    if (prune && !roofline_only && shape_floor > bound) {  // no combination of it can rank: none is lowered
      out.combinations = out.pruned = per_shape;
      return out;
    }
    MappingSpec m = templ;
    for (GroupSpec& g : m.groups) g.order_auto = false;
    // The other runs' Einsums take their first unit: lowering checks the whole mapping but lowers only this run.
    for (const BindingAddress& a : units) bind(m, templ, a, 0);
    std::string unbound;  // why this shape's units cannot run their Einsums, if they cannot
    for (size_t b = 0; b < nb; ++b) {
      bind(m, templ, units[run.bfrom + b], shape[ns + b]);
      if (unbound.empty()) unbound = cannot_bind(cascade, arch, m, units[run.bfrom + b]);
    }
    // This order of each searched list, and where its auto tiles are then.
    std::vector<LoopAddress> moved(where.begin() + static_cast<std::ptrdiff_t>(from),
                                   where.begin() + static_cast<std::ptrdiff_t>(run.to));
    std::vector<std::vector<size_t>> perms;
    for (size_t s = run.sfrom; s < run.sto; ++s) {
      const std::vector<size_t>& perm = r.orders[s].orders[shape[nu + s - run.sfrom]];
      put_in_order(m, templ, slots[s], perm);
      for (LoopAddress& a : moved) follow(a, slots[s], perm);
      perms.push_back(perm);
    }
    // This run's settings take the shape's values (after its order: `cores: auto` spreads the first loops of the
    // order chosen), the other runs' their first.
    std::vector<std::pair<size_t, Setting>> pins;  // group, setting
    std::vector<Setting> settings;
    for (size_t i = 0; i < open.settings.size(); ++i) {
      const bool ours = i >= run.gfrom && i < run.gto;
      pins.emplace_back(open.settings[i].group, setting_value(m, open.settings[i], ours ? shape[i - run.gfrom] : 0));
      if (ours) settings.push_back(pins.back().second);
    }
    for (const auto& [g, setting] : pins)
      pin(m.groups[g], setting.first.substr(m.groups[g].name.size() + 1), setting.second);
    std::vector<std::vector<LoopAddress>> at;  // each searched tile's loops (a pass loop's in every pass cut)
    for (const LoopAddress& a : moved) at.push_back(copies_of(m, a));
    // Branch and bound within the shape: a combination's compute floor with each spread index as far as the least
    // searched tile of a loop over it around its Einsum (a group's own loops are around all its passes), against the
    // `top`-th best score found before the batch or in this shape so far.
    std::vector<FloorTerm> terms;
    std::vector<std::vector<std::vector<size_t>>> around;  // per term and spread index: the searched tiles around it
    const bool bounding = prune && latency && !roofline_only;
    if (bounding) terms = floor_terms(cascade, arch, m, run.first, run.last);
    for (const FloorTerm& t : terms) {
      around.emplace_back();
      for (const auto& [dim, var] : t.spread) {
        around.back().emplace_back();
        for (size_t k = 0; k < n; ++k)
          for (const LoopAddress& a : at[k])
            if (a.group == t.group && (a.pass == -1 || a.pass == static_cast<int>(t.pass)) &&
                loop_at(m, a).index == var->name) {
              around.back().back().push_back(k);
              break;
            }
      }
    }
    auto limit = [&] {
      return static_cast<int>(out.best.size()) >= options.top ? std::min(bound, out.best.back().score) : bound;
    };
    auto ranks_not = [&](const std::vector<int64_t>& tiles) {
      if (terms.empty()) return false;
      return static_cast<double>(floor_of(terms, arch.clock_hz, [&](size_t i, size_t j) {
               int64_t span = terms[i].spread[j].second->extent;
               for (size_t k : around[i][j]) span = std::min(span, tiles[k]);
               return span;
             })) > limit();
    };
    std::vector<size_t> digit(n, 0);
    std::vector<int64_t> tiles(n);
    int64_t steps = 0;  // combinations visited: the deadline is looked at every 1,024
    for (bool more = true; more; ++out.combinations) {
      if (roofline_only && out.combinations >= kRooflineTries) {
        out.stopped = true;
        break;
      }
      if (deadline && found && (++steps & 1023) == 0 && *found && std::chrono::steady_clock::now() > *deadline) {
        out.stopped = true;
        break;
      }
      for (size_t k = 0; k < n; ++k) tiles[k] = r.searched[from + k].values[digit[k]];
      bool divides = true;
      for (size_t k = 0; k < n && divides; ++k)
        for (size_t j : outer[k]) divides = divides && tiles[j] % tiles[k] == 0;
      if (!divides) {
        ++out.not_dividing;
      } else if (equivalent(shape, tiles)) {
        ++out.equivalent;  // the same mapping as an earlier order's: not lowered
      } else if (!unbound.empty()) {
        ++out.infeasible;
        if (out.first_infeasible_reason.empty()) out.first_infeasible_reason = unbound;
      } else if (ranks_not(tiles)) {
        ++out.pruned;  // its tiles leave too much of an array idle for it to rank: not lowered
      } else {
        for (size_t k = 0; k < n; ++k)
          for (const LoopAddress& a : at[k]) set_tile(loop_at(m, a), tiles[k]);
        const TileProgram program = lower_groups(cascade, arch, m, run.first, run.last);
        // Lowered, its traffic is known: a memory roofline above what could rank spares its evaluation.
        bool spared = bounding && program.status.ok &&
                      static_cast<double>(memory_roofline_cycles(arch, program, program_executions(program))) > limit();
        // For energy, or with a front: its actions' energy at the fewest cycles it could take (its memory roofline
        // or the binding's compute floor) bounds its figures; timed only where they could rank, or with a front
        // where no point of it found so far covers them.
        CountedRun counted;
        if (program.status.ok && !spared) {
          counted = count_analytical(cascade, arch, program);
          if (counted.stats.status.ok && !roofline_only && (front || (prune && !latency)))
            spared = cannot_count(counted, shape_cycles, limit(), out.front);
        }
        // Lowering refuses what cannot run (a buffer too small, an illegal order); the evaluator what it cannot
        // count.
        Stats stats =
            program.status.ok && !spared ? time_analytical(cascade, arch, program, std::move(counted)) : Stats{};
        const EvalStatus& status = program.status.ok ? stats.status : program.status;
        if (spared) {
          ++out.pruned;  // it cannot rank (or a point found before covers it): not evaluated in full
        } else if (!status.ok) {
          ++out.infeasible;
          if (out.first_infeasible_reason.empty()) out.first_infeasible_reason = status.reason;
          // Tiles bounded by capacity: a group's footprint grows with each of its tiles, so a combination that keeps
          // the digits before the last non-zero one (k) and is at least this one from k on cannot fit either. Those
          // come next in the space's order (the tiles after k are at their smallest): they are counted without
          // lowering, as not dividing or infeasible, and the search goes on at the next value of the digit before k.
          if (program.buffer_too_small && n > 0) {
            auto values = [&](size_t d) -> const std::vector<int64_t>& { return r.searched[from + d].values; };
            size_t k = n - 1;
            while (k > 0 && digit[k] == 0) --k;
            for (;;) {
              size_t d = n - 1;
              while (d > k && digit[d] + 1 == values(d).size()) digit[d--] = 0;
              if (digit[d] + 1 == values(d).size()) break;  // d is k, at its largest: all counted
              ++digit[d];
              ++out.combinations;
              bool fits = true;  // every tile divides the searched tiles around it
              for (size_t j = 0; j < n; ++j) tiles[j] = values(j)[digit[j]];
              for (size_t j = k; j < n; ++j)
                for (size_t o : outer[j]) fits = fits && tiles[o] % tiles[j] == 0;
              ++(fits ? out.infeasible : out.not_dividing);
            }
            for (size_t j = k + 1; j < n; ++j) digit[j] = values(j).size() - 1;  // the next combination carries past k
          }
        } else {
          ++out.evaluated;
          if (found) *found = true;
          if (roofline_only) {
            *roofline = static_cast<double>(stats.roofline_compute_cycles);
            break;
          }
          if (prune && latency && static_cast<double>(stats.roofline_compute_cycles) > bound) {
            // No combination of this shape can rank: the rest of it is pruned (this one was evaluated).
            out.pruned += per_shape - out.combinations - 1;
            out.combinations = per_shape - 1;
            more = false;
            continue;
          }
          std::vector<size_t> digits = shape;
          digits.insert(digits.end(), digit.begin(), digit.end());
          const std::pair<double, double> rank{score_of(stats, options.objective),
                                               tie_break_of(stats, options.objective)};
          Partial p{std::move(digits),
                    settings,
                    std::vector<size_t>(shape.begin() + static_cast<std::ptrdiff_t>(ns),
                                        shape.begin() + static_cast<std::ptrdiff_t>(nu)),
                    perms,
                    tiles,
                    std::move(stats),
                    rank.first,
                    rank.second};
          if (front) add_to_front(out.front, p, figures_of);
          rank_into(out.best, std::move(p), options.top);
        }
      }
      // The next combination: the last searched tile varies fastest.
      more = false;
      for (size_t k = n; k-- > 0;) {
        if (++digit[k] < r.searched[from + k].values.size()) {
          more = true;
          break;
        }
        digit[k] = 0;
      }
    }
    return out;
  };

  std::vector<Partial> best;
  r.shapes += static_cast<int64_t>(shapes.size());
  size_t first = 0;  // in `order`
  for (; first < shapes.size(); first += kBatch) {
    if ((anytime || !best.empty()) && deadline && std::chrono::steady_clock::now() > *deadline) break;
    const size_t count = std::min(kBatch, shapes.size() - first);
    const double bound = std::min(ceiling, prune && static_cast<int>(best.size()) >= options.top
                                               ? best.back().score
                                               : std::numeric_limits<double>::infinity());
    if (floors[order[first]] > bound) {  // the shapes left have floors as high: all pruned
      const auto left = static_cast<int64_t>(shapes.size() - first);
      r.combinations += left * per_shape;
      r.pruned += left * per_shape;
      r.shapes_searched += left;
      first = shapes.size();
      break;
    }
    std::vector<ShapeResult> done(count);
    std::atomic<size_t> next{0};
    std::atomic<bool> found{anytime || !best.empty()};
    const double rank_bound =
        static_cast<int>(best.size()) >= options.top ? best.back().score : std::numeric_limits<double>::infinity();
    auto work = [&] {
      for (size_t i; (i = next++) < count;) {
        if (dominated(order[first + i], rank_bound)) {
          done[i].combinations = done[i].pruned = per_shape;
          continue;
        }
        done[i] = search_shape(shapes[order[first + i]], front ? rank_bound : bound, floors[order[first + i]], false,
                               nullptr, &found, both_floors[order[first + i]].first);
      }
    };
    const int threads = std::min<int>(std::max(1, options.jobs), static_cast<int>(count));
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
    for (ShapeResult& d : done) {  // in the space's order
      r.combinations += d.combinations;
      r.not_dividing += d.not_dividing;
      r.infeasible += d.infeasible;
      r.evaluated += d.evaluated;
      r.pruned += d.pruned;
      r.equivalent += d.equivalent;
      if (r.first_infeasible_reason.empty()) r.first_infeasible_reason = d.first_infeasible_reason;
      for (Partial& p : d.best) rank_into(best, std::move(p), options.top);
      if (front)
        for (Partial& p : d.front) add_to_front(*front, std::move(p), figures_of);
    }
    const auto whole = std::count_if(done.begin(), done.end(), [](const ShapeResult& d) { return !d.stopped; });
    r.shapes_searched += whole;
    if (whole < static_cast<std::ptrdiff_t>(count)) break;  // stopped part way: the batch's shapes are bounded below
  }
  // The run's lower bound: its best, or, stopped early, the least bound of a binding left if that is lower: its
  // compute floor, its compute roofline or the run's traffic floor, whichever is higher.
  const auto floor = static_cast<double>(traffic_floor(cascade, arch, templ, run.first, run.last));
  r.traffic_floor += floor;
  double bound = best.empty() ? std::numeric_limits<double>::infinity() : best.front().score;
  if (!latency) {  // the energy floors of the shapes left (rooflines bound cycles, not energy)
    for (size_t i = first; i < shapes.size(); ++i) bound = std::min(bound, floors[order[i]]);
    r.lower_bound += bound;
    return best;
  }
  // The roofline is the binding's (its units' work over all their copies), whatever the order; a shape of it with
  // nothing feasible bounds nothing, so the binding's next shape is tried. Searched lowest floor first, the shapes
  // left from one whose floor is no lower than the bound so far cannot lower it.
  std::set<std::vector<size_t>> bounded;
  for (size_t i = first; i < shapes.size() && !std::isnan(bound) && !anytime; ++i) {
    const std::vector<size_t>& shape = shapes[order[i]];
    if (prune && floors[order[i]] >= bound) break;
    const std::vector<size_t> binding(shape.begin(), shape.begin() + static_cast<std::ptrdiff_t>(nu));
    if (bounded.contains(binding)) continue;
    double roofline = std::numeric_limits<double>::infinity();
    const bool gave_up = search_shape(shape, 0, 0, true, &roofline).stopped;
    if (gave_up) roofline = 0;  // not known: the floors bound it
    if (std::isinf(roofline)) continue;
    bounded.insert(binding);
    bound = std::min(bound, std::max({roofline, floor, floors[order[i]]}));
  }
  r.lower_bound += bound;
  return best;
}

// The Pareto front of the whole from the runs' fronts: the runs' figures add, so every point of the whole's front
// is a sum of points of theirs. Each sum on the front is evaluated whole; where its figures are not the sum (a
// bank-level DRAM's refreshes), the front is left empty.
void pareto_of_runs(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& templ,
                    const std::vector<std::vector<Partial>>& fronts, const MapOptions& options, MapResult& r) {
  struct Sum {
    std::vector<size_t> pick;  // a point of each run's front
    int64_t cycles = 0;
    double pJ = 0;
  };
  auto figures = [](const Sum& s) { return std::pair<int64_t, double>{s.cycles, s.pJ}; };
  std::vector<Sum> sums{Sum{}};
  for (const std::vector<Partial>& front : fronts) {
    std::vector<Sum> next;
    for (const Sum& s : sums)
      for (size_t i = 0; i < front.size(); ++i) {
        Sum t = s;
        t.pick.push_back(i);
        t.cycles += front[i].stats.cycles;
        t.pJ += front[i].stats.energy_pJ;
        add_to_front(next, std::move(t), figures);
      }
    sums = std::move(next);
  }
  for (const Sum& s : sums) {
    MapCandidate c;
    for (size_t u = 0; u < fronts.size(); ++u) {
      const Partial& p = fronts[u][s.pick[u]];
      c.choice.tiles.insert(c.choice.tiles.end(), p.tiles.begin(), p.tiles.end());
      c.choice.orders.insert(c.choice.orders.end(), p.orders.begin(), p.orders.end());
      c.choice.units.insert(c.choice.units.end(), p.units.begin(), p.units.end());
      c.choice.params.insert(c.choice.params.end(), p.settings.begin(), p.settings.end());
    }
    const TileProgram program = lower(cascade, arch, with_choice(templ, c.choice));
    c.stats = evaluate_analytical(cascade, arch, program);
    if (!program.status.ok || !c.stats.status.ok || c.stats.cycles != s.cycles ||
        std::abs(c.stats.energy_pJ - s.pJ) > 1e-9 * std::max(1.0, s.pJ)) {
      r.pareto.clear();
      return;
    }
    c.score = score_of(c.stats, options.objective);
    r.pareto.push_back(std::move(c));
  }
}

// The `top` best combinations of one choice per run, by the sum of the runs' scores (ties: the sum of their
// secondary objectives, then the earlier combination, the runs' digits read in order): a best-first walk from
// every run's best.
std::vector<std::vector<size_t>> best_sums(const std::vector<std::vector<Partial>>& per_run, int top) {
  using Choice = std::vector<size_t>;  // an index into each run's list
  auto sum = [&](const Choice& c) {
    std::pair<double, double> s{0, 0};
    for (size_t u = 0; u < c.size(); ++u) s.first += per_run[u][c[u]].score, s.second += per_run[u][c[u]].tie_break;
    return s;
  };
  auto digits = [&](const Choice& c) {
    std::vector<size_t> d;
    for (size_t u = 0; u < c.size(); ++u)
      d.insert(d.end(), per_run[u][c[u]].digits.begin(), per_run[u][c[u]].digits.end());
    return d;
  };
  // (sums, digits): ordered as the search ranks them
  std::set<std::pair<std::pair<double, double>, std::vector<size_t>>> frontier;
  std::map<std::vector<size_t>, Choice> choice_of;            // digits -> the choice
  auto push = [&](const Choice& c) {
    std::vector<size_t> d = digits(c);
    if (choice_of.emplace(d, c).second) frontier.emplace(sum(c), std::move(d));
  };
  std::vector<std::vector<size_t>> out;
  push(Choice(per_run.size(), 0));
  while (!frontier.empty() && static_cast<int>(out.size()) < top) {
    const auto next = frontier.begin();
    const Choice c = choice_of.at(next->second);
    frontier.erase(next);
    out.push_back(c);
    for (size_t u = 0; u < c.size(); ++u)
      if (c[u] + 1 < per_run[u].size()) {
        Choice d = c;
        ++d[u];
        push(d);
      }
  }
  return out;
}

// The combinations of a run: the product of its searched tiles' values, orders, units and settings' values.
double space_of(const MapResult& r, const Run& run) {
  double space = 1;
  for (size_t g = run.gfrom; g < run.gto; ++g) space *= static_cast<double>(r.settings[g].values.size());
  for (size_t k = run.from; k < run.to; ++k) space *= static_cast<double>(r.searched[k].values.size());
  for (size_t s = run.sfrom; s < run.sto; ++s) space *= static_cast<double>(r.orders[s].orders.size());
  for (size_t b = run.bfrom; b < run.bto; ++b) space *= static_cast<double>(r.bindings[b].units.size());
  return space;
}

// The shapes of a run (a value per searched setting, a unit per searched binding, an order per searched list):
// search() lists them all before it walks them, so a run with more than kMaxShapes is searched by descent over its
// bindings instead (with a time limit, for latency) or refused. (Twelve Einsums each with `unit: auto` and
// `spatial: auto` have about 10^21: listing them ran out of memory.)
constexpr double kMaxShapes = 1 << 20;
double shapes_of(const MapResult& r, const Run& run) {
  double shapes = 1;
  for (size_t g = run.gfrom; g < run.gto; ++g) shapes *= static_cast<double>(r.settings[g].values.size());
  for (size_t s = run.sfrom; s < run.sto; ++s) shapes *= static_cast<double>(r.orders[s].orders.size());
  for (size_t b = run.bfrom; b < run.bto; ++b) shapes *= static_cast<double>(r.bindings[b].units.size());
  return shapes;
}

// What `templ` leaves to the mapper, as a result lists it: its searched tiles, orders, units and settings.
void list_searched(MapResult& r, const Cascade& cascade, const MappingSpec& templ, bool ragged) {
  r.searched = searched_tiles(cascade, templ, ragged);
  r.orders = searched_orders(cascade, templ);
  r.bindings = searched_bindings(templ);
  r.settings = searched_settings(templ);
}

// A unit the architecture lacks is a mistake in the constraints.
void check_units(const ArchSpec& arch, const MappingSpec& templ, const std::vector<BindingAddress>& units) {
  for (const BindingAddress& a : units)
    for (const auto& [unit, spatial] : binding_at(templ, a).unit_choices)
      if (const ComponentSpec* c = arch.find(unit); !c || !c->ops())
        throw UserError(binding_at(templ, a).loc, binding_at(templ, a).key + ".spatial." + unit,
                        fmt::format("{} has no compute unit named '{}'", arch.file, unit));
}

std::optional<std::chrono::steady_clock::time_point> deadline_of(const MapOptions& options) {
  if (options.time_limit_s <= 0) return std::nullopt;
  return std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                std::chrono::duration<double>(options.time_limit_s));
}

// The deadline of the next of `left` searches that take turns under `deadline`: an equal share of the time left, so
// that a time limit gives each run of groups (or fused group) its part, what one leaves going to those after it.
std::optional<std::chrono::steady_clock::time_point> share_of(
    std::optional<std::chrono::steady_clock::time_point> deadline, size_t left) {
  if (!deadline || left <= 1) return deadline;
  const auto now = std::chrono::steady_clock::now();
  return now >= *deadline ? deadline : now + (*deadline - now) / static_cast<int64_t>(left);
}

// `templ` with run `run`'s searched units bound to `binding` (a choice per binding slot of the run) and, with `p`
// (a combination of `templ`'s run), its settings and orders pinned to p's, and its tiles too unless `tiles_open`:
// what descend() searches.
MappingSpec pinned(const MappingSpec& templ, const OpenSlots& open, const Run& run, const std::vector<size_t>& binding,
                   const Partial* p, bool tiles_open) {
  MappingSpec m = templ;
  for (size_t b = 0; b < binding.size(); ++b) bind(m, templ, open.units[run.bfrom + b], binding[b]);
  if (!p) return m;
  std::vector<LoopAddress> moved(open.tiles.begin() + static_cast<std::ptrdiff_t>(run.from),
                                 open.tiles.begin() + static_cast<std::ptrdiff_t>(run.to));
  for (size_t s = run.sfrom; s < run.sto; ++s) {
    const std::vector<size_t>& perm = p->orders[s - run.sfrom];
    put_in_order(m, templ, open.orders[s], perm);
    for (LoopAddress& a : moved) follow(a, open.orders[s], perm);
    m.groups[open.orders[s].group].order_auto = false;
  }
  for (size_t i = run.gfrom; i < run.gto; ++i) {
    GroupSpec& g = m.groups[open.settings[i].group];
    const Setting& setting = p->settings[i - run.gfrom];
    pin(g, setting.first.substr(g.name.size() + 1), setting.second);
  }
  if (!tiles_open)
    for (size_t k = 0; k < moved.size(); ++k)
      for (const LoopAddress& a : copies_of(m, moved[k])) set_tile(loop_at(m, a), p->tiles[k]);
  return m;
}

// A run whose bindings are too many to enumerate (FuseMax's 1-pass cascade fused whole: each of its twelve
// computing Einsums on either array with any of dozens of spatial maps, 2.5e21 combinations in all), searched until
// `deadline` by descent over its bindings instead of search()'s walk over all of them. Each binding is searched as
// search() searches a shape's orders, settings and tiles (branch and bound, the same certificate counts):
// - It starts from a binding of least compute floor: each Einsum's work on each unit at the rate its best map there
//   fills at full extents (compute_floor's terms), the Einsums spread over the units so that the busiest has the
//   least (depth first over the units, each Einsum taking its best map on its unit; cut short past kNodes, the bound
//   falls back to the costliest Einsum's); that least is also a lower bound on every binding's cycles.
// - It then moves one Einsum at a time to another of its units or maps (cheapest first), keeping a move that beats
//   the best: narrow, the move's tiles searched at the best's orders and settings, until none helps; then wide, its
//   orders and settings searched too (the best's own binding first), narrow again after a wide move helps. It stops
//   at a binding no single move improves (a local optimum, not proven) or at the deadline.
// The run's lower bound: the least of its best and the larger of that floor and the traffic floor.
std::vector<Partial> descend(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& templ,
                             const OpenSlots& open, size_t run_index, const MapOptions& options, MapResult& r,
                             std::chrono::steady_clock::time_point deadline) {
  const Run run = runs_of(templ, open)[run_index];
  const size_t nb = run.bto - run.bfrom, ns = run.gto - run.gfrom;
  // Each choice's unit and cycles at full extents, and the Einsums whose unit is fixed, per unit.
  std::vector<std::string> units;
  auto unit_index = [&](const std::string& name) {
    const auto at = std::find(units.begin(), units.end(), name);
    if (at != units.end()) return static_cast<size_t>(at - units.begin());
    units.push_back(name);
    return units.size() - 1;
  };
  auto cycles_of = [&](const FloorTerm& t) {
    std::map<std::string, int64_t> most;
    for (const auto& [dim, var] : t.spread) most.try_emplace(dim, 1).first->second *= var->extent;
    return t.work / t.role->rate_when_spread(most, arch.clock_hz);
  };
  std::vector<double> fixed;
  for (const FloorTerm& t : floor_terms(cascade, arch, templ, run.first, run.last)) {
    const size_t u = unit_index(t.unit);
    fixed.resize(units.size(), 0);
    fixed[u] += cycles_of(t);
  }
  struct Cost {
    size_t unit = 0;
    double cycles = 0;
  };
  std::vector<std::vector<Cost>> cost(nb);
  for (size_t b = 0; b < nb; ++b) {
    const BindingAddress& a = open.units[run.bfrom + b];
    const std::string& name = templ.groups[a.group].passes[a.pass].einsums[a.einsum].first;
    for (size_t c = 0; c < binding_at(templ, a).unit_choices.size(); ++c) {
      MappingSpec m = templ;
      bind(m, templ, a, c);
      Cost x{unit_index(binding_at(m, a).unit), 0};
      for (const FloorTerm& t : floor_terms(cascade, arch, m, run.first, run.last))
        if (t.einsum == name) x.cycles = cycles_of(t);
      cost[b].push_back(x);
    }
  }
  fixed.resize(units.size(), 0);
  if (units.empty() || std::any_of(cost.begin(), cost.end(), [](const auto& c) { return c.empty(); }))
    return {};  // an Einsum with no unit to take: nothing to descend
  auto floor_of_binding = [&](const std::vector<size_t>& binding) {
    std::vector<double> load = fixed;
    for (size_t b = 0; b < nb; ++b) load[cost[b][binding[b]].unit] += cost[b][binding[b]].cycles;
    return std::ceil(*std::max_element(load.begin(), load.end()) * (1 - 1e-9));
  };

  // The least floor over every binding: the Einsums spread over the units (each with its cheapest map there),
  // depth first, the costliest first, a branch left once its busiest unit reaches the least found.
  std::vector<std::vector<double>> cheapest(nb,
                                            std::vector<double>(units.size(), std::numeric_limits<double>::infinity()));
  std::vector<std::vector<size_t>> cheapest_choice(nb, std::vector<size_t>(units.size(), 0));
  for (size_t b = 0; b < nb; ++b)
    for (size_t c = 0; c < cost[b].size(); ++c)
      if (cost[b][c].cycles < cheapest[b][cost[b][c].unit]) {
        cheapest[b][cost[b][c].unit] = cost[b][c].cycles;
        cheapest_choice[b][cost[b][c].unit] = c;
      }
  std::vector<size_t> by_cost(nb);
  std::iota(by_cost.begin(), by_cost.end(), size_t{0});
  auto least = [&](size_t b) { return *std::min_element(cheapest[b].begin(), cheapest[b].end()); };
  std::stable_sort(by_cost.begin(), by_cost.end(), [&](size_t a, size_t b) { return least(a) > least(b); });
  double floor_best = std::numeric_limits<double>::infinity();
  std::vector<size_t> on(nb, 0), best_on(nb, 0);
  int64_t nodes = 0;
  constexpr int64_t kNodes = 5'000'000;
  std::function<void(size_t, std::vector<double>&)> spread = [&](size_t i, std::vector<double>& load) {
    if (++nodes > kNodes) return;
    const double busiest = *std::max_element(load.begin(), load.end());
    if (busiest >= floor_best) return;
    if (i == nb) {
      floor_best = busiest;
      best_on = on;
      return;
    }
    const size_t b = by_cost[i];
    for (size_t u = 0; u < units.size(); ++u) {
      if (std::isinf(cheapest[b][u])) continue;
      on[b] = u;
      load[u] += cheapest[b][u];
      spread(i + 1, load);
      load[u] -= cheapest[b][u];
    }
  };
  std::vector<double> load = fixed;
  spread(0, load);
  std::vector<size_t> binding(nb);
  for (size_t b = 0; b < nb; ++b) binding[b] = cheapest_choice[b][best_on[b]];
  // A bound whatever the search's depth: cut short, the busiest fixed unit and the costliest Einsum's cheapest.
  double least_floor = *std::max_element(fixed.begin(), fixed.end());
  for (size_t b = 0; b < nb; ++b) least_floor = std::max(least_floor, least(b));
  if (nodes <= kNodes) least_floor = std::max(least_floor, floor_best);
  least_floor = std::ceil(least_floor * (1 - 1e-9));

  std::vector<Partial> best;
  std::set<std::vector<size_t>> visited;
  // Searches `binding` with `from`'s settings and orders (and tiles) pinned, or all open: its best into `best`.
  auto search_binding = [&](const std::vector<size_t>& with, const Partial* from, bool tiles_open,
                            double ceiling = std::numeric_limits<double>::infinity()) {
    const MappingSpec m = pinned(templ, open, run, with, from, tiles_open);
    const OpenSlots o = open_slots(m);
    const Run pinned_run = runs_of(m, o)[run_index];
    MapResult c;
    list_searched(c, cascade, m, options.ragged);
    std::vector<Partial> found = search(cascade, arch, m, o, pinned_run, options, c, nullptr, deadline, ceiling, true);
    // With from's orders pinned, m's loops sit in those orders, and search() lists the tiles it found (and their
    // digits) in m's order of its searched tiles; a choice lists them in the template's. Each template tile's place
    // among m's: where from's orders moved its loop (a pass loop cut into passes: its first pass's copy).
    std::vector<size_t> place;
    if (from && tiles_open) {
      for (size_t k = run.from; k < run.to; ++k) {
        LoopAddress a = open.tiles[k];
        for (size_t s = run.sfrom; s < run.sto; ++s) follow(a, open.orders[s], from->orders[s - run.sfrom]);
        const LoopAddress at = copies_of(m, a).front();
        const auto it = std::find_if(
            o.tiles.begin() + static_cast<std::ptrdiff_t>(pinned_run.from),
            o.tiles.begin() + static_cast<std::ptrdiff_t>(pinned_run.to),
            [&](const LoopAddress& t) { return t.group == at.group && t.pass == at.pass && t.loop == at.loop; });
        if (it == o.tiles.begin() + static_cast<std::ptrdiff_t>(pinned_run.to))
          throw InternalError("descend: a searched tile not found where the pinned orders put it");
        place.push_back(static_cast<size_t>(it - o.tiles.begin()) - pinned_run.from);
      }
    }
    for (int64_t MapResult::*count : {&MapResult::combinations, &MapResult::not_dividing, &MapResult::infeasible,
                                      &MapResult::evaluated, &MapResult::pruned, &MapResult::equivalent})
      r.*count += c.*count;
    if (r.first_infeasible_reason.empty()) r.first_infeasible_reason = c.first_infeasible_reason;
    for (Partial& q : found) {
      if (from) {  // what was pinned is from's: its digits, but for the tiles searched
        const std::vector<size_t> tiles = std::move(q.digits);
        q.settings = from->settings;
        q.orders = from->orders;
        q.digits = from->digits;
        if (tiles_open) {
          const std::vector<int64_t> values = std::move(q.tiles);
          q.tiles.clear();
          const size_t first = q.digits.size() - place.size();
          for (size_t k = 0; k < place.size(); ++k) {
            q.tiles.push_back(values[place[k]]);
            q.digits[first + k] = tiles[tiles.size() - values.size() + place[k]];
          }
        } else {
          q.tiles = from->tiles;
        }
      } else {
        q.digits.insert(q.digits.begin() + static_cast<std::ptrdiff_t>(ns), with.size(), 0);
      }
      std::copy(with.begin(), with.end(), q.digits.begin() + static_cast<std::ptrdiff_t>(ns));
      q.units = with;
      rank_into(best, std::move(q), options.top);
    }
  };
  auto past = [&] { return std::chrono::steady_clock::now() > deadline; };
  visited.insert(binding);
  search_binding(binding, nullptr, true);
  // Moves are searched narrow (the move's tiles at the best's orders and settings) until none helps, then wide (its
  // orders and settings too, the best's binding first), narrow again after a wide move helps.
  std::set<std::vector<size_t>> visited_wide;
  bool wide = false;
  while (!best.empty() && !past()) {
    bool moved = false;
    if (wide && visited_wide.insert(best.front().units).second) {
      const double before = best.front().score;
      search_binding(best.front().units, nullptr, true, before);
      moved = best.front().score < before;
    }
    for (size_t b = 0; b < nb && !past() && !moved; ++b) {
      std::vector<size_t> choices(cost[b].size());
      std::iota(choices.begin(), choices.end(), size_t{0});
      std::stable_sort(choices.begin(), choices.end(),
                       [&](size_t x, size_t y) { return cost[b][x].cycles < cost[b][y].cycles; });
      for (size_t c : choices) {
        if (past()) break;
        std::vector<size_t> next = best.front().units;
        if (c == next[b]) continue;
        next[b] = c;
        if (floor_of_binding(next) > best.front().score || !(wide ? visited_wide : visited).insert(next).second)
          continue;
        const double before = best.front().score;
        const Partial incumbent = best.front();
        search_binding(next, wide ? nullptr : &incumbent, true, before);
        moved = moved || best.front().score < before;
      }
    }
    if (moved) {
      wide = false;
    } else if (!wide) {
      wide = true;
    } else {
      break;  // no move helps, with its orders and settings searched too: a local optimum
    }
  }
  for (const std::vector<size_t>& b : visited_wide) visited.insert(b);
  r.bindings_descended += static_cast<int64_t>(visited.size());
  const auto floor = static_cast<double>(traffic_floor(cascade, arch, templ, run.first, run.last));
  r.traffic_floor += floor;
  r.lower_bound += std::min(best.empty() ? std::numeric_limits<double>::infinity() : best.front().score,
                            std::max(floor, least_floor));
  return best;
}

MapCandidate candidate_of(Partial&& p) {
  return MapCandidate{{std::move(p.tiles), std::move(p.orders), std::move(p.units), std::move(p.settings), {}},
                      std::move(p.stats),
                      p.score};
}

// The figures of a sum of the runs' choices that is not the whole's when evaluated whole: the sum, the whole.
using NotAdding = std::optional<std::pair<double, double>>;

// The `options.top` best combinations of the runs' best (best_sums), each evaluated whole into r.best, and with
// `fronts` the Pareto front into r.pareto. When a sum is not the whole's figure (a bank-level DRAM's refresh energy
// counts whole refresh intervals of the whole run), its figures, and r.best as far as it got.
NotAdding combine_runs(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& templ,
                       const std::vector<std::vector<Partial>>& per_run,
                       const std::vector<std::vector<Partial>>* fronts, const MapOptions& options, MapResult& r) {
  if (fronts) pareto_of_runs(cascade, arch, templ, *fronts, options, r);
  for (const std::vector<size_t>& choice : best_sums(per_run, options.top)) {
    MapCandidate c;
    double parts = 0;
    for (size_t u = 0; u < per_run.size(); ++u) {
      const Partial& p = per_run[u][choice[u]];
      c.choice.tiles.insert(c.choice.tiles.end(), p.tiles.begin(), p.tiles.end());
      c.choice.orders.insert(c.choice.orders.end(), p.orders.begin(), p.orders.end());
      c.choice.units.insert(c.choice.units.end(), p.units.begin(), p.units.end());
      c.choice.params.insert(c.choice.params.end(), p.settings.begin(), p.settings.end());
      parts += p.score;
    }
    const TileProgram program = lower(cascade, arch, with_choice(templ, c.choice));
    c.stats = evaluate_analytical(cascade, arch, program);
    c.score = score_of(c.stats, options.objective);
    if (!program.status.ok || !c.stats.status.ok || std::abs(c.score - parts) > 1e-9 * std::max(1.0, std::abs(parts)))
      return std::pair(parts, c.score);
    r.best.push_back(std::move(c));
  }
  return std::nullopt;
}

}  // namespace

MapResult map_tiles(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& templ, const MapOptions& options) {
  if (has_auto_maps(templ)) throw InternalError("map_tiles: the constraints' spatial: auto is not expanded");
  MapResult r;
  list_searched(r, cascade, templ, options.ragged);
  const OpenSlots open = open_slots(templ);
  check_units(arch, templ, open.units);
  const std::vector<Run> runs = runs_of(templ, open);
  const Run whole = whole_of(templ, open);
  r.space = space_of(r, whole);
  // Latency and energy add over runs, so each run's choices are searched on their own; the energy-delay product
  // does not, so it searches the whole space.
  const auto searched_runs = std::count_if(runs.begin(), runs.end(), [](const Run& run) { return run.searched(); });
  const auto deadline = deadline_of(options);
  // A run with too many shapes to list is searched by descent over its bindings, run by run (for latency, under a
  // time limit); otherwise the constraints must pin more.
  const bool descent = deadline && options.objective == MapObjective::latency && !options.pareto;
  auto too_many_shapes = [&](const Run& run) { return shapes_of(r, run) > kMaxShapes; };
  for (const Run& run : runs)
    if (too_many_shapes(run) && (!descent || run.bto == run.bfrom))
      throw UserError(
          templ.groups[run.first].loc, "unit",
          fmt::format("auto: {:.3g} shapes (a value per setting, a unit per Einsum, an order per list) "
                      "in {}, more than the mapper lists ({:.0f}): pin some Einsums' units or spatial "
                      "maps or some groups' orders{}",
                      shapes_of(r, run),
                      run.last == run.first + 1 ? fmt::format("group '{}'", templ.groups[run.first].name)
                                                : fmt::format("groups '{}' to '{}'", templ.groups[run.first].name,
                                                              templ.groups[run.last - 1].name),
                      kMaxShapes,
                      run.bto == run.bfrom ? ""
                                           : ", or search for latency with --time-limit (descent over "
                                             "the units, without --pareto)"));
  const bool by_run = options.objective != MapObjective::edp &&
                      (searched_runs > 1 || std::any_of(runs.begin(), runs.end(), too_many_shapes));
  double considered = by_run ? 0 : r.space;
  if (by_run)
    for (const Run& run : runs) considered += space_of(r, run);
  if (considered > static_cast<double>(options.space_limit()) && !deadline)
    throw UserError(SourceLoc{templ.file}, "tile",
                    fmt::format("auto: {:.3g} combinations of {}, more than the mapper searches ({}): give some of "
                                "the {} auto tiles a value{}, or search with --time-limit",
                                considered, open.orders.empty() ? "tiles" : "orders and tiles", options.space_limit(),
                                open.tiles.size(), open.orders.empty() ? "" : ", or some groups their loops' order"));

  auto search_whole = [&] {
    r.runs = 1;
    std::vector<Partial> front;
    for (Partial& p :
         search(cascade, arch, templ, open, whole, options, r, options.pareto ? &front : nullptr, deadline))
      r.best.push_back(candidate_of(std::move(p)));
    for (Partial& p : front) r.pareto.push_back(candidate_of(std::move(p)));
    return r;
  };
  if (!by_run) return search_whole();

  r.runs = static_cast<int>(runs.size());
  std::vector<std::vector<Partial>> per_run, fronts(runs.size());
  for (size_t u = 0; u < runs.size(); ++u) {
    const auto its_deadline = share_of(deadline, runs.size() - u);
    if (too_many_shapes(runs[u])) {
      per_run.push_back(descend(cascade, arch, templ, open, u, options, r, *its_deadline));
    } else {
      per_run.push_back(
          search(cascade, arch, templ, open, runs[u], options, r, options.pareto ? &fronts[u] : nullptr, its_deadline));
    }
    if (per_run.back().empty()) return r;  // this run cannot be mapped, so neither can the whole
  }
  // The best combinations of the runs' best, each evaluated whole: its figures are the sum of its runs'.
  if (const NotAdding apart =
          combine_runs(cascade, arch, templ, per_run, options.pareto ? &fronts : nullptr, options, r)) {
    // A figure that does not add over runs: the runs cannot be searched apart, so the whole space is, if it is
    // small enough.
    if (r.space > static_cast<double>(options.space_limit()))
      throw UserError(SourceLoc{templ.file}, "tile",
                      fmt::format("auto: the {} of the runs of groups does not add up to the whole's ({:.6g} "
                                  "apart, {:.6g} together), so the mapper searches every combination at once: "
                                  "{:.3g}, more than it searches ({}); give some of the {} auto tiles a value",
                                  objective_name(options.objective), apart->first, apart->second, r.space,
                                  options.space_limit(), open.tiles.size()));
    MapResult fresh;
    fresh.searched = std::move(r.searched);
    fresh.orders = std::move(r.orders);
    fresh.bindings = std::move(r.bindings);
    fresh.settings = std::move(r.settings);
    fresh.space = r.space;
    r = std::move(fresh);
    return search_whole();
  }
  return r;
}

MapResult map_fused(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& templ, const MapOptions& options,
                    size_t max_fused) {
  const size_t n = templ.groups.size();
  if (max_fused <= 1 || n <= 1) return map_tiles(cascade, arch, templ, options);
  if (options.objective == MapObjective::edp)
    throw UserError(SourceLoc{templ.file}, "--fuse",
                    "the energy-delay product does not add over groups, so fusion is searched for latency or energy "
                    "only: map with --fuse 1");
  // Fused groups' figures add only if the groups run one after another.
  for (const GroupSpec& g : templ.groups)
    if (g.concurrent) throw UserError(g.loc, "concurrent", "fusion is searched on groups that run one after another");
  check_units(arch, templ, binding_slots(templ));
  const auto deadline = deadline_of(options);

  // Each fused group (groups [first, last) of the template, at most max_fused), searched as a run of the mapping
  // that fuses it alone: what it costs does not depend on how the groups around it are fused (what it loads from
  // earlier groups and stores for later ones goes through the backing memory either way).
  struct Segment {
    std::vector<Partial> best, front;
    MapResult certificate;
  };
  std::vector<Segment> segments;
  MapResult r;
  // With a time limit each fused group in turn gets an equal share of the time left; a descent uses half of its
  // share and keeps the other half in reserve for the descents that may improve on the best way to fuse (below).
  std::chrono::steady_clock::duration reserve{0};
  size_t segments_left = 0;  // fused groups still to consider, each with its share of a time limit
  for (size_t last = 1; last <= n; ++last) segments_left += std::min(last, max_fused);
  for (size_t last = 1; last <= n; ++last)
    for (size_t first = last - std::min(last, max_fused); first < last; ++first) {
      std::vector<size_t> sizes(first, 1);
      sizes.push_back(last - first);
      sizes.resize(n - (last - first) + 1, 1);
      auto its_deadline = share_of(deadline ? std::optional(*deadline - reserve) : deadline, segments_left--);
      if (std::string why = unfusable(templ, first, last); !why.empty()) {  // no way to fuse has this run
        r.segments.push_back({first, last, templ.groups[first].name, 0, false, false, std::move(why), {}});
        segments.emplace_back();
        continue;
      }
      const MappingSpec t = fused(templ, sizes);
      Segment s;
      MapResult& c = s.certificate;
      list_searched(c, cascade, t, options.ragged);
      const OpenSlots open = open_slots(t);
      const Run run = runs_of(t, open)[first];
      SearchedSegment info{first, last, t.groups[first].name, space_of(c, run), false, false, "", {}};
      // A time limit lets a group alone be searched past the limit (the way to fuse that leaves every group on its
      // own needs each); a fused one over it is searched by descent over its bindings (for latency, without a
      // front), its space being too large to walk a shape at a time.
      const bool within = shapes_of(c, run) <= kMaxShapes &&
                          (info.space <= static_cast<double>(options.space_limit()) || (deadline && last == first + 1));
      const bool descent = !within && deadline && options.objective == MapObjective::latency && !options.pareto &&
                           run.bto > run.bfrom && std::chrono::steady_clock::now() < *its_deadline;
      if (within || descent) {
        info.searched = true;
        info.descended = descent;
        if (descent) {
          const auto half = (*its_deadline - std::chrono::steady_clock::now()) / 2;
          reserve += half;
          *its_deadline -= half;
        }
        s.best = descent ? descend(cascade, arch, t, open, first, options, c, *its_deadline)
                         : search(cascade, arch, t, open, run, options, c, options.pareto ? &s.front : nullptr,
                                  its_deadline);
        for (int64_t MapResult::*count :
             {&MapResult::combinations, &MapResult::not_dividing, &MapResult::infeasible, &MapResult::evaluated,
              &MapResult::pruned, &MapResult::equivalent, &MapResult::shapes, &MapResult::shapes_searched,
              &MapResult::bindings_descended})
          r.*count += c.*count;
        if (r.first_infeasible_reason.empty()) r.first_infeasible_reason = c.first_infeasible_reason;
        if (!s.best.empty()) info.best = s.best.front().stats;
      }
      r.segments.push_back(std::move(info));
      segments.push_back(std::move(s));
    }

  // The time left goes to the fused groups searched by descent that could still improve on the best way to fuse:
  // those whose lower bound, between the best ways to fuse the groups before and after them, is below that best,
  // most promising (the lowest such sum) first, each descended again, from the start, with its share of the time
  // left. (Equal shares leave a cascade's largest fused groups at their first binding: FuseMax's whole cascade needs
  // about 20 s of descent, one of 78 fused groups at --fuse 12.) A better best replaces the segment's.
  if (deadline && std::chrono::steady_clock::now() < *deadline) {
    std::vector<bool> again(segments.size(), false);
    for (;;) {
      // The best score of the first j groups (ahead) and of groups j.. (behind), over the ways to fuse them.
      const double none = std::numeric_limits<double>::infinity();
      std::vector<double> ahead(n + 1, none), behind(n + 1, none);
      ahead[0] = behind[n] = 0;
      for (size_t k = 0; k < segments.size(); ++k)  // in order of their last group
        if (!segments[k].best.empty())
          ahead[r.segments[k].last] =
              std::min(ahead[r.segments[k].last], ahead[r.segments[k].first] + segments[k].best.front().score);
      for (size_t k = segments.size(); k-- > 0;)  // last group descending: what follows a segment comes first
        if (!segments[k].best.empty())
          behind[r.segments[k].first] =
              std::min(behind[r.segments[k].first], behind[r.segments[k].last] + segments[k].best.front().score);
      // (the best it could lead to, fewer groups fused last, segment): of equal bounds, the larger fused group
      std::vector<std::tuple<double, size_t, size_t>> promising;
      for (size_t k = 0; k < segments.size(); ++k) {
        const SearchedSegment& info = r.segments[k];
        if (!info.descended || again[k]) continue;
        const double could = ahead[info.first] + segments[k].certificate.lower_bound + behind[info.last];
        if (could < ahead[n]) promising.emplace_back(could, n - (info.last - info.first), k);
      }
      if (promising.empty() || std::chrono::steady_clock::now() >= *deadline) break;
      const size_t k = std::get<2>(*std::min_element(promising.begin(), promising.end()));
      again[k] = true;
      SearchedSegment& info = r.segments[k];
      std::vector<size_t> sizes(info.first, 1);
      sizes.push_back(info.last - info.first);
      sizes.resize(n - (info.last - info.first) + 1, 1);
      const MappingSpec t = fused(templ, sizes);
      MapResult c;
      list_searched(c, cascade, t, options.ragged);
      // Half the time left: the most promising gets the most, and the next ones a share. From the start again:
      // going on from the first half's best, which a deadline may have cut inside the first binding's search,
      // moved from a worse place (FuseMax's cascade at --fuse 12 --time-limit 60: 11,479 cycles, from the start
      // 7,926).
      std::vector<Partial> best =
          descend(cascade, arch, t, open_slots(t), info.first, options, c, *share_of(deadline, 2));
      for (int64_t MapResult::*count :
           {&MapResult::combinations, &MapResult::not_dividing, &MapResult::infeasible, &MapResult::evaluated,
            &MapResult::pruned, &MapResult::equivalent, &MapResult::bindings_descended})
        r.*count += c.*count;
      if (!best.empty() && (segments[k].best.empty() || best.front().score < segments[k].best.front().score)) {
        c.lower_bound = std::min(c.lower_bound, segments[k].certificate.lower_bound);
        segments[k].best = std::move(best);
        segments[k].certificate = std::move(c);
        info.best = segments[k].best.front().stats;
      }
    }
  }

  // The best way to fuse the first j groups: the best of the first i's and the segment [i, j), over i (the figures
  // of consecutive runs add). Ties go to the longer last segment. The space and the number of ways to fuse count
  // the segments searched; the lower bound is the least sum of the segments' bounds.
  struct Prefix {
    std::optional<std::pair<double, double>> rank;  // the best's score and secondary objective
    size_t segment = 0;                             // its last segment
    double space = 0, ways = 0, lower_bound = std::numeric_limits<double>::infinity();
    double traffic_floor = std::numeric_limits<double>::infinity();
  };
  std::vector<Prefix> prefix(n + 1);
  prefix[0] = Prefix{std::pair(0.0, 0.0), 0, 1, 1, 0, 0};
  for (size_t k = 0; k < segments.size(); ++k) {
    const SearchedSegment& info = r.segments[k];
    if (!info.searched) continue;
    const Prefix& before = prefix[info.first];
    Prefix& after = prefix[info.last];
    after.space += before.space * info.space;
    after.ways += before.ways;
    after.lower_bound = std::min(after.lower_bound, before.lower_bound + segments[k].certificate.lower_bound);
    after.traffic_floor = std::min(after.traffic_floor, before.traffic_floor + segments[k].certificate.traffic_floor);
    if (!before.rank || segments[k].best.empty()) continue;
    const std::pair<double, double> rank{before.rank->first + segments[k].best.front().score,
                                         before.rank->second + segments[k].best.front().tie_break};
    if (!after.rank || rank < *after.rank) {
      after.rank = rank;
      after.segment = k;
    }
  }
  r.space = prefix[n].space;
  r.ways_to_fuse = prefix[n].ways;
  r.lower_bound = prefix[n].lower_bound;
  r.traffic_floor = std::isinf(prefix[n].traffic_floor) ? 0 : prefix[n].traffic_floor;
  if (!prefix[n].rank) {
    const auto too_large = std::find_if(r.segments.begin(), r.segments.end(),
                                        [](const SearchedSegment& s) { return !s.searched && s.last == s.first + 1; });
    if (too_large != r.segments.end())
      throw UserError(SourceLoc{templ.file}, "tile",
                      fmt::format("auto: group '{}' alone has {:.3g} combinations, more than the mapper searches ({}): "
                                  "search with --time-limit",
                                  too_large->name, too_large->space, options.space_limit()));
    return r;  // nothing feasible: first_infeasible_reason says why
  }
  // The best fusion, its segments' lists of best (and fronts) combined as map_tiles combines runs.
  std::vector<size_t> chosen;  // segment ids, first to last
  for (size_t j = n; j > 0; j = r.segments[chosen.back()].first) chosen.push_back(prefix[j].segment);
  std::reverse(chosen.begin(), chosen.end());
  std::vector<size_t> sizes;
  std::vector<std::vector<Partial>> per_run, fronts;
  for (size_t k : chosen) {
    sizes.push_back(r.segments[k].last - r.segments[k].first);
    per_run.push_back(segments[k].best);
    fronts.push_back(segments[k].front);
  }
  const MappingSpec best = fused(templ, sizes);
  list_searched(r, cascade, best, options.ragged);
  r.runs = static_cast<int>(sizes.size());
  r.fused_groups = sizes;
  if (const NotAdding apart =
          combine_runs(cascade, arch, best, per_run, options.pareto ? &fronts : nullptr, options, r))
    throw UserError(SourceLoc{templ.file}, "--fuse",
                    fmt::format("the {} of the groups does not add up to the whole's ({:.6g} apart, {:.6g} "
                                "together), so fusion cannot be searched group by group: map with --fuse 1",
                                objective_name(options.objective), apart->first, apart->second));
  // As the template's choices: unfused, the template as it is.
  if (sizes.size() < n)
    for (std::vector<MapCandidate>* list : {&r.best, &r.pareto})
      for (MapCandidate& c : *list) c.choice.groups = sizes;
  return r;
}

MappingSpec with_choice(const MappingSpec& unfused, const MapChoice& choice) {
  if (!choice.groups.empty()) {  // the choices are the fused mapping's
    MapChoice rest = choice;
    rest.groups.clear();
    return with_choice(fused(unfused, choice.groups), rest);
  }
  const MappingSpec& templ = unfused;
  const std::vector<LoopAddress> where = auto_loops(templ);
  const std::vector<OrderAddress> slots = order_slots(templ);
  const std::vector<BindingAddress> units = binding_slots(templ);
  if (where.size() != choice.tiles.size() || slots.size() != choice.orders.size() ||
      units.size() != choice.units.size())
    throw UserError(SourceLoc{templ.file}, "tile",
                    fmt::format("auto: {} tiles, {} orders and {} units given for the {} auto tiles, {} lists of "
                                "loops to order and {} Einsums to bind",
                                choice.tiles.size(), choice.orders.size(), choice.units.size(), where.size(),
                                slots.size(), units.size()));
  MappingSpec m = templ;
  for (size_t b = 0; b < units.size(); ++b) {
    if (choice.units[b] >= binding_at(templ, units[b]).unit_choices.size())
      throw UserError(SourceLoc{templ.file}, "unit",
                      fmt::format("auto: unit {} of {} for Einsum {}", choice.units[b],
                                  binding_at(templ, units[b]).unit_choices.size(),
                                  templ.groups[units[b].group].passes[units[b].pass].einsums[units[b].einsum].first));
    bind(m, templ, units[b], choice.units[b]);
  }
  for (size_t k = 0; k < where.size(); ++k) set_tile(loop_at(m, where[k]), choice.tiles[k]);
  const MappingSpec tiled = m;
  for (size_t s = 0; s < slots.size(); ++s) {
    const std::vector<size_t>& perm = choice.orders[s];
    std::vector<size_t> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    bool order = sorted.size() == slots[s].end - slots[s].begin;
    for (size_t i = 0; i < sorted.size() && order; ++i) order = sorted[i] == i;
    if (!order)
      throw UserError(SourceLoc{templ.file}, "order",
                      fmt::format("auto: {} is not an order of {} loops", perm, slots[s].end - slots[s].begin));
    put_in_order(m, tiled, slots[s], perm);
  }
  for (GroupSpec& g : m.groups) g.order_auto = false;
  return choice.params.empty() ? m : with_params(m, choice.params);
}

namespace {

// Everything a constraints file lists values of: its workload params (`M0`), then each group's settings
// (`attention.buffer_stages`), with their values.
std::vector<std::pair<std::string, std::vector<std::string>>> listed_choices(const MappingSpec& templ) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out = templ.param_choices;
  for (const GroupSpec& g : templ.groups)
    for (const auto& [setting, values] : g.setting_choices) out.emplace_back(g.name + "." + setting, values);
  return out;
}

// The group a setting's name ("attention.buffer_stages", "attention.tensors.QK.spill") names before the first dot
// that ends a group's name (the longest such name), and the setting after it; -1 for a workload param (no dot).
int group_of_setting(const MappingSpec& m, const std::string& name, std::string& setting) {
  if (name.find('.') == std::string::npos) return -1;
  int found = -1;
  for (size_t g = 0; g < m.groups.size(); ++g) {
    const std::string& group = m.groups[g].name;
    if (name.size() > group.size() + 1 && name.starts_with(group) && name[group.size()] == '.' &&
        (found < 0 || group.size() > m.groups[static_cast<size_t>(found)].name.size()))
      found = static_cast<int>(g);
  }
  if (found < 0) throw UserError(SourceLoc{m.file}, name, "auto: no group of that name");
  setting = name.substr(m.groups[static_cast<size_t>(found)].name.size() + 1);
  return found;
}

// Whether `m` has `p` pinned already.
bool holds(const MappingSpec& m, const Setting& p) {
  std::string setting;
  const int g = group_of_setting(m, p.first, setting);
  if (g < 0) return std::find(m.params.begin(), m.params.end(), p) != m.params.end();
  const GroupSpec& group = m.groups[static_cast<size_t>(g)];
  if (const std::string tensor = spill_setting_tensor(setting); !tensor.empty())
    return (group.spilled.contains(tensor) ? "true" : "false") == p.second;
  if (setting == "cores") return format_spread(group.cores) == p.second;
  if (setting == "passes") return format_passes(group.passes) == p.second;
  return setting == "pipeline" ? (group.pipeline ? "true" : "false") == p.second
                               : std::to_string(group.buffer_stages) == p.second;
}

}  // namespace

MappingSpec with_params(const MappingSpec& templ, const std::vector<std::pair<std::string, std::string>>& params) {
  MappingSpec m = templ;
  for (const Setting& p : params) {
    const auto listed = listed_choices(m);
    const auto it = std::find_if(listed.begin(), listed.end(), [&](const auto& l) { return l.first == p.first; });
    if (it == listed.end() && holds(m, p)) continue;  // pinned already (a candidate's choice applied again)
    std::string setting;
    const int g = it == listed.end() ? -1 : group_of_setting(m, p.first, setting);
    // `cores: auto` lists its spreads as written; the value chosen is that many of the group's first loops now.
    auto listed_value = [&](const std::string& v) {
      if (setting != "cores") return v == p.second;
      const size_t count = parse_spread(v).size();
      return parse_spread(p.second).size() == count &&
             format_spread(first_loops(m.groups[static_cast<size_t>(g)], count)) == p.second;
    };
    if (it == listed.end() || std::none_of(it->second.begin(), it->second.end(), listed_value))
      throw UserError(templ.params_loc, "params",
                      fmt::format("auto: {}={} is not among the values the constraints list", p.first, p.second));
    if (g < 0) {
      m.params.push_back(p);
      std::erase_if(m.param_choices, [&](const auto& c) { return c.first == p.first; });
    } else {
      pin(m.groups[static_cast<size_t>(g)], setting, p.second);
    }
  }
  return m;
}

std::vector<std::vector<std::pair<std::string, std::string>>> param_combinations(const MappingSpec& templ) {
  std::vector<std::vector<std::pair<std::string, std::string>>> out{{}};
  for (const auto& [name, values] : templ.param_choices) {
    std::vector<std::vector<std::pair<std::string, std::string>>> next;
    for (const auto& combination : out)
      for (const std::string& v : values) {
        next.push_back(combination);
        next.back().emplace_back(name, v);
      }
    out = std::move(next);
  }
  return out;
}

std::string no_feasible_mapping(const MapResult& r) {
  return fmt::format(
      "no feasible mapping among {} combinations of the auto tiles ({} with an inner tile not "
      "dividing its outer one, {} infeasible{})",
      r.combinations, r.not_dividing, r.infeasible,
      r.first_infeasible_reason.empty() ? "" : ": first, " + r.first_infeasible_reason);
}

MapChoice best_choice(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& templ, bool ragged) {
  MapOptions options;
  options.top = 1;
  options.ragged = ragged;
  const MapResult r = map_tiles(cascade, arch, templ, options);
  if (r.best.empty()) throw UserError(SourceLoc{templ.file}, "", no_feasible_mapping(r));
  return r.best.front().choice;
}

bool better(const MapCandidate& a, const MapCandidate& b, MapObjective objective) {
  return std::pair(score_of(a.stats, objective), tie_break_of(a.stats, objective)) <
         std::pair(score_of(b.stats, objective), tie_break_of(b.stats, objective));
}

nlohmann::ordered_json search_json(const MappingSpec& templ, const MapResult& r, const MapOptions& options) {
  using Json = nlohmann::ordered_json;
  Json j;
  j["certificate"] = Json{{"search", !r.complete()         ? "stopped by the time limit"
                                     : !r.segments.empty() ? "exhaustive, fused group by fused group"
                                     : r.runs > 1          ? "exhaustive, run by run"
                                                           : "exhaustive"},
                          {"tiles", options.ragged ? "ragged" : "divisors"},
                          {"runs", r.runs},
                          {"space", r.space},
                          {"combinations", r.combinations},
                          {"not_dividing", r.not_dividing},
                          {"infeasible", r.infeasible},
                          {"evaluated", r.evaluated},
                          {"pruned", r.pruned},
                          {"equivalent", r.equivalent},
                          {"shapes", r.shapes},
                          {"shapes_searched", r.shapes_searched},
                          {"bindings_descended", r.bindings_descended},
                          {"complete", r.complete()}};
  if (!r.segments.empty()) {  // the search of fusion: each fused group considered and what its search found
    Json segments = Json::array();
    for (const SearchedSegment& s : r.segments) {
      Json seg{{"group", s.name}, {"groups", Json::array({s.first + 1, s.last})}, {"space", s.space}};
      if (!s.unfusable.empty())
        seg["unfusable"] = s.unfusable;
      else if (!s.searched)
        seg["searched"] = false;
      else if (s.best)
        seg.update(Json{{"cycles", s.best->cycles}, {"energy_pJ", s.best->energy_pJ}});
      if (s.descended)
        seg["descent"] = true;  // its bindings searched by descent: the best found
      else
        seg["feasible"] = false;
      segments.push_back(seg);
    }
    j["certificate"]["fusion"] =
        Json{{"ways", r.ways_to_fuse}, {"chosen", r.fused_groups}, {"fused_groups", std::move(segments)}};
  }
  if (r.traffic_floor > 0) j["certificate"]["traffic_floor"] = r.traffic_floor;
  if (!r.complete() && !r.best.empty() && !std::isnan(r.lower_bound)) {
    j["certificate"]["lower_bound"] = r.lower_bound;
    j["certificate"]["gap"] = r.best.front().score / r.lower_bound - 1;
  }
  Json searched = Json::array();
  for (const SearchedTile& t : r.searched)
    searched.push_back(Json{{"group", t.group},
                            {"index", t.index},
                            {"level", t.buffer_level ? "buffer" : "backing"},
                            {"values", t.values.size()}});
  j["searched"] = searched;
  Json orders = Json::array();
  for (const SearchedOrder& o : r.orders)
    orders.push_back(Json{{"group", o.group},
                          {"pass", o.pass < 0 ? Json(nullptr) : Json(o.pass + 1)},
                          {"level", o.buffer_level ? "buffer" : "backing"},
                          {"loops", o.indices},
                          {"orders", o.orders.size()}});
  j["searched_orders"] = orders;
  Json bindings = Json::array();
  for (const SearchedBinding& b : r.bindings)
    bindings.push_back(Json{{"group", b.group}, {"einsum", b.einsum}, {"units", b.units}});
  j["searched_units"] = bindings;
  Json settings = Json::array();
  for (const SearchedSetting& g : r.settings)
    settings.push_back(Json{{"group", g.group}, {"setting", g.name}, {"values", g.values}});
  j["searched_settings"] = settings;
  // A candidate's choice, figures and loop nest; the ranked ones with their score.
  auto candidate = [&](const MapCandidate& c, bool ranked) {
    Json order = Json::array();
    for (size_t s = 0; s < r.orders.size(); ++s) {
      std::vector<std::string> indices;
      for (size_t i : c.choice.orders[s]) indices.push_back(r.orders[s].indices[i]);
      order.push_back(indices);
    }
    std::vector<std::string> units;
    for (size_t b = 0; b < r.bindings.size(); ++b) units.push_back(r.bindings[b].units[c.choice.units[b]]);
    Json chosen = Json::object();  // each searched setting's value
    for (const auto& [name, value] : chosen_settings(r, c)) chosen[name] = value;
    Json out{{"tiles", c.choice.tiles}, {"orders", order}, {"units", units}, {"settings", chosen}};
    if (ranked) out["score"] = c.score;
    out["cycles"] = c.stats.cycles;
    out["energy_pJ"] = c.stats.energy_pJ;
    out["bound"] = c.stats.bound;
    out["utilization"] = c.stats.utilization;
    Json traffic = Json::object();
    for (const auto& [memory, t] : c.stats.traffic_bytes) traffic[memory] = Json{{"read", t.read}, {"write", t.write}};
    out["traffic"] = traffic;
    out["loops"] = loop_nest_text(with_choice(templ, c.choice));
    return out;
  };
  Json top = Json::array();
  for (const MapCandidate& c : r.best) top.push_back(candidate(c, true));
  j["top"] = top;
  if (options.pareto) {
    Json front = Json::array();
    for (const MapCandidate& c : r.pareto) front.push_back(candidate(c, false));
    j["pareto"] = front;
  }
  return j;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

nlohmann::ordered_json params_json(const std::vector<std::pair<std::string, std::string>>& params) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [name, value] : params) j[name] = value;
  return j;
}

std::string params_label(const std::string& file, const std::vector<std::pair<std::string, std::string>>& params,
                         bool name_file) {
  std::vector<std::string> parts;
  if (name_file) parts.push_back(file);
  for (const auto& [name, value] : params) parts.push_back(name + "=" + value);
  return fmt::format("{}", fmt::join(parts, " "));
}

ChosenMapping choose_mapping(const SpecInputs& in, SpecCache& specs, int top) {
  // Without a constraints file (in.mapping empty), those unconstrained() makes of each point's workload and arch.
  const bool generated = in.mapping.empty();
  const std::shared_ptr<const MappingSpec> constraints = generated ? nullptr : specs.mapping(in.mapping);
  const std::vector<std::string> files =
      generated || constraints->alternatives.empty() ? std::vector<std::string>{in.mapping} : constraints->alternatives;
  MapOptions options;
  options.top = top;
  options.ragged = in.ragged;
  options.pareto = true;
  std::optional<ChosenMapping> best;
  MapCandidate best_candidate;
  nlohmann::ordered_json best_search;
  std::string reasons;
  nlohmann::ordered_json alternatives = nlohmann::ordered_json::array();
  size_t searched = 0;  // files, each with every combination of the params it lists
  for (const std::string& file : files)
    for (const auto& params : generated ? std::vector<std::vector<std::pair<std::string, std::string>>>{{}}
                                        : param_combinations(*specs.mapping(file))) {
      ++searched;
      SpecInputs a = in;
      a.mapping = file;
      a.choice.params = params;  // the cascade is bound to them
      ResolvedSpecs r;
      try {
        r = specs.resolve(a);
      } catch (const UserError& e) {  // a value the workload refuses (M0 not dividing M) is a choice with no mapping
        if (params.empty()) throw;
        const std::string label = params_label(file, params, files.size() > 1);
        const std::string why = first_line(e.what());  // without the source excerpt under it
        alternatives.push_back({{"constraints", file}, {"params", params_json(params)}, {"no_feasible_mapping", why}});
        reasons += fmt::format("{}{}: {}", reasons.empty() ? "" : "; ", label, why);
        continue;
      }
      const MappingSpec pinned = with_params(*r.mapping, params);
      MapResult result = map_fused(*r.cascade, *r.arch, pinned, options, static_cast<size_t>(in.fuse));
      for (std::vector<MapCandidate>* list : {&result.best, &result.pareto})
        for (MapCandidate& c : *list) c.choice.params.insert(c.choice.params.begin(), params.begin(), params.end());
      const std::string label = params_label(file, params, files.size() > 1);
      alternatives.push_back({{"constraints", file}});
      if (!params.empty()) alternatives.back()["params"] = params_json(params);
      if (result.best.empty()) {
        alternatives.back()["no_feasible_mapping"] = no_feasible_mapping(result);
        reasons += fmt::format("{}{}{}", reasons.empty() ? "" : "; ", label.empty() ? "" : label + ": ",
                               no_feasible_mapping(result));
        continue;
      }
      alternatives.back()["cycles"] = result.best.front().stats.cycles;
      alternatives.back()["energy_pJ"] = result.best.front().stats.energy_pJ;
      if (!best || better(result.best.front(), best_candidate, options.objective)) {
        best_candidate = result.best.front();
        a.choice = best_candidate.choice;
        best_search = nlohmann::ordered_json{{"constraints", in.mapping}, {"chosen", file}, {"objective", "latency"}};
        if (!params.empty()) best_search["params"] = params_json(params);
        best_search.update(search_json(pinned, result, options));
        std::vector<MapChoice> ranked;
        for (const MapCandidate& c : result.best) ranked.push_back(c.choice);
        best = ChosenMapping{std::move(a), "", std::move(ranked)};
      }
    }
  if (!best) throw UserError(SourceLoc{in.mapping}, "", reasons);
  if (searched > 1) best_search["alternatives"] = alternatives;  // each one's best beside the chosen search
  best->search = best_search.dump();
  return *best;
}

ChosenMapping reranked(ChosenMapping chosen, int k,
                       const std::function<std::optional<int64_t>(const SpecInputs&)>& simulate) {
  nlohmann::ordered_json search = nlohmann::ordered_json::parse(chosen.search);
  nlohmann::ordered_json figures = nlohmann::ordered_json::array();
  std::optional<std::pair<int64_t, size_t>> fewest;  // cycles, rank
  for (size_t i = 0; i < std::min(chosen.ranked.size(), static_cast<size_t>(std::max(k, 0))); ++i) {
    SpecInputs candidate = chosen.inputs;
    candidate.choice = chosen.ranked[i];
    candidate.rerank_cycle = 0;
    const std::optional<int64_t> cycles = simulate(candidate);
    figures.push_back(cycles ? nlohmann::ordered_json{{"rank", i + 1}, {"cycle_level_cycles", *cycles}}
                             : nlohmann::ordered_json{{"rank", i + 1}, {"failed", true}});
    if (cycles && (!fewest || *cycles < fewest->first)) fewest = std::pair(*cycles, i);
  }
  search["rerank_cycle"] = figures;
  search["chosen_rank"] = fewest ? fewest->second + 1 : 1;
  if (fewest) chosen.inputs.choice = chosen.ranked[fewest->second];
  chosen.search = search.dump();
  return chosen;
}

std::string mapped_yaml(const std::string& template_file, const std::string& out_file, const MapResult& result,
                        const MapOptions& options, size_t candidate) {
  return mapped_yaml(load_mapping(template_file), "--constraints " + template_file, out_file, result, options,
                     candidate);
}

std::string mapped_yaml(const MappingSpec& templ, const std::string& source, const std::string& out_file,
                        const MapResult& result, const MapOptions& options, size_t candidate) {
  const MapCandidate& chosen = result.best.at(candidate);
  const MappingSpec mapping = with_choice(templ, chosen.choice);
  std::ostringstream out;
  out << fmt::format("# Found by `einsim map {}{}` (objective: {}).\n", source, options.ragged ? " --ragged" : "",
                     objective_name(options.objective));
  const std::string tiles = fmt::format("the {} of the {} tiles left to the mapper",
                                        options.ragged ? "tiles (the smallest for each number of tiles)" : "divisors",
                                        result.searched.size());
  const std::string ordered = result.orders.empty()
                                  ? tiles
                                  : fmt::format("the orders of {} list{} of loops and {}", result.orders.size(),
                                                result.orders.size() == 1 ? "" : "s", tiles);
  std::string space =
      result.bindings.empty() ? ordered : fmt::format("{}, {}", bindings_searched(result.bindings), ordered);
  if (!result.settings.empty()) space = fmt::format("{}, {}", settings_searched(result.settings), space);
  if (!result.segments.empty())
    out << fmt::format(
        "# Fusion searched: {:.6g} ways to fuse the groups, each fused group searched on its own (their times\n"
        "# add); the best fuses them into {} group{}. In all, every combination of\n# {}: ",
        result.ways_to_fuse, result.runs, result.runs == 1 ? "" : "s", space);
  else if (result.runs > 1)
    out << fmt::format("# Each of the {} runs of groups on its own (their times add), every combination of\n# {}: ",
                       result.runs, space);
  else
    out << fmt::format("# Every combination of\n# {}: ", space);
  out << fmt::format("{} in all, {} with an inner tile not dividing its outer one,\n", result.combinations,
                     result.not_dividing);
  if (!result.complete())
    out << fmt::format("# (the time limit stopped the search {}: the best found, not proven optimal)\n",
                       stopped_after(result));
  out << fmt::format("# {} infeasible, {} evaluated analytically{}.\n", result.infeasible, result.evaluated,
                     result.pruned ? fmt::format(", {} pruned (a bound above the best)", result.pruned) : "");
  out << fmt::format(
      "# {}: {} cycles, {:.6g} pJ.\n",
      candidate == 0 ? std::string("The best") : fmt::format("Candidate {} of the analytical ranking", candidate + 1),
      chosen.stats.cycles, chosen.stats.energy_pJ);
  out << mapping_yaml(mapping, out_file);
  return out.str();
}

}  // namespace einsim
