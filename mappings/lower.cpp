#include "mappings/lower.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <optional>

#include "arch/collectives.hpp"
#include "common/units.hpp"
#include "mappings/fold_reads.hpp"
#include "workloads/expr.hpp"
#include "workloads/predicate.hpp"

namespace einsim {
namespace {

// An infeasible design point: unwinds lowering to a status.
struct Infeasible {
  std::string reason;
  bool buffer_too_small = false;  // TileProgram::buffer_too_small
};

class Lowering {
 public:
  Lowering(const Cascade& c, const ArchSpec& a, const MappingSpec& m)
      : c_(c),
        a_(a),
        m_(m),
        guarded_(std::any_of(c.einsums.begin(), c.einsums.end(), [](const Einsum& e) { return e.guard >= 0; })) {}

  // Lowers the groups [first, last) (clamped to the mapping's), after every check of the whole mapping.
  TileProgram run(size_t first, size_t last) {
    if (!m_.param_choices.empty())
      fail(m_.params_loc, "params." + m_.param_choices.front().first,
           "a list leaves the param's value to `einsim map`; model, sim and sweeps need one (einsim map -o writes such "
           "a mapping)");
    for (int g = 0; g < group_count(); ++g)
      if (!group(g).setting_choices.empty())
        fail(group(g).settings_loc, fmt::format("groups[{}].{}", g, group(g).setting_choices.front().first),
             "leaves the group's setting to `einsim map`; model, sim and sweeps need one (einsim map -o writes such a "
             "mapping)");
    for (int g = 0; g < group_count(); ++g)
      if (group(g).order_auto)
        fail(group(g).order_loc, fmt::format("groups[{}].order", g),
             "auto leaves the loops' order to `einsim map`; model, sim and sweeps need them in order (einsim map -o "
             "writes such a mapping)");
    for (int g = 0; g < group_count(); ++g)
      for (const PassSpec& pass : group(g).passes)
        for (const auto& [name, binding] : pass.einsums)
          if (!binding.maps_auto.empty())
            fail(binding.loc, binding.key + ".spatial",
                 "auto leaves the Einsum's spatial map to `einsim map`; model, sim and sweeps need one (einsim map -o "
                 "writes such a mapping)");
          else if (binding.unit == "auto")
            fail(binding.loc, binding.key + ".unit",
                 "auto leaves the Einsum's unit to `einsim map`; model, sim and sweeps need one (einsim map -o writes "
                 "such a mapping)");
    check_memories();
    assign_groups();
    check_concurrent();
    TileProgram p;
    p.backing = m_.backing;
    p.buffer = m_.buffer;
    try {
      for (int g = static_cast<int>(first); g < std::min(group_count(), static_cast<int>(last)); ++g)
        p.groups.push_back(lower_placed(g));
      p.held_shares = held_shares(p);
      p.footprint_bytes = held_bytes(c_, p.held_shares);
      const double capacity = a_.find(m_.backing)->path()->capacity_bytes();
      if (capacity > 0 && static_cast<double>(p.footprint_bytes) > capacity)
        throw Infeasible{fmt::format("the tensors in '{}' need {} on each device ({}), more than its capacity of {}",
                                     m_.backing, format_bytes(static_cast<double>(p.footprint_bytes)),
                                     largest_tensors(p.held_shares), format_bytes(capacity))};
    } catch (const Infeasible& why) {
      p.status = EvalStatus{false, why.reason};
      p.buffer_too_small = why.buffer_too_small;
    }
    return p;
  }

 private:
  // Per tensor, the devices that share it in the backing memory, 0 for those the point does not keep there. It keeps
  // the inputs, the outputs and the intermediates it stores; a tensor that a group spreads over the devices by
  // one of its indices, each device holds its share.
  IdVector<TensorId, int64_t> held_shares(const TileProgram& p) const {
    IdVector<TensorId, char> kept(c_.tensors.size());
    IdVector<TensorId, int64_t> spread(c_.tensors.size(), 1);
    for (TensorId t : c_.tensors.ids()) kept[t] = c_.tensors[t].is_input() || c_.tensors[t].output;
    for (const TileGroup& g : p.groups)
      for (const TileOp& op : g.ops) {
        if (op.kind == TileOp::Kind::store) kept[c_.tensor_id(op.tensor)] = true;
        if (op.kind != TileOp::Kind::compute || g.devices <= 1) continue;
        const Einsum& e = c_.einsums[op.einsum];
        auto split_by = [&](const Access& a) {
          for (const Affine& x : a.index)
            for (auto [v, coef] : x.terms)
              if (e.vars[static_cast<size_t>(v)].name == g.loops[0].index)
                spread[a.tensor] = std::max(spread[a.tensor], g.devices);
        };
        split_by(e.out);
        for (const Access& a : e.reads) split_by(a);
      }
    for (TensorId t : c_.tensors.ids())
      if (!kept[t]) spread[t] = 0;
    return spread;
  }

  // The three largest of them, for a refusal's reason: "KC 8 GiB, VC 8 GiB, WQ 32 MiB".
  std::string largest_tensors(const IdVector<TensorId, int64_t>& shares) const {
    std::vector<std::pair<int64_t, std::string>> sizes;
    for (TensorId t : c_.tensors.ids())
      if (shares[t] > 0) sizes.emplace_back(ceil_div(c_.tensors[t].bytes(), shares[t]), c_.tensors[t].name);
    std::sort(sizes.begin(), sizes.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    std::string out;
    for (size_t i = 0; i < std::min<size_t>(3, sizes.size()); ++i)
      out += fmt::format("{}{} {}", i ? ", " : "", sizes[i].second, format_bytes(static_cast<double>(sizes[i].first)));
    return out;
  }

  // The mapping's groups, by their place in its list (an int, as group_of_ holds them).
  int group_count() const { return static_cast<int>(m_.groups.size()); }
  const GroupSpec& group(int g) const { return m_.groups[static_cast<size_t>(g)]; }

  [[noreturn]] void fail(const SourceLoc& loc, const std::string& key, const std::string& message) const {
    throw UserError(loc.file.empty() ? SourceLoc{m_.file} : loc, key, message);
  }

  void check_memories() const {
    const ComponentSpec* backing = a_.find(m_.backing);
    const ComponentSpec* buffer = a_.find(m_.buffer);
    if (!backing || !backing->path() || !backing->path()->holds_tensors())
      fail({}, "memory.backing", fmt::format("{} has no dram named '{}'", a_.file, m_.backing));
    if (!buffer || !buffer->memory() || !buffer->memory()->stages_tiles())
      fail({}, "memory.buffer", fmt::format("{} has no sram named '{}'", a_.file, m_.buffer));
  }

  // Every Einsum in exactly one group; a group reads only what earlier groups (or itself) produce.
  void assign_groups() {
    group_of_.assign(c_.einsums.size(), -1);
    pass_of_.assign(c_.einsums.size(), -1);
    binding_.assign(c_.einsums.size(), nullptr);
    for (int g = 0; g < group_count(); ++g) {
      for (size_t k = 0; k < group(g).passes.size(); ++k)
        for (const auto& [name, binding] : group(g).passes[k].einsums) {
          EinsumId e;
          for (EinsumId i : c_.einsums.ids())
            if (c_.einsums[i].name == name) e = i;
          if (!e.valid())
            fail(binding.loc, binding.key, fmt::format("the workload {} has no Einsum writing '{}'", c_.file, name));
          if (group_of_[e] >= 0) fail(binding.loc, binding.key, "mapped in two groups");
          group_of_[e] = g;
          pass_of_[e] = static_cast<int>(k);
          binding_[e] = &binding;
        }
    }
    for (EinsumId e : c_.einsums.ids()) {
      if (group_of_[e] < 0)
        fail(m_.groups_loc, "groups", fmt::format("Einsum '{}' of {} is in no group", c_.einsums[e].name, c_.file));
      for (const Access& a : c_.einsums[e].reads)
        for (const EinsumId w : c_.tensors[a.tensor].writers())
          if (group_of_[w] > group_of_[e])
            fail(binding_[e]->loc, binding_[e]->key,
                 fmt::format("reads '{}', which a later group ({}) produces", c_.tensors[a.tensor].name,
                             group(group_of_[w]).name));
    }
    // A tensor written in parts is read either where all its parts are, or from memory in a later group: a group
    // that writes some parts cannot also load the others.
    for (TensorId id : c_.tensors.ids()) {
      const Tensor& t = c_.tensors[id];
      for (EinsumId w : t.pieces) {
        if (group_of_[w] == group_of_[t.pieces[0]]) continue;
        for (EinsumId r : c_.einsums.ids())
          for (const Access& a : c_.einsums[r].reads)
            if (a.tensor == id && (group_of_[r] == group_of_[w] || group_of_[r] == group_of_[t.pieces[0]]))
              fail(binding_[r]->loc, binding_[r]->key,
                   fmt::format("reads '{}' in a group that writes a part of it while another group writes the rest: "
                               "put its parts in one group, or read it in a later one",
                               t.name));
      }
    }
  }

  // Groups that run at the same time must not feed each other.
  void check_concurrent() const {
    for (int g = 1; g < group_count(); ++g) {
      if (!group(g).concurrent) continue;
      int first = g;
      while (group(first).concurrent) --first;
      // A collective moves a tensor once it is complete, and a group reads it once it has moved.
      auto collective_of = [&](int k) -> std::string { return group(k).collective ? group(k).collective->tensor : ""; };
      if (const std::string moved = collective_of(g); !moved.empty())
        if (const TensorId t = c_.tensor_id(moved); t.valid())
          for (const EinsumId w : c_.tensors[t].writers())
            if (group_of_[w] >= first && group_of_[w] < g)
              fail(group(g).loc, "concurrent",
                   fmt::format("collective '{}' moves '{}', which group '{}' it runs with produces", group(g).name,
                               moved, group(group_of_[w]).name));
      for (EinsumId e : c_.einsums.ids()) {
        if (group_of_[e] != g) continue;
        for (const Access& a : c_.einsums[e].reads)
          for (int k = first; k < g; ++k)
            if (collective_of(k) == c_.tensors[a.tensor].name)
              fail(group(g).loc, "concurrent",
                   fmt::format("group '{}' reads '{}', which collective '{}' it runs with moves", group(g).name,
                               c_.tensors[a.tensor].name, group(k).name));
      }
      for (EinsumId e : c_.einsums.ids()) {
        if (group_of_[e] != g) continue;
        for (const Access& a : c_.einsums[e].reads)
          for (const EinsumId w : c_.tensors[a.tensor].writers())
            if (group_of_[w] >= first && group_of_[w] < g)
              fail(group(g).loc, "concurrent",
                   fmt::format("group '{}' reads '{}', which group '{}' it runs with produces", group(g).name,
                               c_.tensors[a.tensor].name, group(group_of_[w]).name));
      }
    }
  }

  // A place a group can run on: a component that computes, holds the group's tiles and is their path from the
  // backing memory's banks (a PIM).
  static bool placeable(const ComponentSpec& c) {
    return c.compute() && c.memory() && c.path() && !c.path()->inside().empty();
  }

  // A group where its mapping places it; `place: auto` lowers it on every candidate (its own units, and each PIM
  // beside the backing memory, if any) and keeps the one with the least roofline time (its own units on a tie).
  TileGroup lower_placed(int g) {
    const GroupSpec& spec = group(g);
    if (spec.collective) return lower_collective(g);
    if (spec.place != "auto") return lower_on(g, spec.place);
    std::vector<std::string> places{""};
    for (const ComponentSpec& c : a_.components)
      if (placeable(c) && c.path()->inside() == m_.backing) places.push_back(c.name);
    std::optional<TileGroup> best;
    double best_s = 0;
    std::vector<PlaceOption> options;
    std::optional<Infeasible> first_failure;
    bool too_small = true;  // every place's buffer too small for the tiles
    for (const std::string& place : places) {
      try {
        TileGroup t = lower_on(g, place);
        options.push_back(option_of(t));
        if (!best || options.back().roofline_s() < best_s) {
          best = std::move(t);
          best_s = options.back().roofline_s();
        }
      } catch (const Infeasible& why) {
        if (!first_failure) first_failure = why;
        too_small = too_small && why.buffer_too_small;
      }
    }
    if (!best) throw Infeasible{first_failure->reason, too_small};
    best->options = std::move(options);
    return *std::move(best);
  }

  TileGroup lower_on(int g, const std::string& place) {
    placed_on_ = nullptr;
    buffer_ = m_.buffer;
    if (!place.empty()) {
      const ComponentSpec* c = a_.find(place);
      if (!c || !placeable(*c))
        fail(group(g).loc, "place",
             fmt::format("{} has no PIM named '{}' (place: a PIM's name, or auto)", a_.file, place));
      if (c->path()->inside() != m_.backing)
        fail(group(g).loc, "place",
             fmt::format("PIM '{}' computes beside '{}', not the mapping's backing memory '{}'", place,
                         c->path()->inside(), m_.backing));
      placed_on_ = c;
      buffer_ = place;
    }
    TileGroup t = lower_group(g);
    t.buffer = buffer_;
    t.place = place;
    t.concurrent = group(g).concurrent;
    spread_over_cores(t, g);
    spread_over_devices(t, g);
    return t;
  }

  // A collective group: its time, link bytes and energy by its algorithm's closed form on the interconnect, for
  // each device's buffer of the tensor's whole size or the bytes the mapping gives.
  TileGroup lower_collective(int g) const {
    const GroupSpec& spec = group(g);
    const CollectiveSpec& cs = *spec.collective;
    const ComponentSpec* link = a_.interconnect();
    if (!link)
      fail(cs.loc, fmt::format("groups[{}].collective", g),
           fmt::format("{} has no interconnect: a collective needs devices to run between", a_.file));
    const Collective op = *parse_collective(cs.op);
    int64_t bytes = 0;
    if (!cs.tensor.empty()) {
      const TensorId t = c_.tensor_id(cs.tensor);
      if (!t.valid())
        fail(cs.loc, fmt::format("groups[{}].collective.tensor", g),
             fmt::format("the workload {} has no tensor '{}'", c_.file, cs.tensor));
      bytes = c_.tensors[t].bytes();
    } else {
      bytes = evaluate_integer(
          parse_expression(cs.bytes),
          [&](const std::string& name) { return param(name, cs.loc, fmt::format("groups[{}].collective.bytes", g)); },
          [&](const std::string& why) { throw Infeasible{fmt::format("collective bytes = {}: {}", cs.bytes, why)}; });
      if (bytes < 0) throw Infeasible{fmt::format("collective bytes = {} is negative ({})", cs.bytes, bytes)};
    }
    const DevicesRole& devices = *link->devices();
    CollectiveCost cost;
    if (cs.algorithm.empty()) {
      cost = fastest_collective(devices, op, static_cast<double>(bytes)).second;
    } else {
      cost = collective_cost(devices, op, *parse_algorithm(cs.algorithm), static_cast<double>(bytes));
      if (!cost.ok) fail(cs.loc, fmt::format("groups[{}].collective.algorithm", g), fmt::format("{}", cost.reason));
    }
    CollectiveRun run;
    run.link = link->name;
    const double cycles = std::ceil(cost.seconds * a_.clock_hz);
    if (!(cycles < 0x1p62)) throw Infeasible{"the collective takes more than 2^62 cycles"};
    run.cycles = static_cast<int64_t>(cycles);
    run.link_bytes = cost.link_bytes;
    run.energy_pJ = cost.energy_pJ;
    TileGroup t;
    t.name = spec.name;
    t.buffer = m_.buffer;
    t.concurrent = spec.concurrent;
    t.devices = devices.count();
    t.buffer_stages = 0;  // it stages no tiles
    t.collective = run;
    return t;
  }

  // On a many-core chip, a group whose tiles sit in a buffer each core has its own of runs on cores: its loads
  // and stores cross a core's port at the port's bandwidth, and all its cores' transfers share the backing
  // memory's (the group takes at least their bytes at that bandwidth). `cores:` spreads the group's outermost loops
  // over the cores as one flattened range, so the busiest core runs ceil(iterations / cores) of them; without it the
  // group runs on one core.
  void spread_over_cores(TileGroup& t, int g) const {
    const GroupSpec& spec = group(g);
    const ComponentSpec* noc = a_.noc();
    if (!noc && spec.cores.empty()) return;
    const std::string key = fmt::format("groups[{}].cores", g);
    if (!noc) fail(spec.cores_loc, key, fmt::format("{} has no noc: it is one core", a_.file));
    if (a_.copies(t.buffer) == 1) {
      if (!spec.cores.empty())
        fail(spec.cores_loc, key,
             fmt::format("group '{}' stages its tiles in '{}', which the cores share: spreading it over the cores "
                         "needs a buffer each core has its own of (the noc's per_core)",
                         spec.name, t.buffer));
      return;
    }
    const CoresRole& cores = *noc->cores();
    if (!spec.devices.empty())
      fail(spec.devices_loc, fmt::format("groups[{}].devices", g),
           fmt::format("group '{}' runs on the cores of a many-core chip: spreading it over devices too is not "
                       "modelled yet",
                       spec.name));
    const auto k = static_cast<int>(spec.cores.size());
    int64_t iterations = 1;
    std::vector<std::string> seen;
    for (int l = 0; l < k; ++l) {
      const bool named = l < t.outer_loops && !t.loops[static_cast<size_t>(l)].buffer_level &&
                         std::count(spec.cores.begin(), spec.cores.end(), t.loops[static_cast<size_t>(l)].index) == 1 &&
                         std::count(seen.begin(), seen.end(), t.loops[static_cast<size_t>(l)].index) == 0;
      if (named) seen.push_back(t.loops[static_cast<size_t>(l)].index);
      if (!named)
        fail(spec.cores_loc, key,
             fmt::format("spreads the group's outermost loops over tiles in '{}': the group's first {} loops "
                         "must be those over {}",
                         m_.backing, k, fmt::join(spec.cores, ", ")));
      if (__builtin_mul_overflow(iterations, t.loops[static_cast<size_t>(l)].trips, &iterations))
        throw Infeasible{"the loops spread over the cores have more than 2^63 iterations"};
    }
    for (const Group& sg : c_.schedule)
      if (!sg.step_var.empty() && group_of_[sg.einsums[0]] == g &&
          std::find(spec.cores.begin(), spec.cores.end(), sg.step_var) != spec.cores.end())
        throw Infeasible{fmt::format(
            "illegal: group '{}' spreads the steps of {}'s recurrence along {} over the cores, but each step needs "
            "the one before it (split the recurrence into parts in the workload, and spread the parts)",
            spec.name, c_.einsums[sg.einsums[0]].name, sg.step_var)};
    // The loads the items share, with the loops their tiles change with: read from the backing memory once a
    // wave (multicast, or through an L2), or once for the whole group where an L2 holds the tensors they share. A
    // load may repeat over a spread loop its tile does not change with (a head's keys, loaded again for each block
    // of its queries, an item each): the items share those tiles too.
    auto tile_varies = [&](const TileOp& op, int l) {
      const std::string& index = t.loops[static_cast<size_t>(l)].index;
      const TensorId tensor = c_.tensor_id(op.tensor);
      for (EinsumId id : c_.einsums.ids()) {  // a split (BK = K) reads it too, with no computation of its own
        if (group_of_[id] != g) continue;
        const Einsum& e = c_.einsums[id];
        for (const Access& a : e.reads)
          if (a.tensor == tensor)
            for (const Affine& x : a.index)
              for (auto [v, coef] : x.terms)
                if (e.vars[static_cast<size_t>(v)].name == index) return true;
      }
      return false;
    };
    std::vector<std::pair<TileOp*, std::vector<int>>> shared;
    double partial_bytes = 0;  // what the NoC's reducers combine
    for (TileOp& op : t.ops) {
      if (op.rate != kRateOne)
        throw Infeasible{
            fmt::format("group '{}': guarded Einsums spread over the cores are not modelled yet", spec.name)};
      // Each iteration spread over the cores is a work item of its own, on whichever core runs it: a tile that
      // several items share is loaded (or stored) by each of them. A store over a loop its Einsum reduces is of
      // each item's partial result, which the NoC's reducers combine (split-K); nothing else reduces across items.
      // A store inside the loop (its tile stored at every iteration, the partial sums going through memory on one
      // core) is of each item's partial all the same: the items run at once, so only the reducers can combine them.
      std::vector<int> repeats = op.repeats;
      int64_t added = 1, partials = 1;
      for (int l = 0; l < k; ++l) {
        const bool repeated = std::find(repeats.begin(), repeats.end(), l) != repeats.end();
        if (!repeated && op.kind == TileOp::Kind::compute)
          throw Infeasible{fmt::format(
              "group '{}': {} combines the work of iterations spread over the cores (it runs once for several of "
              "them): combine them in a later group",
              spec.name, c_.einsums[op.einsum].name)};
        const std::string& index = t.loops[static_cast<size_t>(l)].index;
        if (op.kind == TileOp::Kind::store && reduces_over(op.einsum, index)) {
          const Einsum& e = c_.einsums[op.einsum];
          if (e.reduce != Reduce::sum && e.reduce != Reduce::max)
            throw Infeasible{fmt::format(
                "group '{}' spreads {} over the cores, and {} reduces over it as the NoC's reducers cannot (they "
                "sum and take maxima)",
                spec.name, index, e.name)};
          if (cores.reduce_Bps() <= 0)
            throw Infeasible{fmt::format(
                "illegal: group '{}' spreads {} over the cores, and {} {} over it: each core would store a partial "
                "result over the others' (the noc '{}' has no reducers: give it reduce_bandwidth, or split {} into "
                "parts in the workload and combine {}'s partials in a later group)",
                spec.name, index, e.name, e.reduce == Reduce::max ? "takes the maximum" : "sums", noc->name, index,
                e.name)};
          op.reduced = true;
          partials *= t.loops[static_cast<size_t>(l)].trips;
        }
        if (!repeated) {
          repeats.push_back(l);
          added *= t.loops[static_cast<size_t>(l)].trips;
        }
      }
      std::sort(repeats.begin(), repeats.end());
      if (op.kind == TileOp::Kind::load && op.active_when.empty() && (cores.multicast() || cores.l2_bytes() > 0)) {
        std::vector<int> own;  // the loops its tiles change with, of those it repeats over
        for (int l : op.repeats)
          if (l >= k || tile_varies(op, l)) own.push_back(l);
        if (added > 1 || own.size() < op.repeats.size()) shared.emplace_back(&op, own);
      }
      for (Constraint& c : op.active_when)
        for (auto& [j, coef] : c.expr.terms)
          j = static_cast<int>(std::find(repeats.begin(), repeats.end(), op.repeats[static_cast<size_t>(j)]) -
                               repeats.begin());
      op.repeats = std::move(repeats);
      if (op.runs >= 0) op.runs *= added;
      if (op.reduced) {
        const int64_t n = t.executions(op);
        op.backing_transfers = n / partials;  // each item's partial in, each result out once
        partial_bytes += static_cast<double>(op.bytes) * static_cast<double>(n);
      }
      for (const Constraint& c : op.active_when)
        for (auto [j, coef] : c.expr.terms)
          if (op.repeats[static_cast<size_t>(j)] < k)
            throw Infeasible{fmt::format(
                "group '{}': a where clause skips tiles of {} by an index spread over the cores, which would leave "
                "the cores unevenly loaded: not modelled",
                spec.name, c_.einsums[op.einsum].name)};
      if (op.kind == TileOp::Kind::compute && a_.copies(op.unit) == 1 && k > 0)
        fail(spec.cores_loc, key,
             fmt::format("group '{}' runs {} on '{}', which the cores share: spread only groups whose units each "
                         "core has its own of",
                         spec.name, c_.einsums[op.einsum].name, op.unit));
    }
    // An L2 keeps what the items share while it holds their tensors (what only one item reads streams through it
    // without evicting them): each tile is then read once for every item, as if all ran in one wave.
    std::set<std::string> shared_tensors;
    double shared_bytes = 0;
    for (const auto& [op, own] : shared)
      if (shared_tensors.insert(op->tensor).second)
        shared_bytes += static_cast<double>(c_.tensors[c_.tensor_id(op->tensor)].bytes());
    const bool held = cores.l2_bytes() > 0 && shared_bytes <= cores.l2_bytes();
    for (const auto& [op, own] : shared)
      op->backing_transfers = multicast_reads(t, k, own, held ? iterations : cores.count());
    t.spread_loops = k;
    t.cores = std::min(iterations, cores.count());
    t.spread_trips = ceil_div(iterations, cores.count());
    double bytes = 0, delivered = 0;  // at the backing memory; through the ports (and the mesh)
    for (TileOp& op : t.ops)
      if (op.kind != TileOp::Kind::compute) {
        op.port_Bps = cores.port_Bps();
        op.port_latency = cores.port_latency_cycles() + cores.hops_latency_cycles();
        bytes += static_cast<double>(op.bytes) * static_cast<double>(op.fetched(t.executions(op)));
        delivered += static_cast<double>(op.bytes) * static_cast<double>(t.executions(op));
      }
    t.floors.push_back({m_.backing, "shared_bandwidth", cycles_at(bytes, a_.find(m_.backing)->path_Bps())});
    if (cores.mesh_Bps() > 0) t.floors.push_back({noc->name, "mesh_bandwidth", cycles_at(delivered, cores.mesh_Bps())});
    if (partial_bytes > 0)
      t.floors.push_back({noc->name, "reduce_bandwidth", cycles_at(partial_bytes, cores.reduce_Bps())});
  }

  // Cycles `bytes` take at `Bps`, rounded up.
  int64_t cycles_at(double bytes, double Bps) const {
    return static_cast<int64_t>(std::ceil(bytes * a_.clock_hz / Bps));
  }

  // Whether Einsum `id` reduces over `index` (a variable of its own, absent from its output).
  bool reduces_over(EinsumId id, const std::string& index) const {
    const Einsum& e = c_.einsums[id];
    for (int v : e.reduced)
      if (e.vars[static_cast<size_t>(v)].name == index) return true;
    return false;
  }

  // On a system of devices (an interconnect), `devices: i` splits the group's (outermost) loop over index i into
  // equal contiguous shares, one a device, and runs the shares outside all the group's loops: each device runs
  // the group on its share as one device runs the whole (once per share what sits outside that loop), from its
  // own memory on its own units. Tensor, expert or sequence parallelism; the mapping's collective groups move
  // what the devices must share. Without it the group runs on one device.
  void spread_over_devices(TileGroup& t, int g) const {
    const GroupSpec& spec = group(g);
    if (spec.devices.empty()) return;
    const std::string key = fmt::format("groups[{}].devices", g);
    const DevicesRole* devices = a_.devices();
    if (!devices) fail(spec.devices_loc, key, fmt::format("{} has no interconnect: it is one device", a_.file));
    if (spec.devices.size() != 1)
      fail(spec.devices_loc, key, "spread one index over the devices (the group's outermost loop)");
    int split = 0;  // the loop it splits
    while (split < t.outer_loops && (t.loops[static_cast<size_t>(split)].buffer_level ||
                                     t.loops[static_cast<size_t>(split)].index != spec.devices[0]))
      ++split;
    if (split == t.outer_loops)
      fail(spec.devices_loc, key,
           fmt::format("spreads the group's loop over {} in '{}' over the devices: the group has none (give it one "
                       "in its loops)",
                       spec.devices[0], m_.backing));
    Loop& split_loop = t.loops[static_cast<size_t>(split)];
    for (const Group& sg : c_.schedule)
      if (!sg.step_var.empty() && group_of_[sg.einsums[0]] == g && sg.step_var == spec.devices[0])
        throw Infeasible{fmt::format(
            "illegal: group '{}' spreads the steps of {}'s recurrence along {} over the devices, but each step "
            "needs the one before it",
            spec.name, c_.einsums[sg.einsums[0]].name, sg.step_var)};
    const int64_t trips = split_loop.trips;
    const int64_t used = std::min(trips, devices->count());
    if (trips % used != 0)
      throw Infeasible{
          fmt::format("group '{}': the {} iterations of its loop over {} do not split evenly over {} devices",
                      spec.name, trips, spec.devices[0], used)};
    for (const TileOp& op : t.ops) {
      if (op.rate != kRateOne || !op.active_when.empty())
        throw Infeasible{fmt::format(
            "group '{}': guarded Einsums and where clauses spread over the devices are not modelled yet", spec.name)};
      if (op.kind == TileOp::Kind::compute &&
          std::find(op.repeats.begin(), op.repeats.end(), split) == op.repeats.end())
        throw Infeasible{fmt::format(
            "group '{}': {} combines the work of iterations spread over the devices (it runs once for several of "
            "them): combine them with a collective and a later group",
            spec.name, c_.einsums[op.einsum].name)};
    }
    // The share loop goes outside the group's loops; every op runs on every device.
    Loop share = split_loop;
    share.trips = used;
    share.tile = split_loop.tile * (trips / used);
    split_loop.trips = trips / used;
    t.loops.insert(t.loops.begin(), share);
    ++t.outer_loops;
    for (auto& [begin, end] : t.pass_loops) ++begin, ++end;
    for (TileOp& op : t.ops) {
      ++op.depth;
      for (int& l : op.repeats) ++l;
      op.repeats.insert(op.repeats.begin(), 0);
      if (op.runs >= 0) op.runs *= used;
      if (op.kept_points >= 0) op.kept_points *= used;
    }
    t.spread_loops = 1;
    t.devices = used;
    t.spread_trips = 1;
  }

  // The reads from the backing memory of a load that the spread items share (its tiles change only with the
  // spread loops in `own`, of the first k), when the NoC multicasts or an L2 serves the cores: the cores take the
  // items in waves of `cores`, item n on core n mod cores, and run a wave's items in step, so each tile a wave's
  // items need is read once for all of them (an L2 that holds what they share: one wave of every item, counted in
  // closed form). -1 past 2^22 items in several waves (too many to count; every core's tile is charged a read).
  static int64_t multicast_reads(const TileGroup& t, int k, const std::vector<int>& own, int64_t cores) {
    int64_t items = 1, per_item = 1;
    for (int l = 0; l < k; ++l) items *= t.loops[static_cast<size_t>(l)].trips;
    int64_t distinct = 1;  // the tiles all the items need: one wave of them reads each once
    for (int l : own) (l >= k ? per_item : distinct) *= t.loops[static_cast<size_t>(l)].trips;
    if (cores >= items) return distinct * per_item;
    if (items > (int64_t{1} << 22)) return -1;
    int64_t tiles = 0;
    std::vector<int64_t> wave;
    for (int64_t first = 0; first < items; first += cores) {
      wave.clear();
      for (int64_t n = first; n < std::min(items, first + cores); ++n) {
        int64_t rest = n, tile = 0, scale = 1;  // n's counters, those of the loops it does not repeat over zeroed
        for (int l = k - 1; l >= 0; --l) {
          const int64_t trips = t.loops[static_cast<size_t>(l)].trips;
          if (std::find(own.begin(), own.end(), l) != own.end()) tile += rest % trips * scale;
          rest /= trips;
          scale *= trips;
        }
        wave.push_back(tile);
      }
      std::sort(wave.begin(), wave.end());
      tiles += std::unique(wave.begin(), wave.end()) - wave.begin();
    }
    return tiles * per_item;
  }

  // A lowered group's roofline on its place: ops at the peak of each unit it uses (the busiest bounds it),
  // and the bytes it moves at its path's bandwidth.
  PlaceOption option_of(const TileGroup& t) const {
    PlaceOption o;
    std::map<std::string, double> unit_s;
    std::vector<std::string> names;
    for (const TileOp& op : t.ops) {
      const double n = static_cast<double>(t.executions(op));
      if (op.kind == TileOp::Kind::compute) {
        const ComponentSpec& unit = *a_.find(op.unit);
        const int64_t runs = t.executions(op);
        for (const auto& [kind, count] : op.ops)
          o.ops += static_cast<double>(op.total_ops(count, runs)) * (kind == "mac" ? 2 : 1);
        double& busy = unit_s[op.unit];
        busy = busiest_function_unit(
            *unit.ops(), op.ops,
            [&](int64_t count, int64_t issue) {
              return static_cast<double>(op.total_ops(count, runs) * issue) / unit.op_rate(a_.clock_hz) / a_.clock_hz;
            },
            busy);
        if (std::find(names.begin(), names.end(), op.unit) == names.end()) names.push_back(op.unit);
      } else {
        o.bytes += n * static_cast<double>(op.bytes);
        o.memory_s += n * static_cast<double>(op.bytes) / a_.path(op.from, op.to).path_Bps();
      }
    }
    for (const auto& [unit, secs] : unit_s) o.compute_s = std::max(o.compute_s, secs);
    o.place = t.place.empty() ? fmt::format("{}", fmt::join(names, "+")) : t.place;
    return o;
  }

  // A name in a mapping's expression (at `loc`, key `key`): the system's or the workload's integer param.
  int64_t param(const std::string& name, const SourceLoc& loc, const std::string& key) const {
    if (const std::optional<int64_t> v = system_param(name)) return *v;
    const Param* p = c_.param(name);
    if (!p || !p->integer) fail(loc, key, fmt::format("'{}' is not an integer param of {}", name, c_.file));
    return static_cast<int64_t>(p->value);
  }

  // What a mapping's expressions may name beside the workload's params: `devices`, the system's device count (1
  // without an interconnect), so that a tile can be a device's share (`tile: "KH / devices"`). A workload param
  // of that name comes first.
  std::optional<int64_t> system_param(const std::string& name) const {
    if (name != "devices" || c_.param(name)) return std::nullopt;
    return a_.devices() ? a_.devices()->count() : 1;
  }

  // `enclosing` are the loops around these ones (a pass's loops sit inside its group's). The outermost loop over
  // an index may leave a partial last tile (a ragged tile: 1,000 rows in tiles of 32 are 31 tiles of 32 and one
  // of 8); a loop inside it over the same index divides its tile.
  std::vector<Loop> lower_loops(const std::vector<LoopSpec>& specs, const std::vector<EinsumId>& members,
                                const std::vector<Loop>& enclosing, const GroupSpec& g) {
    std::vector<Loop> loops = enclosing;
    for (const LoopSpec& spec : specs) {
      int64_t extent = 0;
      for (EinsumId e : members) {
        const Einsum& einsum = c_.einsums[e];
        if (const int v = einsum.var_index(spec.index); v >= 0) extent = einsum.vars[static_cast<size_t>(v)].extent;
      }
      if (extent == 0)
        fail(spec.loc, "loops." + spec.index,
             fmt::format("no Einsum of group '{}' has index '{}'", g.name, spec.index));
      const int64_t whole = extent;
      for (const Loop& outer : loops)  // an inner loop over an index splits the outer loop's tile
        if (outer.index == spec.index) extent = outer.tile;
      Loop loop{spec.index, extent, 1, spec.buffer_level};
      if (!spec.tile.empty()) {
        loop.tile = evaluate_integer(
            spec.tile_expr ? *spec.tile_expr : parse_expression(spec.tile),
            [&](const std::string& name) { return param(name, spec.loc, "loops." + spec.index); },
            [&](const std::string& why) {
              // A tile of a device's share says how many devices it was asked to share over.
              const std::optional<int64_t> devices = system_param("devices");
              const bool shares = devices && spec.tile.find("devices") != std::string::npos;
              throw Infeasible{fmt::format("tile of {} = {}: {}{}", spec.index, spec.tile, why,
                                           shares ? fmt::format(" (on {} devices)", *devices) : "")};
            });
        if (loop.tile < 1)
          throw Infeasible{
              fmt::format("tile {} of index {}: a tile holds at least one element", loop.tile, spec.index)};
        if (extent != whole && extent % loop.tile != 0)
          throw Infeasible{fmt::format("tile {} of index {} does not divide the tile of {} around it ({})", loop.tile,
                                       spec.index, spec.index, extent)};
        loop.tile = std::min(loop.tile, extent);
        loop.trips = ceil_div(extent, loop.tile);
        if (extent % loop.tile != 0) ragged_[spec.index] = extent;
      }
      loops.push_back(loop);
    }
    return std::vector<Loop>(loops.begin() + static_cast<std::ptrdiff_t>(enclosing.size()), loops.end());
  }

  // Elements and bytes of the part of a tensor one access touches when each index covers `tile[v]` elements.
  int64_t tile_elements(const Access& a, const std::vector<int64_t>& tile) const {
    const Tensor& t = c_.tensors[a.tensor];
    int64_t n = 1;
    for (size_t r = 0; r < a.index.size(); ++r) {
      int64_t span = 1;
      for (auto [v, coef] : a.index[r].terms) span += std::abs(coef) * (tile[static_cast<size_t>(v)] - 1);
      n *= std::min(span, t.ranks[r].extent);
    }
    return n;
  }

  int64_t tile_bytes(const Access& a, const std::vector<int64_t>& tile) const {
    return bytes_for(c_.tensors[a.tensor].dtype, tile_elements(a, tile));
  }

  // A loop nest as one Einsum sees it: for each loop, the Einsum's index variable it walks (-1: none).
  struct Nest {
    const std::vector<Loop>& loops;
    std::vector<int> var;
  };

  static Nest nest_of(const std::vector<Loop>& loops, const Einsum& e) {
    Nest n{loops, {}};
    for (const Loop& l : loops) n.var.push_back(e.var_index(l.index));
    return n;
  }

  // One past the innermost loop whose index the access (or Einsum) uses and that runs more than once: where the op
  // sits in the nest. A loop of one iteration moves to no other tile, so nothing is fetched or stored again for it:
  // orders that differ only in where such loops sit are one mapping, with the same figures. An op of a pass stays
  // in the pass (the group's `n_outer` loops serve every pass), below its outermost loop over what the op uses. In
  // a group spread over cores or devices every loop counts: its spread loops are work items, however many each
  // runs. Transfers between the backing memory and the buffer only see the backing memory's loops.
  static int depth_of(const Nest& n, const std::vector<int>& vars, size_t n_outer, bool spread,
                      bool backing_only = false) {
    int depth = 0, in_pass = 0;
    for (size_t l = 0; l < n.loops.size(); ++l)
      if (n.var[l] >= 0 && !(backing_only && n.loops[l].buffer_level) &&
          std::find(vars.begin(), vars.end(), n.var[l]) != vars.end()) {
        if (n.loops[l].trips > 1 || spread) depth = static_cast<int>(l) + 1;
        if (l >= n_outer && in_pass == 0) in_pass = static_cast<int>(l) + 1;
      }
    return std::max(depth, in_pass);
  }

  // The elements of each index one execution at `depth` covers: the tile of the innermost loop over it above
  // `depth`, or its whole extent.
  static std::vector<int64_t> tile_at(const Nest& n, const Einsum& e, int depth) {
    std::vector<int64_t> tile(e.vars.size());
    for (size_t v = 0; v < tile.size(); ++v) tile[v] = e.vars[v].extent;
    for (int l = 0; l < depth; ++l)
      if (n.var[static_cast<size_t>(l)] >= 0)
        tile[static_cast<size_t>(n.var[static_cast<size_t>(l)])] = n.loops[static_cast<size_t>(l)].tile;
    return tile;
  }

  static std::vector<int> vars_of(const Access& a) {
    std::vector<int> out;
    for (const Affine& x : a.index)
      for (auto [v, coef] : x.terms) out.push_back(v);
    return out;
  }

  // With `buffer_stages: fit`, the most stages (from kMostStagesFit down) whose tiles fit the buffer: only its
  // footprint depends on them, and a group lowered with fewer stages is the same group but for those.
  // (The mapper lowers such groups by the million: a buffer too small for more stages is not an exception.)
  TileGroup lower_group(int g) {
    if (!group(g).stages_fit) return *lower_group_at(g, group(g).buffer_stages, false);
    for (int stages = kMostStagesFit;; --stages)
      if (std::optional<TileGroup> fits = lower_group_at(g, stages, stages > 1)) return std::move(*fits);
  }

  // Group g with `stages` buffer stages for its tensors (but those the mapping gives their own). nullopt where
  // `fewer_may_fit` and its tiles do not fit the buffer so.
  std::optional<TileGroup> lower_group_at(int g, int stages, bool fewer_may_fit) {
    const GroupSpec& spec = group(g);
    current_group_ = g;
    stages_ = stages;
    std::vector<EinsumId> members;
    for (EinsumId e : c_.einsums.ids())
      if (group_of_[e] == g) members.push_back(e);
    TileGroup out;
    ragged_.clear();
    variants_.clear();
    out.name = spec.name;
    out.pipeline = spec.pipeline;
    out.double_buffer = stages > 1;
    out.buffer_stages = stages;
    check_spilled(g);
    check_bypassed(g);
    const std::vector<Loop> outer = lower_loops(spec.loops, members, {}, spec);
    out.loops = outer;
    out.outer_loops = static_cast<int>(outer.size());

    std::map<std::string, int64_t> resident;  // tensor -> bytes of its tile in the buffer
    // Loads by (tensor, depth). One at the group's own loops serves every pass that reads the tensor: its tile
    // stays resident while the passes run (a buffered query row read by the max pass and the exp pass).
    std::map<std::pair<std::string, int>, size_t> loads;
    for (size_t k = 0; k < spec.passes.size(); ++k) {
      std::vector<EinsumId> in_pass;
      for (const Group& sg : c_.schedule)  // dependency order, so that evaluators can issue ops as listed
        for (EinsumId e : sg.einsums)
          if (group_of_[e] == g && pass_of_[e] == static_cast<int>(k)) in_pass.push_back(e);
      // The pass sees the group's loops then its own; ops name loops by their place in the group's list.
      std::vector<Loop> loops = outer;
      const std::vector<Loop> own = lower_loops(spec.passes[k].loops, in_pass, outer, spec);
      loops.insert(loops.end(), own.begin(), own.end());
      const int offset = static_cast<int>(out.loops.size()) - static_cast<int>(outer.size());
      out.pass_loops.emplace_back(static_cast<int>(out.loops.size()), static_cast<int>(out.loops.size() + own.size()));
      out.loops.insert(out.loops.end(), own.begin(), own.end());
      auto place = [&](TileOp op) {
        for (int& l : op.repeats)
          if (l >= static_cast<int>(outer.size())) l += offset;
        for (auto& [l, stride] : op.guard_terms)
          if (l >= static_cast<int>(outer.size())) l += offset;
        op.pass = static_cast<int>(k);
        out.ops.push_back(std::move(op));
      };
      std::erase_if(loads, [&](const auto& l) { return l.first.second > static_cast<int>(outer.size()); });
      for (EinsumId e : in_pass) lower_einsum(e, g, loops, outer.size(), place, loads, out, resident);
    }
    // A load runs only where some computation needs its tile: masked when every reader is masked alike.
    for (const auto& [index, readers] : consumers_) {
      const bool alike =
          std::all_of(readers.begin(), readers.end(), [&](const auto& r) { return r && *r == *readers[0]; });
      if (!alike) continue;
      TileOp& load = out.ops[index];
      const std::vector<int> repeats = load.repeats;
      std::vector<Constraint> when = *readers[0];
      // Back from the pass's loop positions to the group's (place() moved the load's repeats).
      std::vector<int> pass_repeats = all_above(load.depth);
      for (Constraint& c : when)
        for (auto& [var, k] : c.expr.terms)
          var = repeats[static_cast<size_t>(std::find(pass_repeats.begin(), pass_repeats.end(), var) -
                                            pass_repeats.begin())];
      mask(load, std::move(when), out.loops);
    }
    consumers_.clear();
    // A load only guarded Einsums read, each a guard element a tile, runs where they do (when they share a guard).
    for (const auto& [index, guards] : consumer_guards_)
      if (guards[0] && std::all_of(guards.begin(), guards.end(), [&](const auto& x) { return x == guards[0]; })) {
        TileOp& load = out.ops[index];
        guard(load, *guards[0]);
        const std::vector<int> pass_repeats = all_above(load.depth);  // renumbered as place() did the repeats
        for (auto& [l, stride] : load.guard_terms)
          l = load.repeats[static_cast<size_t>(std::find(pass_repeats.begin(), pass_repeats.end(), l) -
                                               pass_repeats.begin())];
      }
    consumer_guards_.clear();
    mark_reads_through_splits(out);
    check_legality(g, out);
    for (const auto& [name, bytes] : resident) out.buffer_bytes += bytes;
    if (fewer_may_fit && !fits_buffer(out)) return std::nullopt;
    check_buffer(out, resident);
    if (!ragged_.empty()) {
      for (EinsumId e : members)
        if (!c_.einsums[e].where.empty() || c_.einsums[e].guard >= 0)
          throw Infeasible{fmt::format(
              "group '{}': a tile that does not divide its index ({}) with {}'s {}: not modelled yet", spec.name,
              ragged_.begin()->first, c_.einsums[e].name, c_.einsums[e].guard >= 0 ? "guard" : "where clause")};
      if (!spec.cores.empty() || !spec.devices.empty())
        throw Infeasible{fmt::format(
            "group '{}': a tile that does not divide its index ({}) in a group spread over {}: not modelled yet",
            spec.name, ragged_.begin()->first, spec.cores.empty() ? "devices" : "cores")};
      split_ragged(out);
    }
    return out;
  }

  // Of `vars` (Einsum e's), those in which an execution's `tile` is a ragged loop's that leaves a partial last
  // tile: the executions at that last tile are smaller.
  std::vector<int> partial_vars(const Einsum& e, const std::vector<int64_t>& tile, const std::vector<int>& vars) const {
    std::vector<int> out;
    for (int v : vars) {
      const auto found = ragged_.find(e.vars[static_cast<size_t>(v)].name);
      if (found != ragged_.end() && found->second % tile[static_cast<size_t>(v)] != 0 &&
          std::find(out.begin(), out.end(), v) == out.end())
        out.push_back(v);
    }
    return out;
  }

  // What an execution of an op costs that depends on its tile's size, from `from`.
  static void take_cost(TileOp& to, const TileOp& from) {
    to.bytes = from.bytes;
    to.ops = from.ops;
    to.points = from.points;
    to.cycles = from.cycles;
    to.result_latency = from.result_latency;
    to.buffer_read_bytes = from.buffer_read_bytes;
    to.buffer_write_bytes = from.buffer_write_bytes;
  }

  // vary() for a transfer of e's result (its store, or its partial sums loaded back) of tile `stored` over `vars`:
  // each variant moves what its tile holds.
  void vary_result(size_t at, const TileOp& full, const Einsum& e, const std::vector<int64_t>& stored,
                   const std::vector<int>& vars) {
    vary(at, full, e, partial_vars(e, stored, vars), stored, [&](const std::vector<int64_t>& partial) {
      TileOp cost;
      cost.bytes = tile_bytes(e.out, partial);
      return cost;
    });
  }

  // Op `at` costs cost(tile) at each combination of partial last tiles in `vars` of e (from `tile`, the full one).
  // A load that several Einsums read takes the most any of them needs: `full` is what those before need.
  void vary(size_t at, const TileOp& full, const Einsum& e, const std::vector<int>& vars,
            const std::vector<int64_t>& tile, const std::function<TileOp(const std::vector<int64_t>&)>& cost) {
    if (vars.empty() && !variants_.contains(at)) return;
    Variants& was = variants_[at];
    if (was.ops.empty()) was.ops = {full};
    Variants now{was.indices, {}};
    for (int v : vars)
      if (std::find(now.indices.begin(), now.indices.end(), e.vars[static_cast<size_t>(v)].name) == now.indices.end())
        now.indices.push_back(e.vars[static_cast<size_t>(v)].name);
    if (now.indices.size() > 8)
      throw Infeasible{fmt::format("Einsum {} has partial last tiles in {} indices: at most 8 are modelled", e.name,
                                   now.indices.size())};
    now.ops.resize(size_t{1} << now.indices.size());
    for (unsigned mask = 0; mask < now.ops.size(); ++mask) {
      unsigned before = 0;  // the same variant over the indices it had
      std::vector<int64_t> partial = tile;
      for (size_t i = 0; i < now.indices.size(); ++i) {
        if (!(mask >> i & 1)) continue;
        if (i < was.indices.size()) before |= 1u << i;
        for (int v : vars)
          if (e.vars[static_cast<size_t>(v)].name == now.indices[i])
            partial[static_cast<size_t>(v)] = ragged_.at(now.indices[i]) % tile[static_cast<size_t>(v)];
      }
      TileOp& op = now.ops[mask];
      op = was.ops[before];
      const TileOp c = cost(partial);
      if (full.kind == TileOp::Kind::load) {
        op.bytes = std::max(op.bytes, c.bytes);
      } else {
        take_cost(op, c);
      }
    }
    was = std::move(now);
  }

  // The group's ops of ragged loops, each split into a variant a size of its tiles (TileOp::ragged): a variant
  // runs at the executions whose tile in each ragged index it repeats over is full (the counters' tiles up to
  // the index's extent) or the partial last one; an op that sees an index's loops but not its size runs where
  // the tile holds some of the index (past the partial last tile, loops inside it have empty iterations).
  void split_ragged(TileGroup& out) {
    if (ragged_.empty()) return;
    for (Loop& loop : out.loops) loop.ragged = ragged_.contains(loop.index);
    std::vector<TileOp> ops;
    for (size_t i = 0; i < out.ops.size(); ++i) {
      const TileOp& op = out.ops[i];
      const auto found = variants_.find(i);
      const Variants* varies = found == variants_.end() ? nullptr : &found->second;
      // Per ragged index it repeats over: the constraints and executions of its full (0) and partial (1) tiles.
      struct Index {
        int bit = -1;  // in the variants' masks; -1: its size does not change the op's cost
        std::vector<Constraint> when[2];
        int64_t runs[2] = {0, 0};
      };
      std::vector<Index> seen;
      int64_t others = 1;  // executions over the loops of no ragged index
      std::vector<char> counted(op.repeats.size(), 0);
      for (const auto& [name, extent] : ragged_) {
        Affine base;  // the index's first element in the execution's tile
        int64_t trips = 1, tile = 0;
        for (size_t j = 0; j < op.repeats.size(); ++j) {
          const Loop& loop = out.loops[static_cast<size_t>(op.repeats[j])];
          if (loop.index != name) continue;
          base.terms.emplace_back(static_cast<int>(j), loop.tile);
          trips *= loop.trips;
          tile = loop.tile;
          counted[j] = 1;
        }
        if (base.terms.empty()) continue;
        Index x;
        const int64_t full = extent / tile, partial = extent % tile ? 1 : 0;
        if (varies) {
          const auto at = std::find(varies->indices.begin(), varies->indices.end(), name);
          if (at != varies->indices.end()) x.bit = static_cast<int>(at - varies->indices.begin());
        }
        auto at_most = [&](int64_t last) {  // base <= last
          Affine a = base;
          a.constant = -last;
          return Constraint{a};
        };
        auto at_least = [&](int64_t first) {  // base >= first
          Affine a;
          for (auto [j, k] : base.terms) a.terms.emplace_back(j, -k);
          a.constant = first;
          return Constraint{a};
        };
        if (x.bit >= 0) {
          x.when[0] = {at_most(extent - tile)};
          x.runs[0] = full;
          x.when[1] = {at_most(extent - extent % tile), at_least(extent - extent % tile)};
          x.runs[1] = partial;
        } else if (trips > full + partial) {
          x.when[0] = {at_most(extent - 1)};
          x.runs[0] = full + partial;
        } else {
          x.runs[0] = trips;
        }
        seen.push_back(std::move(x));
      }
      for (size_t j = 0; j < op.repeats.size(); ++j)
        if (!counted[j]) others *= out.loops[static_cast<size_t>(op.repeats[j])].trips;
      if (seen.empty()) {
        ops.push_back(op);
        continue;
      }
      const size_t masks = varies ? varies->ops.size() : 1;
      for (unsigned mask = 0; mask < masks; ++mask) {
        TileOp v = op;
        if (varies) take_cost(v, varies->ops[mask]);
        v.ragged = true;
        v.partial = mask != 0;
        v.runs = others;
        for (const Index& x : seen) {
          const int part = x.bit >= 0 ? static_cast<int>(mask >> x.bit & 1) : 0;
          v.active_when.insert(v.active_when.end(), x.when[part].begin(), x.when[part].end());
          v.runs *= x.runs[part];
        }
        if (v.runs > 0) ops.push_back(std::move(v));
      }
    }
    out.ops = std::move(ops);
  }

  // Legality: an Einsum may read an element only once the Einsum that writes it has finished writing it. The
  // evaluators cost whatever loop order they are given, so without this a mapping could read partial results and
  // come out faster than any correct schedule (a one-pass mapping of the 3-pass softmax, reading the max over m
  // at the first tile of m), and a mapper would pick it. What is refused:
  // - a read of a tensor some loop of the group still has to finish: a loop with more than one iteration over an
  //   index its writer reduces (or over the step of a recurrence whose element it reads other than at the step
  //   just written), when that loop also runs the reader. A loop runs an Einsum when it walks one of the
  //   Einsum's indices; an Einsum it does not run goes after it, so its result is itself only complete once the
  //   loop ends (MS = SS / D waits for SS's sum over d, and so does Y, which reads MS). Separate passes
  //   (each a new traversal with its own loops) or groups (through the backing memory) order them instead.
  // - a read of what a later pass writes;
  // - a recurrence whose steps run at once: its step index spread over a unit's PEs or lanes, or several steps
  //   per execution when one of its Einsums reads a lagged element that an Einsum after it in the step writes.
  // A recurrence read at the step just written (SLN reads RM[m1+1] in step m1) is complete: LM reduces m0 inside
  // the step, and the loop over m1 is not a reduction of anything.
  void check_legality(int g, const TileGroup& out) const {
    // Why a tensor is not complete until a loop ends: the Einsum still reducing (or stepping) along `index`.
    struct Unfinished {
      size_t loop;
      EinsumId writer;
      std::string index;
      bool recurrence;
    };
    std::map<TensorId, std::vector<Unfinished>> unfinished;
    auto in_nest = [&](size_t l, EinsumId e) {
      const auto [begin, end] = out.pass_loops[static_cast<size_t>(pass_of_[e])];
      return l < static_cast<size_t>(out.outer_loops) ||
             (l >= static_cast<size_t>(begin) && l < static_cast<size_t>(end));
    };
    // The elements of index `name` one execution of `e` covers: the innermost loop's tile over it, or all.
    auto tile_of = [&](EinsumId e, const std::string& name) {
      const Einsum& x = c_.einsums[e];
      int64_t tile = x.vars[static_cast<size_t>(x.var_index(name))].extent;
      for (size_t l = 0; l < out.loops.size(); ++l)
        if (in_nest(l, e) && out.loops[l].index == name) tile = out.loops[l].tile;
      return tile;
    };
    for (const Group& sg : c_.schedule) {
      const bool recurrence = !sg.step_var.empty() && group_of_[sg.einsums[0]] == g;
      for (size_t i = 0; recurrence && i < sg.einsums.size(); ++i) {
        const EinsumId e = sg.einsums[i];
        const std::string& unit = unit_of(e);
        const ComponentSpec* u = unit.empty() ? nullptr : a_.find(unit);
        const int64_t steps = tile_of(e, sg.step_var);
        if (steps > 1 && u && u->compute() && u->compute()->maps_spatially())
          for (const auto& [dim, index] : binding_[e]->spatial)
            if (index == sg.step_var)
              throw Infeasible{fmt::format(
                  "illegal: Einsum {} spreads {} steps of its recurrence along {} over {}'s {}, but each step needs "
                  "the one before",
                  c_.einsums[e].name, steps, sg.step_var, unit, dim)};
        for (const Access& a : c_.einsums[e].reads) {
          const auto w = std::find(sg.einsums.begin(), sg.einsums.end(), c_.tensors[a.tensor].writer);
          if (steps > 1 && w != sg.einsums.end() && w > sg.einsums.begin() + static_cast<std::ptrdiff_t>(i))
            throw Infeasible{fmt::format(
                "illegal: Einsum {} reads {} of an earlier step along {} that Einsum {} writes after it in each step, "
                "but each execution runs {} steps of {} at once (walk {} one step at a time)",
                c_.einsums[e].name, c_.tensors[a.tensor].name, sg.step_var, c_.einsums[*w].name, steps,
                c_.einsums[e].name, sg.step_var)};
        }
      }
      for (EinsumId e : sg.einsums) {
        if (group_of_[e] != g) continue;
        const Einsum& x = c_.einsums[e];
        std::vector<Unfinished> mine;
        for (const Access& a : x.reads) {
          const Tensor& t = c_.tensors[a.tensor];
          const EinsumId w = t.writer;
          if (!w.valid() || group_of_[w] != g) continue;
          if (pass_of_[w] > pass_of_[e])
            throw Infeasible{
                fmt::format("illegal: Einsum {} (pass {}) reads {}, which Einsum {} writes in a later pass ({})",
                            x.name, pass_of_[e] + 1, t.name, c_.einsums[w].name, pass_of_[w] + 1)};
          std::vector<Unfinished> pending = unfinished[a.tensor];
          if (t.iterative_rank >= 0 && std::find(sg.einsums.begin(), sg.einsums.end(), w) == sg.einsums.end()) {
            // A recurrence read from outside it: complete within a step at the step's own element or an earlier one.
            const Einsum& writer = c_.einsums[w];
            const Affine& wa = writer.out.index[static_cast<size_t>(t.iterative_rank)];
            const std::string& step = writer.vars[static_cast<size_t>(wa.terms[0].first)].name;
            const Affine& ra = a.index[static_cast<size_t>(t.iterative_rank)];
            const int v = x.var_index(step);
            if (!(v >= 0 && ra.terms.size() == 1 && ra.coefficient(v) == 1 && ra.constant <= wa.constant))
              for (size_t l = 0; l < out.loops.size(); ++l)
                if (in_nest(l, w) && out.loops[l].index == step && out.loops[l].trips > 1)
                  pending.push_back({l, w, step, true});
          }
          for (const Unfinished& u : pending) {
            if (!in_nest(u.loop, e)) continue;  // the loop ended with an earlier pass
            const Loop& loop = out.loops[u.loop];
            if (x.var_index(loop.index) < 0) {
              mine.push_back(u);  // e runs after the loop, so what it writes waits for the loop too
              continue;
            }
            const std::string& writer = c_.einsums[u.writer].name;
            throw Infeasible{fmt::format(
                "illegal: Einsum {} reads {}{} before Einsum {} has finished {} {}: one loop over {} ({} "
                "iterations) runs both, so it would read partial results (give them separate passes over {})",
                x.name, t.name, writer == t.name ? "" : fmt::format(", which needs {},", writer), writer,
                u.recurrence ? "its recurrence along" : "reducing it over", u.index, loop.index, loop.trips,
                loop.index)};
          }
        }
        for (int r : x.reduced)
          for (size_t l = 0; l < out.loops.size(); ++l)
            if (in_nest(l, e) && out.loops[l].index == x.vars[static_cast<size_t>(r)].name && out.loops[l].trips > 1)
              mine.push_back({l, e, out.loops[l].index, false});
        unfinished[x.out.tensor] = std::move(mine);
      }
    }
  }

  void lower_einsum(EinsumId e, int g, const std::vector<Loop>& loops, size_t n_outer,
                    const std::function<void(TileOp)>& place, std::map<std::pair<std::string, int>, size_t>& loads,
                    TileGroup& out, std::map<std::string, int64_t>& resident) {
    const GroupSpec& spec = group(g);
    const Einsum& einsum = c_.einsums[e];
    std::vector<int> all(einsum.vars.size());
    for (size_t v = 0; v < all.size(); ++v) all[v] = static_cast<int>(v);
    const Nest nest = nest_of(loops, einsum);
    const bool spread = !spec.cores.empty() || !spec.devices.empty();
    const int depth = depth_of(nest, all, n_outer, spread);
    const std::vector<int64_t> tile = tile_at(nest, einsum, depth);
    const EinsumBinding& binding = *binding_.at(e);

    // Data from outside the group comes in through the buffer, and so does what an earlier pass spilled; a split
    // only renames what it reads.
    for (const Access& a : einsum.reads) {
      const Tensor& t = c_.tensors[a.tensor];
      const bool reloaded = spilled(a.tensor, g) && pass_of_[t.writer] < pass_of_[e];
      if (t.writer.valid() && group_of_[t.writer] == g && !reloaded) {
        // The earlier steps a read reaches stay in the buffer: every row of L before r that L[s] where s < r reads.
        if (a.earlier_step) resident[t.name] = std::max(resident[t.name], tile_bytes(a, tile));
        continue;
      }
      // A bypassing input comes to the unit for every tile it computes; any other when its own tile changes.
      const bool bypass = bypassed(a.tensor, g);
      const int d = bypass ? depth : depth_of(nest, vars_of(a), n_outer, spread, true);
      if (reloaded && d <= static_cast<int>(n_outer))
        fail(spec.spilled.at(t.name), fmt::format("tensors.{}.spill", t.name),
             fmt::format("Einsum {} would load all of the spilled {} at the group's loops, before the pass that "
                         "computes it has run: give its pass a loop over an index of {} in '{}'",
                         einsum.name, t.name, t.name, m_.backing));
      const std::vector<int64_t> loaded = tile_at(nest, einsum, d);
      const int64_t bytes = tile_bytes(a, loaded);
      const auto found = loads.find({t.name, d});
      TileOp earlier;  // what the Einsums before this one need of the load
      earlier.kind = TileOp::Kind::load;
      if (found != loads.end()) earlier.bytes = out.ops[found->second].bytes;
      if (found == loads.end()) {
        TileOp op;
        op.kind = TileOp::Kind::load;
        op.depth = d;
        op.repeats = all_above(d);  // a tile is fetched again whenever any loop above it moves on
        op.tensor = t.name;
        op.from = m_.backing;
        op.to = buffer_;
        op.bytes = bytes;
        op.bypass = bypass;
        loads[{t.name, d}] = out.ops.size();
        place(std::move(op));
      } else {
        out.ops[found->second].bytes = std::max(out.ops[found->second].bytes, bytes);
      }
      vary(loads[{t.name, d}], earlier, einsum, partial_vars(einsum, loaded, vars_of(a)), loaded,
           [&](const std::vector<int64_t>& partial) {
             TileOp op;
             op.bytes = tile_bytes(a, partial);
             return op;
           });
      consumers_[loads[{t.name, d}]].push_back(needed_when(e, g, loops, d));
      if (guarded_) {
        const bool guard = &a == einsum.reads.data() + einsum.guard;  // the guard itself: every row of it
        consumer_guards_[loads[{t.name, d}]].push_back(guard ? std::nullopt : guarding(einsum, nest, d));
      }
      const int stages = stages_of(spec, t.name);
      out.ops[loads[{t.name, d}]].stages = stages;
      if (!bypass) resident[t.name] = std::max(resident[t.name], bytes * stages);
    }
    // Partial sums through the backing memory: a loop outside the stored result's loops over an index the Einsum
    // sums (or takes the maximum) over stores the result at every iteration of it, so every iteration after the
    // first loads the partial sums back before the computation adds to them (Timeloop's read-modify-write of
    // partial sums). A loop spread over the cores or devices is not such a loop (each item stores its own partial,
    // which the network's reducers combine), nor is a recurrence's step loop.
    const bool bypass = bypassed(einsum.out.tensor, g);
    const bool stores = needed_later(e, g) || spilled(einsum.out.tensor, g);
    const std::vector<int> out_vars = stores ? stored_vars(e, g) : std::vector<int>{};
    // A result is stored below the innermost loop over what it covers in the backing memory (bypassing the buffer,
    // in any memory: each tile goes out as the unit computes it, so it must be complete by then), a tile of what
    // that loop's tiles cover (only the last step of a recurrence whose readers read only that).
    const int store_at = stores ? depth_of(nest, out_vars, n_outer, spread, !bypass) : 0;
    std::vector<int64_t> stored;
    if (stores) {
      stored = tile_at(nest, einsum, store_at);
      if (const int step = final_step_only(e, g); step >= 0) stored[static_cast<size_t>(step)] = 1;
    }
    const std::vector<int> through = stores ? partial_sum_loops(e, g, nest, store_at) : std::vector<int>{};
    if (!through.empty()) {
      const std::string& index = nest.loops[static_cast<size_t>(through.front())].index;
      if (bypass || !einsum.where.empty() || einsum.guard >= 0)
        throw Infeasible{fmt::format(
            "Einsum {} sums over {}, whose loop in '{}' is outside those over its result's indices, and its partial "
            "sums would go through '{}' and back: not modelled for a result that bypasses the buffer nor for an "
            "Einsum with a where clause or a guard (put the loops over {} inside)",
            einsum.name, index, m_.backing, m_.backing, index)};
      TileOp op;
      op.kind = TileOp::Kind::load;
      op.depth = store_at;
      op.repeats = all_above(op.depth);
      op.einsum = e;
      op.tensor = c_.tensors[einsum.out.tensor].name;
      op.from = m_.backing;
      op.to = buffer_;
      op.bytes = tile_bytes(einsum.out, stored);
      op.stages = stages_of(spec, op.tensor);
      resident[op.tensor] = std::max(resident[op.tensor], op.bytes * op.stages);
      Affine after_first{1, {}};  // 1 - (the sum of those loops' counters) <= 0: one of them past its first iteration
      for (int l : through) after_first.terms.emplace_back(l, -1);
      mask(op, {Constraint{after_first, false}}, loops);
      op.partial_sum_loops = through;  // positions in repeats too: repeats are the loops above the store, in order
      vary_result(out.ops.size(), op, einsum, stored, out_vars);
      place(std::move(op));
    }
    // Ops are listed in the order they can run: loads, the computation, then its store.
    if (!binding.unit.empty() || !einsum_ops(einsum).empty()) {
      TileOp op = compute(einsum, e, binding, nest, depth, tile);
      op.reads_through = read_through_gathers(e, g);
      op.accumulates = !through.empty();
      if (!einsum.where.empty()) {
        mask(op, active_when(einsum, nest, depth), loops);
        op.kept_points = einsum.points();
      }
      if (einsum.guard >= 0) {
        const std::optional<Guarding> at = guarding(einsum, nest, depth);
        if (!at)
          throw Infeasible{fmt::format(
              "Einsum {} is guarded by {}: each of its tiles must hold one element of the guard (tile {} by 1)",
              einsum.name, c_.tensors[einsum.reads[static_cast<size_t>(einsum.guard)].tensor].name,
              guard_vars(einsum))};
        guard(op, *at);
      }
      vary(out.ops.size(), op, einsum, partial_vars(einsum, tile, all), tile,
           [&](const std::vector<int64_t>& partial) { return compute(einsum, e, binding, nest, depth, partial); });
      place(std::move(op));
    }
    const Tensor& result = c_.tensors[einsum.out.tensor];
    // Kept for a later pass, the whole tile the group's own loops cover stays in the buffer, unless it takes the
    // place of a kept input it is the last to read (and then so do its tiles).
    const bool kept = read_in_later_pass(e, g) && !spilled(einsum.out.tensor, g);
    const int64_t block = kept ? tile_bytes(einsum.out, tile_at(nest, einsum, static_cast<int>(n_outer))) : 0;
    const bool in_place = kept && overwrites_input(e, g, block, nest, static_cast<int>(n_outer));
    if (!unit_of(e).empty() && !in_place && !bypass)
      resident[result.name] = std::max(resident[result.name], tile_bytes(einsum.out, tile));
    if (kept && !in_place) resident[result.name] = std::max(resident[result.name], block);
    if (result.iterative_rank >= 0) {
      // A recurrence's state (this step's and the last) stays for every tile the loops inside its step loop visit.
      const std::string& step =
          einsum.vars[static_cast<size_t>(einsum.out.index[static_cast<size_t>(result.iterative_rank)].terms[0].first)]
              .name;
      for (size_t l = 0; l < loops.size(); ++l)
        if (loops[l].index == step)
          resident[result.name] = std::max(resident[result.name],
                                           2 * tile_bytes(einsum.out, tile_at(nest, einsum, static_cast<int>(l) + 1)));
    }
    if (stores) {
      TileOp op;
      op.kind = TileOp::Kind::store;
      op.depth = store_at;
      if (bypass)
        for (int l = op.depth; l < depth; ++l)
          if (nest.var[static_cast<size_t>(l)] >= 0 && nest.loops[static_cast<size_t>(l)].trips > 1)
            throw Infeasible{fmt::format(
                "Einsum {} adds up its tiles of {} over the loops inside '{}', so {} cannot bypass the buffer: its "
                "partial results need it",
                einsum.name, result.name, nest.loops[static_cast<size_t>(l)].index, result.name)};
      if (spilled(einsum.out.tensor, g) && op.depth <= static_cast<int>(n_outer))
        fail(spec.spilled.at(result.name), fmt::format("tensors.{}.spill", result.name),
             fmt::format("Einsum {} would store the spilled {} once all of the group's block is computed: give "
                         "its pass a loop over an index of {} in '{}', so that it is stored tile by tile",
                         einsum.name, result.name, result.name, m_.backing));
      // Like its computation, the store repeats over the loops over the Einsum's own indices only: over another
      // index (a loop of another Einsum of the group, the step of a recurrence it reads the last of) the tile
      // stays what it is, computed once, after them, and stored once then.
      for (int l = 0; l < op.depth; ++l)
        if (nest.var[static_cast<size_t>(l)] >= 0) op.repeats.push_back(l);
      op.einsum = e;
      op.tensor = result.name;
      op.from = buffer_;
      op.to = m_.backing;
      op.bytes = tile_bytes(einsum.out, stored);
      op.bypass = bypass;
      if (bypass) op.stages = stages_of(spec, result.name);  // the tiles its unit holds while they wait
      if (!bypass)  // assembled in the buffer before the store
        resident[result.name] = std::max(resident[result.name], op.bytes);
      if (!einsum.where.empty()) mask(op, active_when(einsum, nest, op.depth), loops);  // nothing to store
      if (const auto at = guarding(einsum, nest, op.depth)) guard(op, *at);             // nor where the guard is zero
      vary_result(out.ops.size(), op, einsum, stored, out_vars);
      place(std::move(op));
    }
  }

  // Where an op of guarded Einsum e at `depth` of `nest` runs: its tile's guard element is the sum of its loops'
  // counters times their tile and the guard's stride. nullopt when e has no guard, or a tile there holds more than
  // one element of it.
  struct Guarding {
    int64_t rate = kRateOne;
    int64_t elements = 1;
    std::vector<std::pair<int, int64_t>> terms;  // (loop position in the nest, stride)
    bool operator==(const Guarding&) const = default;
  };
  std::optional<Guarding> guarding(const Einsum& e, const Nest& nest, int depth) const {
    if (e.guard < 0) return std::nullopt;
    const Access& g = e.reads[static_cast<size_t>(e.guard)];
    const std::vector<int64_t> tile = tile_at(nest, e, depth);
    const std::vector<int64_t> strides = c_.tensors[g.tensor].strides();
    Guarding out{e.guard_rate, e.guard_elements, {}};
    for (size_t r = 0; r < g.index.size(); ++r) {
      const int v = g.index[r].bare_var();
      if (tile[static_cast<size_t>(v)] != 1) return std::nullopt;
      for (int l = 0; l < depth; ++l)
        if (nest.var[static_cast<size_t>(l)] == v)
          out.terms.emplace_back(l, nest.loops[static_cast<size_t>(l)].tile * strides[r]);
    }
    return out;
  }

  static void guard(TileOp& op, const Guarding& g) {
    op.rate = g.rate;
    op.guard_elements = g.elements;
    op.guard_terms = g.terms;
  }

  std::string guard_vars(const Einsum& e) const {
    std::string out;
    for (const Affine& a : e.reads[static_cast<size_t>(e.guard)].index)
      out += (out.empty() ? "" : ", ") + e.vars[static_cast<size_t>(a.bare_var())].name;
    return out;
  }

  // When an execution at `depth` (repeating over every loop above it) holds a point of e's where clause. It
  // covers [base_v, base_v + tile_v - 1] of each index v, base_v being the sum of the counters of v's loops
  // times their tiles; a constraint sum(c_v x_v) + k <= 0 holds somewhere in that box when its least value
  // there is <= 0 (an equality: least <= 0 <= greatest), which is affine in the counters. Each constraint is
  // tested on its own, so with several a tile may run that holds no point of all (it then computes nothing).
  // Variable j of the result is the counter of loop j; empty (always) when the numbers would overflow.
  std::vector<Constraint> active_when(const Einsum& e, const Nest& nest, int depth) const {
    const std::vector<int64_t> tile = tile_at(nest, e, depth);
    std::vector<Constraint> out;
    for (const Constraint& c : e.where) {
      Affine least, most;
      bool overflow = false;
      least.constant = most.constant = c.expr.constant;
      for (auto [v, k] : c.expr.terms) {
        int64_t span = 0;
        overflow |= __builtin_mul_overflow(k, tile[static_cast<size_t>(v)] - 1, &span);
        overflow |= __builtin_add_overflow(k < 0 ? least.constant : most.constant, span,
                                           k < 0 ? &least.constant : &most.constant);
      }
      for (int l = 0; l < depth; ++l) {
        const int v = nest.var[static_cast<size_t>(l)];
        if (v < 0) continue;
        int64_t k = 0;
        overflow |= __builtin_mul_overflow(c.expr.coefficient(v), nest.loops[static_cast<size_t>(l)].tile, &k);
        if (k != 0) least.terms.emplace_back(l, k), most.terms.emplace_back(l, -k);
      }
      if (overflow) return {};
      out.push_back(Constraint{least, false});
      if (c.equal) {
        most.constant = -most.constant;
        out.push_back(Constraint{most, false});
      }
    }
    return out;
  }

  // The executions at `depth` of `loops` in which e's result is needed: those its where clause leaves; for a
  // split, which computes nothing, those its readers in the group and pass need (a load of K for BK[m1,m0] =
  // K[m1*M0+m0] serves BQK's where clause). nullopt: every execution (no where clause, a reader elsewhere, or
  // readers whose clauses differ).
  std::optional<std::vector<Constraint>> needed_when(EinsumId e, int g, const std::vector<Loop>& loops,
                                                     int depth) const {
    const Einsum& einsum = c_.einsums[e];
    if (!einsum.where.empty()) return active_when(einsum, nest_of(loops, einsum), depth);
    if (!binding_.at(e)->unit.empty() || !einsum_ops(einsum).empty() || needed_later(e, g)) return std::nullopt;
    std::optional<std::vector<Constraint>> common;
    bool any = false;
    for (EinsumId r : c_.einsums.ids())
      for (const Access& a : c_.einsums[r].reads) {
        if (a.tensor != einsum.out.tensor) continue;
        if (r == e || group_of_[r] != g || pass_of_[r] != pass_of_[e]) return std::nullopt;
        std::optional<std::vector<Constraint>> when = needed_when(r, g, loops, depth);
        if (!when || (any && *when != *common)) return std::nullopt;
        common = std::move(when);
        any = true;
      }
    return common;
  }

  // Restricts an op to the executions where `when` (over loop positions) holds: its constraints renumbered over
  // its repeats, and the count of those that run. A mask too tangled to count is dropped (every tile runs).
  static void mask(TileOp& op, std::vector<Constraint> when, const std::vector<Loop>& loops) {
    std::vector<int64_t> trips;
    for (int l : op.repeats) trips.push_back(loops[static_cast<size_t>(l)].trips);
    for (Constraint& c : when)
      for (auto& [var, k] : c.expr.terms) {
        const auto at = std::find(op.repeats.begin(), op.repeats.end(), var);
        if (at == op.repeats.end()) return;  // a loop it does not repeat over: not a mask of its executions
        var = static_cast<int>(at - op.repeats.begin());
      }
    const std::optional<int64_t> runs = count_points(trips, when);
    if (!runs || when.empty()) return;
    op.active_when = std::move(when);
    op.runs = *runs;
  }

  // Whether Einsum e's block of `bytes` (kept for a later pass) can overwrite, element by element, a block an
  // earlier pass of group g keeps: an input it reads at the very point it writes (elementwise: SN = exp(QK - GM)),
  // at least as large, that nothing reads after e. The input's block then holds e's result (FLAT's exponentials
  // in place of its scores), so the group needs the space once.
  bool overwrites_input(EinsumId e, int g, int64_t bytes, const Nest& nest, int outer) const {
    const Einsum& einsum = c_.einsums[e];
    for (const Access& a : einsum.reads) {
      const Tensor& t = c_.tensors[a.tensor];
      if (!t.writer.valid() || group_of_[t.writer] != g || pass_of_[t.writer] >= pass_of_[e] || spilled(a.tensor, g) ||
          a.index != einsum.out.index)
        continue;
      if (tile_bytes(a, tile_at(nest, einsum, outer)) < bytes) continue;
      bool read_later = false, after = false;  // by an Einsum after e: in a later pass, or later in e's own
      for (const Group& sg : c_.schedule)
        for (EinsumId r : sg.einsums) {
          if (r == e) after = true;
          if (r == e || group_of_[r] != g || pass_of_[r] < pass_of_[e] || (pass_of_[r] == pass_of_[e] && !after))
            continue;
          for (const Access& ra : c_.einsums[r].reads) read_later |= ra.tensor == a.tensor;
        }
      if (!read_later) return true;
    }
    return false;
  }

  // Whether group g spills `tensor` between its passes.
  bool spilled(TensorId tensor, int g) const { return group(g).spilled.count(c_.tensors[tensor].name) > 0; }

  // Every tensor a group spills is computed in one of its passes and read in a later one.
  void check_spilled(int g) const {
    for (const auto& [name, loc] : group(g).spilled) {
      const TensorId t = c_.tensor_id(name);
      const std::string key = fmt::format("tensors.{}.spill", name);
      if (!t.valid()) fail(loc, key, fmt::format("the workload {} has no tensor '{}'", c_.file, name));
      const EinsumId w = c_.tensors[t].writer;
      if (!w.valid() || group_of_[w] != g || !read_in_later_pass(w, g)) {
        const std::string why = fmt::format(
            "group '{}' spills only what one of its passes computes and a later pass reads; {} is not such a tensor",
            group(g).name, name);
        // Passes the mapper cut (passes: auto) that do not separate it: a combination that cannot be, not a mistake.
        if (group(g).passes_cut && w.valid() && group_of_[w] == g) throw Infeasible{why};
        fail(loc, key, why);
      }
    }
  }

  // The tiles of `tensor` group `spec` (the one being lowered) holds at a time: its own buffer stages, or the
  // group's.
  int stages_of(const GroupSpec& spec, const std::string& tensor) const {
    const auto own = spec.tensor_buffer_stages.find(tensor);
    return own == spec.tensor_buffer_stages.end() ? stages_ : own->second;
  }

  // Whether group g's tiles of `tensor` bypass the buffer.
  bool bypassed(TensorId tensor, int g) const { return group(g).bypassed.count(c_.tensors[tensor].name) > 0; }

  // A tensor bypasses a group's buffer only between the backing memory and one unit: an input the group reads
  // from outside, or a result it stores that none of its own Einsums reads.
  void check_bypassed(int g) const {
    for (const auto& [name, loc] : group(g).bypassed) {
      const TensorId t = c_.tensor_id(name);
      const std::string key = fmt::format("tensors.{}.bypass", name);
      if (!t.valid()) fail(loc, key, fmt::format("the workload {} has no tensor '{}'", c_.file, name));
      if (group(g).spilled.count(name))
        fail(loc, key, fmt::format("{} is spilled, so it goes through the buffer", name));
      const EinsumId w = c_.tensors[t].writer;
      const bool written = w.valid() && group_of_[w] == g;
      std::optional<EinsumId> reader;
      for (EinsumId r : c_.einsums.ids())
        if (group_of_[r] == g)
          for (const Access& a : c_.einsums[r].reads)
            if (a.tensor == t && !reader) reader = r;
      if (written && reader)
        fail(loc, key,
             fmt::format("{} computes {} and {} reads it in group '{}': it needs the buffer between them",
                         c_.einsums[w].name, name, c_.einsums[*reader].name, group(g).name));
      if (written && !needed_later(w, g))
        fail(loc, key, fmt::format("group '{}' does not store {}: nothing after it reads it", group(g).name, name));
      if (!written && !reader)
        fail(loc, key, fmt::format("group '{}' neither reads nor computes {}", group(g).name, name));
      if (written && final_step_only(w, g) >= 0)
        fail(loc, key, fmt::format("{} is a recurrence's state, which stays in the buffer between its steps", name));
    }
  }

  bool read_in_later_pass(EinsumId e, int g) const {
    const TensorId t = c_.einsums[e].out.tensor;
    for (EinsumId r : c_.einsums.ids())
      if (group_of_[r] == g && pass_of_[r] > pass_of_[e])
        for (const Access& a : c_.einsums[r].reads)
          if (a.tensor == t) return true;
    return false;
  }

  bool fits_buffer(const TileGroup& out) const {
    return static_cast<double>(out.buffer_bytes) <= a_.find(buffer_)->memory()->capacity_bytes();
  }
  void check_buffer(const TileGroup& out, const std::map<std::string, int64_t>& resident) const {
    if (fits_buffer(out)) return;
    const double size = a_.find(buffer_)->memory()->capacity_bytes();
    std::vector<std::pair<int64_t, std::string>> largest;
    for (const auto& [name, bytes] : resident) largest.emplace_back(bytes, name);
    std::sort(largest.rbegin(), largest.rend());
    std::vector<std::string> names;
    for (size_t i = 0; i < std::min<size_t>(3, largest.size()); ++i)
      names.push_back(fmt::format("{} ({})", largest[i].second, format_bytes(static_cast<double>(largest[i].first))));
    std::string tiles;
    for (const Loop& l : out.loops)
      if (l.tile > 1) tiles += fmt::format(" {}={}", l.index, l.tile);
    throw Infeasible{fmt::format("{} needs {} for the tiles of group '{}' (largest: {}; tiles{}); it has {}", buffer_,
                                 format_bytes(static_cast<double>(out.buffer_bytes)), out.name, fmt::join(names, ", "),
                                 tiles.empty() ? " none" : tiles, format_bytes(size)),
                     true};
  }

  // What each computation of a group reads through its splits: an Einsum of the cascade the group neither computes
  // nor loads the result of, whose operands the computation's tile stands for (recursively).
  void mark_reads_through_splits(TileGroup& out) const {
    IdVector<EinsumId, char> computed(c_.einsums.size(), 0);
    IdVector<TensorId, char> loaded(c_.tensors.size(), 0);
    for (const TileOp& op : out.ops)
      if (op.kind == TileOp::Kind::compute)
        computed[op.einsum] = 1;
      else if (op.kind == TileOp::Kind::load)
        loaded[c_.tensor_id(op.tensor)] = 1;
    std::function<void(TensorId, std::vector<TensorId>&)> through = [&](TensorId t, std::vector<TensorId>& found) {
      const EinsumId w = c_.tensors[t].writer;
      if (!w.valid() || computed[w] || loaded[t]) return;
      for (const Access& a : c_.einsums[w].reads) found.push_back(a.tensor), through(a.tensor, found);
    };
    for (TileOp& op : out.ops)
      if (op.kind == TileOp::Kind::compute)
        for (const Access& a : c_.einsums[op.einsum].reads) through(a.tensor, op.reads_through_splits);
  }

  // The tensors e reads through the gathers of group g, which compute nothing.
  std::vector<TensorId> read_through_gathers(EinsumId e, int g) const {
    std::vector<TensorId> out;
    for (const Access& a : c_.einsums[e].reads) {
      const EinsumId w = c_.tensors[a.tensor].writer;
      if (w.valid() && group_of_[w] == g && c_.einsums[w].gathers() && binding_.at(w)->unit.empty())
        for (const Access& source : c_.einsums[w].reads) out.push_back(source.tensor);
    }
    return out;
  }

  // The variables a store of Einsum e's result in group g covers: its result's, but for the step of a recurrence
  // whose later readers read only its last step (a split's partial softmax: RNV at M1), stored once the step loop
  // is done, not after every step.
  std::vector<int> stored_vars(EinsumId e, int g) const {
    std::vector<int> out = vars_of(c_.einsums[e].out);
    if (const int step = final_step_only(e, g); step >= 0) std::erase(out, step);
    return out;
  }

  // The loops outside where Einsum e's result is stored (`store_at` in `nest`), of more than one tile, over an index
  // e sums over (none spread over the cores or devices, none a recurrence's steps): the partial sums go through the
  // backing memory at each of their iterations.
  std::vector<int> partial_sum_loops(EinsumId e, int g, const Nest& nest, int store_at) const {
    const Einsum& einsum = c_.einsums[e];
    const GroupSpec& spec = group(g);
    const std::vector<int> indexed = vars_of(einsum.out);
    std::vector<int> out;
    for (int l = 0; l < store_at; ++l) {
      const int v = nest.var[static_cast<size_t>(l)];
      const std::string& index = nest.loops[static_cast<size_t>(l)].index;
      const bool spread = (l < static_cast<int>(spec.cores.size()) &&
                           std::find(spec.cores.begin(), spec.cores.end(), index) != spec.cores.end()) ||
                          std::find(spec.devices.begin(), spec.devices.end(), index) != spec.devices.end();
      if (v >= 0 && nest.loops[static_cast<size_t>(l)].trips > 1 && !spread &&
          std::find(indexed.begin(), indexed.end(), v) == indexed.end())
        out.push_back(l);
    }
    return out;
  }

  // The step variable of recurrence e when every later group reads only its last step (a constant index at the
  // end of its iterative rank) and it is not an output; else -1.
  int final_step_only(EinsumId e, int g) const {
    const Einsum& einsum = c_.einsums[e];
    const Tensor& t = c_.tensors[einsum.out.tensor];
    if (t.output || t.iterative_rank < 0) return -1;
    const auto r = static_cast<size_t>(t.iterative_rank);
    if (einsum.out.index[r].terms.size() != 1) return -1;
    for (EinsumId reader : c_.einsums.ids())
      if (group_of_[reader] > g)
        for (const Access& a : c_.einsums[reader].reads)
          if (a.tensor == einsum.out.tensor &&
              (!a.index[r].terms.empty() || a.index[r].constant != t.ranks[r].extent - 1))
            return -1;
    return einsum.out.index[r].terms[0].first;
  }

  bool needed_later(EinsumId e, int g) const {
    const Einsum& einsum = c_.einsums[e];
    if (c_.tensors[einsum.out.tensor].output) return true;
    for (EinsumId r : c_.einsums.ids())
      if (group_of_[r] > g)
        for (const Access& a : c_.einsums[r].reads)
          if (a.tensor == einsum.out.tensor) return true;
    return false;
  }

  TileOp compute(const Einsum& einsum, EinsumId e, const EinsumBinding& binding, const Nest& nest, int depth,
                 const std::vector<int64_t>& tile) const {
    TileOp op;
    op.kind = TileOp::Kind::compute;
    op.depth = depth;
    // A computation runs once per iteration of the loops over its own indices: loops over other indices
    // neither change its operands' meaning nor need it again (it is hoisted out of them, or runs after them).
    for (int l = 0; l < depth; ++l)
      if (nest.var[static_cast<size_t>(l)] >= 0) op.repeats.push_back(l);
    op.einsum = e;
    op.unit = unit_of(e);
    if (op.unit.empty()) fail(binding.loc, binding.key, "this Einsum computes, so it needs a unit");
    const ComponentSpec* unit = a_.find(op.unit);
    if (!unit || !unit->ops())
      fail(binding.loc, binding.key + ".unit", fmt::format("{} has no compute unit named '{}'", a_.file, binding.unit));
    op.points = 1;
    for (int64_t t : tile) op.points *= t;
    if (einsum.reduce == Reduce::topk) {
      const Var& k = einsum.vars[static_cast<size_t>(einsum.topk_var)];
      if (tile[static_cast<size_t>(einsum.topk_var)] != k.extent)
        throw Infeasible{fmt::format("Einsum {} selects all {} of its kept entries at once: do not tile {}",
                                     einsum.name, k.extent, k.name)};
    }
    op.points /= einsum.points_per_work();
    const OpCounts& per_point = einsum_ops_per_point(einsum);
    if (std::string why = unit_cannot_run(*unit, einsum); !why.empty()) throw Infeasible{std::move(why)};
    int64_t drain = 0;  // a pipelined function unit's last result trails its last start
    for (const auto& [kind, n] : per_point) {
      const auto it = unit->ops()->find(kind);
      op.ops[kind] = n * op.points;
      drain = std::max(drain, it->second.latency_cycles - it->second.issue_cycles());
    }
    const int64_t cycles_per_point =
        busiest_function_unit(*unit->ops(), per_point, [](int64_t count, int64_t issue) { return count * issue; });
    // Spatial indices spread over the unit's dimensions (several over one dimension spread their product);
    // everything else runs in time.
    const ComputeRole& role = *unit->compute();
    TileWork work{op.points, cycles_per_point, {}, {}};
    if (role.maps_spatially())
      for (const auto& [dim, index] : binding.spatial) {
        const int v = einsum.var_index(index);
        if (v < 0)
          fail(binding.loc, binding.key + ".spatial." + dim, fmt::format("'{}' has no index '{}'", einsum.name, index));
        dimension(*unit, dim, binding);
        const int64_t t = tile[static_cast<size_t>(v)];
        work.spread.try_emplace(dim, 1).first->second *= t;
        if (std::find(einsum.reduced.begin(), einsum.reduced.end(), v) != einsum.reduced.end())
          work.reduced.try_emplace(dim, 1).first->second *= t;
      }
    // The op that combines partials across PEs: max for a max or min reduction, add (or mac) for a sum.
    for (const char* kind : einsum.reduce == Reduce::sum    ? std::vector<const char*>{"add", "mac"}
                            : einsum.reduce == Reduce::topk ? std::vector<const char*>{"topk"}
                                                            : std::vector<const char*>{"max"})
      if (const auto it = unit->ops()->find(kind); it != unit->ops()->end()) {
        work.chain_reduction = it->second.chain_reduction;
        break;
      }
    const TileTiming timing = role.tile_timing(work, a_.clock_hz);
    op.cycles = std::max(timing.cycles, steps_in_time(einsum, tile) * step_latency(einsum, *unit));
    op.result_latency = timing.result_latency + drain;
    // Operands and results go through the buffer, unless they stay in the unit's register files or bypass it;
    // a tile wider than a 2D array reads them fold by fold (fold_reads.hpp).
    const int g = group_of_[e];
    const std::vector<std::vector<int>> folding = folding_dims(*unit, binding, einsum, tile);
    FoldShape shape;
    shape.regfile_entries = role.regfile_entries();  // less what tensors kept in registers take (below)
    for (const std::vector<int>& vars : folding) {
      FoldShape::Dim& d = shape.dims.emplace_back();
      d.size = *role.dimension(binding.spatial[static_cast<size_t>(vars.front())].first);
      for (size_t i = 1; i < vars.size(); ++i) d.extents.push_back(tile[static_cast<size_t>(vars[i])]);
    }
    std::vector<int64_t> in_time;  // one PE's share of the tile in a fold: the spread indices at 1
    if (!folding.empty()) {
      in_time = tile;
      for (const auto& [dim, index] : binding.spatial) in_time[static_cast<size_t>(einsum.var_index(index))] = 1;
    }
    std::vector<FoldOperand> operands;
    FoldOperand result;
    // Each operand, then the result: charged once where no dimension folds (most tiles), else described for
    // fold_traffic.
    auto charge = [&](const Access& a, bool is_result) {
      const int64_t elements = tile_elements(a, tile);
      if (in_registers(a.tensor, *unit, elements)) {
        shape.regfile_entries -= ceil_div(elements, role.parallelism());
        return;
      }
      if (bypassed(a.tensor, g)) return;
      if (folding.empty()) {
        (is_result ? op.buffer_write_bytes : op.buffer_read_bytes) += tile_bytes(a, tile);
        return;
      }
      FoldOperand& o = is_result ? result : operands.emplace_back();
      o = {tile_bytes(a, tile), {}, tile_elements(a, in_time)};
      for (const std::vector<int>& vars : folding) {
        std::vector<bool>& has = o.indexed.emplace_back();
        for (size_t i = 1; i < vars.size(); ++i) has.push_back(indexes(a, vars[i]));
      }
    };
    for (const Access& a : einsum.reads) charge(a, false);
    charge(einsum.out, true);
    if (folding.empty()) return op;
    shape.regfile_entries = std::max<int64_t>(0, shape.regfile_entries);
    const FoldTraffic traffic = fold_traffic(shape, operands, result);
    for (int64_t bytes : traffic.reads) op.buffer_read_bytes += bytes;
    op.buffer_read_bytes += traffic.result_reads;
    op.buffer_write_bytes = traffic.result_writes;
    return op;
  }

  // The dimensions of a 2D array a tile is wider than (folds_in_passes), each as the position in the binding's map
  // of its first index, then the Einsum's variables spread over it, outermost (first listed) first.
  std::vector<std::vector<int>> folding_dims(const ComponentSpec& unit, const EinsumBinding& binding,
                                             const Einsum& einsum, const std::vector<int64_t>& tile) const {
    std::vector<std::vector<int>> dims;
    if (!unit.compute()->folds_in_passes()) return dims;
    // (Most tiles fit the array: find whether one folds before building anything.)
    bool folds = false;
    for (size_t i = 0; i < binding.spatial.size() && !folds; ++i) {
      int64_t spread = 1;  // over the dimension entry i names (computed again for its other indices)
      for (const auto& [dim, index] : binding.spatial)
        if (dim == binding.spatial[i].first) spread *= tile[static_cast<size_t>(einsum.var_index(index))];
      folds = spread > *unit.compute()->dimension(binding.spatial[i].first);
    }
    if (!folds) return dims;
    std::vector<std::string> names;
    for (size_t i = 0; i < binding.spatial.size(); ++i) {
      const auto& [dim, index] = binding.spatial[i];
      const auto at = static_cast<size_t>(std::find(names.begin(), names.end(), dim) - names.begin());
      if (at == names.size()) names.push_back(dim), dims.push_back({static_cast<int>(i)});
      dims[at].push_back(einsum.var_index(index));
    }
    std::erase_if(dims, [&](const std::vector<int>& vars) {
      int64_t spread = 1;
      for (size_t i = 1; i < vars.size(); ++i) spread *= tile[static_cast<size_t>(vars[i])];
      return spread <= *unit.compute()->dimension(binding.spatial[static_cast<size_t>(vars.front())].first);
    });
    return dims;
  }

  static bool indexes(const Access& a, int var) {
    for (const Affine& at : a.index)
      for (const auto& term : at.terms)
        if (term.first == var) return true;
    return false;
  }

  // The steps of a recurrence one execution runs (its step index's tile; 1 when it is not a recurrence). Their
  // points spread over the unit as any others, but the steps run one after another (a spread step index is
  // refused by check_legality).
  int64_t steps_in_time(const Einsum& e, const std::vector<int64_t>& tile) const {
    const Tensor& out = c_.tensors[e.out.tensor];
    if (out.iterative_rank < 0) return 1;
    const Affine& at = e.out.index[static_cast<size_t>(out.iterative_rank)];
    return at.terms.empty() ? 1 : tile[static_cast<size_t>(at.terms[0].first)];
  }

  // How long a recurrence's step waits for the last: the latencies of its ops on the longest path from the state
  // it reads to the state it writes (H = DA * H + DBX: a multiply, then an add), on the unit that runs it. A
  // step's points are independent of each other, so a step takes the longer of this and its issue time.
  static int64_t step_latency(const Einsum& e, const ComponentSpec& unit) {
    std::vector<int64_t> path(e.program.size(), -1);  // -1: does not depend on the state
    for (size_t i = 0; i < e.program.size(); ++i) {
      const Node& n = e.program[i];
      if (n.op == Op::read) {
        if (e.reads[static_cast<size_t>(n.read)].tensor == e.out.tensor) path[i] = 0;
        continue;
      }
      int64_t longest = -1;
      for (int operand : {n.a, n.b, n.c})
        if (operand >= 0) longest = std::max(longest, path[static_cast<size_t>(operand)]);
      if (longest < 0 || n.op == Op::constant) continue;
      const auto cost = unit.ops()->find(std::string(op_name(n.op)));
      path[i] = longest + (cost == unit.ops()->end() ? 1 : cost->second.latency_cycles);
    }
    return std::max<int64_t>(0, path.back());
  }

  // A tensor stays in a unit's register files when the unit both produces it and is its only reader, in the same
  // pass, nothing later needs it from memory, and each PE's share of a tile fits its register file.
  bool in_registers(TensorId tensor, const ComponentSpec& unit, int64_t elements) const {
    const Tensor& t = c_.tensors[tensor];
    const EinsumId w = t.writer;
    if (!w.valid() || t.output || !t.pieces.empty() || unit_of(w) != unit.name) return false;
    for (EinsumId r : c_.einsums.ids())
      for (const Access& a : c_.einsums[r].reads)
        if (a.tensor == tensor &&
            (group_of_[r] != group_of_[w] || pass_of_[r] != pass_of_[w] || unit_of(r) != unit.name))
          return false;
    return ceil_div(elements, unit.parallelism()) <= unit.compute()->regfile_entries();
  }

  int64_t dimension(const ComponentSpec& unit, const std::string& dim, const EinsumBinding& binding) const {
    if (const auto size = unit.compute()->dimension(dim)) return *size;
    fail(binding.loc, binding.key + ".spatial." + dim,
         fmt::format("{} ({}) has no dimension '{}'", unit.name, unit.kind(), dim));
  }

  static std::vector<int> all_above(int depth) {
    std::vector<int> out(static_cast<size_t>(depth));
    for (int l = 0; l < depth; ++l) out[static_cast<size_t>(l)] = l;
    return out;
  }

  // The unit an Einsum runs on: the PIM its group is being lowered on, or its binding's.
  const std::string& unit_of(EinsumId e) const {
    if (placed_on_ && group_of_[e] == current_group_ &&
        (!binding_.at(e)->unit.empty() || !einsum_ops(c_.einsums[e]).empty()))
      return placed_on_->name;
    return binding_.at(e)->unit;
  }

  const Cascade& c_;
  const ArchSpec& a_;
  const MappingSpec& m_;
  // The group being lowered: its ragged indices (a loop's tile does not divide them) and their extents, and its
  // ops' costs at their partial last tiles, by the op's place in the group.
  std::map<std::string, int64_t> ragged_;
  struct Variants {
    std::vector<std::string> indices;  // ragged indices in which the op's tile can be partial
    std::vector<TileOp> ops;           // its costs per mask of them (bit i: partial in indices[i]); [0]: full
  };
  std::map<size_t, Variants> variants_;
  const ComponentSpec* placed_on_ = nullptr;  // the place (a PIM) the group being lowered runs on, if any
  std::string buffer_;                        // and where its tiles are staged
  int current_group_ = -1;
  int stages_ = 2;                    // the buffer stages of the group being lowered
  IdVector<EinsumId, int> group_of_;  // the group and pass it is mapped to
  IdVector<EinsumId, int> pass_of_;
  IdVector<EinsumId, const EinsumBinding*> binding_;
  // The group being lowered: per load (its place in the group's ops), each reader's active_when at the load's
  // depth (over the reader's pass's loop positions), or nullopt for a reader with no where clause.
  std::map<size_t, std::vector<std::optional<std::vector<Constraint>>>> consumers_;
  const bool guarded_;  // the cascade has guarded Einsums (loads need their readers' guards only then)
  // Per load (by position in the group's ops): each reader's guard at the load's depth (nullopt: none, the guard
  // itself, or a tile holding several of its elements).
  std::map<size_t, std::vector<std::optional<Guarding>>> consumer_guards_;
};

}  // namespace

bool TileOp::kept(const std::vector<int64_t>& counters) const {
  for (const Constraint& c : active_when) {
    int64_t value = c.expr.constant;
    for (auto [j, k] : c.expr.terms) value += k * counters[static_cast<size_t>(repeats[static_cast<size_t>(j)])];
    if (value > 0) return false;
  }
  return true;
}

bool TileOp::active(const std::vector<int64_t>& counters) const {
  if (!kept(counters)) return false;
  if (rate == kRateOne) return true;
  int64_t element = 0;  // of the guard
  for (auto [l, stride] : guard_terms) element += counters[static_cast<size_t>(l)] * stride;
  return thinned_runs(element, rate);
}

std::vector<std::pair<int, bool>> TileGroup::fire_rule(const TileOp& op, const Cascade& c) const {
  std::vector<int> relevant;
  for (int l = 0; l < outer_loops; ++l) relevant.push_back(l);
  if (!pass_loops.empty())
    for (int l = pass_loops[static_cast<size_t>(op.pass)].first; l < pass_loops[static_cast<size_t>(op.pass)].second;
         ++l)
      relevant.push_back(l);
  auto repeats = [](const TileOp& o, int l) {
    return std::find(o.repeats.begin(), o.repeats.end(), l) != o.repeats.end();
  };
  // Whether a computation reads a result of `ops[w]` (not its own).
  auto reads_from = [&](const TileOp& o, size_t w) {
    const TileOp& writer = ops[w];
    if (&writer == &o || writer.kind != TileOp::Kind::compute || o.kind != TileOp::Kind::compute) return false;
    const TensorId t = c.einsums[writer.einsum].out.tensor;
    const std::vector<Access>& reads = c.einsums[o.einsum].reads;
    return std::any_of(reads.begin(), reads.end(), [&](const Access& a) { return a.tensor == t; });
  };
  // Whether computation `o` reads what is complete only once loop l ends: a result of a computation that repeats
  // over l, or of one that itself waits for l's end (GNV waits for the running numerator's last block, and so
  // does O = GNV / GD). The least fixed point over the group's computations.
  auto waits = [&](const TileOp& o, int l) {
    std::vector<char> complete_at_end(ops.size(), 0);
    for (size_t w = 0; w < ops.size(); ++w)
      complete_at_end[w] = ops[w].kind == TileOp::Kind::compute && repeats(ops[w], l);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t w = 0; w < ops.size(); ++w)
        for (size_t x = 0; x < ops.size() && !complete_at_end[w]; ++x)
          if (complete_at_end[x] && reads_from(ops[w], x)) complete_at_end[w] = changed = true;
    }
    for (size_t x = 0; x < ops.size(); ++x)
      if (complete_at_end[x] && reads_from(o, x)) return true;
    return false;
  };
  std::vector<std::pair<int, bool>> rule;  // (loop, at last iteration)
  for (int l : relevant) {
    if (repeats(op, l)) continue;
    rule.emplace_back(l, op.kind == TileOp::Kind::store || (op.kind == TileOp::Kind::compute && waits(op, l)));
  }
  return rule;
}

TileGroup TileGroup::busiest() const {
  TileGroup v = *this;
  if (spread_loops == 0) return v;
  int64_t iterations = 1;
  for (int l = 0; l < spread_loops; ++l) iterations *= loops[static_cast<size_t>(l)].trips;
  v.loops[0].trips = spread_trips;
  for (int l = 1; l < spread_loops; ++l) v.loops[static_cast<size_t>(l)].trips = 1;
  // Every op runs in each spread iteration, and where clauses do not depend on them (lowering checks both): the
  // executions and points one of them runs are the whole group's over the iterations.
  for (TileOp& op : v.ops) {
    if (op.runs >= 0) op.runs = op.runs / iterations * spread_trips;
    if (op.kept_points >= 0) op.kept_points = op.kept_points / iterations * spread_trips;
  }
  v.spread_loops = 0;
  return v;
}

TileProgram busiest(const TileProgram& program) {
  TileProgram v = program;
  for (TileGroup& g : v.groups) g = g.busiest();
  return v;
}

int64_t TileGroup::floor_cycles() const {
  int64_t most = 0;
  for (const Floor& f : floors) most = std::max(most, f.cycles);
  return most;
}

int64_t TileGroup::executions(const TileOp& op) const {
  if (op.runs >= 0) return op.runs;
  int64_t n = 1;
  for (int l : op.repeats)  // saturates, so that evaluators can refuse absurd points instead of wrapping
    if (__builtin_mul_overflow(n, loops[static_cast<size_t>(l)].trips, &n)) return INT64_MAX;
  // A guarded op visits each guard element alike: those the rate keeps.
  return op.rate == kRateOne ? n : n / op.guard_elements * thinned(op.guard_elements, op.rate);
}

TileProgram lower(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& mapping) {
  return Lowering(cascade, arch, mapping).run(0, mapping.groups.size());
}

TileProgram lower_groups(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& mapping, size_t first,
                         size_t last) {
  return Lowering(cascade, arch, mapping).run(first, last);
}

int64_t held_bytes(const Cascade& cascade, const IdVector<TensorId, int64_t>& shares) {
  int64_t bytes = 0;
  for (TensorId t : cascade.tensors.ids())
    if (shares[t] > 0) bytes += ceil_div(cascade.tensors[t].bytes(), shares[t]);
  return bytes;
}

std::string unit_cannot_run(const ComponentSpec& unit, const Einsum& e) {
  for (const auto& [kind, n] : einsum_ops_per_point(e))
    if (!unit.ops()->contains(kind))
      return fmt::format("{} cannot do {} (Einsum {} is bound to it)", unit.name, kind, e.name);
  return "";
}

}  // namespace einsim
