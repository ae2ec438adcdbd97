#include "mappings/lower.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>

#include "arch/units/systolic.hpp"
#include "common/units.hpp"
#include "workloads/expr.hpp"

namespace einsim {
namespace {

// An infeasible design point: unwinds lowering to a status.
struct Infeasible {
  std::string reason;
};

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

class Lowering {
 public:
  Lowering(const Cascade& c, const ArchSpec& a, const MappingSpec& m) : c_(c), a_(a), m_(m) {}

  TileProgram run() {
    check_memories();
    assign_groups();
    TileProgram p;
    p.backing = m_.backing;
    p.buffer = m_.buffer;
    try {
      for (size_t g = 0; g < m_.groups.size(); ++g) p.groups.push_back(lower_group(static_cast<int>(g)));
    } catch (const Infeasible& why) {
      p.status = EvalStatus{false, why.reason};
    }
    return p;
  }

 private:
  [[noreturn]] void fail(const SourceLoc& loc, const std::string& key, const std::string& message) const {
    throw UserError(loc.file.empty() ? SourceLoc{m_.file} : loc, key, message);
  }

  void check_memories() const {
    const ComponentSpec* backing = a_.find(m_.backing);
    const ComponentSpec* buffer = a_.find(m_.buffer);
    if (!backing || backing->kind() != "dram") fail({}, "memory.backing", fmt::format("{} has no dram named '{}'", a_.file, m_.backing));
    if (!buffer || buffer->kind() != "sram") fail({}, "memory.buffer", fmt::format("{} has no sram named '{}'", a_.file, m_.buffer));
  }

  // Every Einsum in exactly one group; a group reads only what earlier groups (or itself) produce.
  void assign_groups() {
    group_of_.assign(c_.einsums.size(), -1);
    pass_of_.assign(c_.einsums.size(), -1);
    for (size_t g = 0; g < m_.groups.size(); ++g) {
      for (size_t k = 0; k < m_.groups[g].passes.size(); ++k)
      for (const auto& [name, binding] : m_.groups[g].passes[k].einsums) {
        int e = -1;
        for (size_t i = 0; i < c_.einsums.size(); ++i)
          if (c_.einsums[i].name == name) e = static_cast<int>(i);
        if (e < 0) fail(binding.loc, binding.key, fmt::format("the workload {} has no Einsum writing '{}'", c_.file, name));
        if (group_of_[static_cast<size_t>(e)] >= 0) fail(binding.loc, binding.key, "mapped in two groups");
        group_of_[static_cast<size_t>(e)] = static_cast<int>(g);
        pass_of_[static_cast<size_t>(e)] = static_cast<int>(k);
        binding_[e] = &binding;
      }
    }
    for (size_t e = 0; e < c_.einsums.size(); ++e) {
      if (group_of_[e] < 0) fail(m_.groups_loc, "groups", fmt::format("Einsum '{}' of {} is in no group", c_.einsums[e].name, c_.file));
      for (const Access& a : c_.einsums[e].reads) {
        const int w = c_.tensors[static_cast<size_t>(a.tensor)].writer;
        if (w >= 0 && group_of_[static_cast<size_t>(w)] > group_of_[e])
          fail(binding_[static_cast<int>(e)]->loc, binding_[static_cast<int>(e)]->key,
               fmt::format("reads '{}', which a later group ({}) produces", c_.tensors[static_cast<size_t>(a.tensor)].name,
                           m_.groups[static_cast<size_t>(group_of_[static_cast<size_t>(w)])].name));
      }
    }
  }

  int64_t param(const std::string& name, const LoopSpec& loop) const {
    const Param* p = c_.param(name);
    if (!p || !p->integer) fail(loop.loc, "loops." + loop.index, fmt::format("'{}' is not an integer param of {}", name, c_.file));
    return static_cast<int64_t>(p->value);
  }

  // `enclosing` are the loops around these ones (a pass's loops sit inside its group's).
  std::vector<Loop> lower_loops(const std::vector<LoopSpec>& specs, const std::vector<int>& members, const std::vector<Loop>& enclosing,
                                const GroupSpec& g) const {
    std::vector<Loop> loops = enclosing;
    for (const LoopSpec& spec : specs) {
      int64_t extent = 0;
      for (int e : members) {
        const Einsum& einsum = c_.einsums[static_cast<size_t>(e)];
        if (const int v = einsum.var_index(spec.index); v >= 0) extent = einsum.vars[static_cast<size_t>(v)].extent;
      }
      if (extent == 0) fail(spec.loc, "loops." + spec.index, fmt::format("no Einsum of group '{}' has index '{}'", g.name, spec.index));
      for (const Loop& outer : loops)  // an inner loop over an index splits the outer loop's tile
        if (outer.index == spec.index) extent = outer.tile;
      Loop loop{spec.index, extent, 1, spec.buffer_level};
      if (!spec.tile.empty()) {
        Expr e;
        try {
          e = parse_expression(spec.tile);
        } catch (const SyntaxError& s) {
          fail(spec.loc, "loops." + spec.index + ".tile", fmt::format("bad expression '{}': {}", spec.tile, s.message));
        }
        loop.tile = evaluate_integer(
            e, [&](const std::string& name) { return param(name, spec); },
            [&](const std::string& why) { throw Infeasible{fmt::format("tile of {} = {}: {}", spec.index, spec.tile, why)}; });
        if (loop.tile < 1 || extent % loop.tile != 0)
          throw Infeasible{fmt::format("tile {} of index {} does not divide its extent {} (factors of {} multiply to {}, shape is {})", loop.tile,
                                       spec.index, extent, spec.index, loop.tile * (extent / std::max<int64_t>(loop.tile, 1)), extent)};
        loop.trips = extent / loop.tile;
      }
      loops.push_back(loop);
    }
    return std::vector<Loop>(loops.begin() + static_cast<std::ptrdiff_t>(enclosing.size()), loops.end());
  }

  // Elements and bytes of the part of a tensor one access touches when each index covers `tile[v]` elements.
  int64_t tile_elements(const Access& a, const std::vector<int64_t>& tile) const {
    const Tensor& t = c_.tensors[static_cast<size_t>(a.tensor)];
    int64_t n = 1;
    for (size_t r = 0; r < a.index.size(); ++r) {
      int64_t span = 1;
      for (auto [v, coef] : a.index[r].terms) span += std::abs(coef) * (tile[static_cast<size_t>(v)] - 1);
      n *= std::min(span, t.ranks[r].extent);
    }
    return n;
  }

  int64_t tile_bytes(const Access& a, const std::vector<int64_t>& tile) const {
    return bytes_for(c_.tensors[static_cast<size_t>(a.tensor)].dtype, tile_elements(a, tile));
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

  // One past the innermost loop whose index the access (or Einsum) uses: where the op sits in the nest.
  // Transfers between the backing memory and the buffer only see the backing memory's loops.
  static int depth_of(const Nest& n, const std::vector<int>& vars, bool backing_only = false) {
    int depth = 0;
    for (size_t l = 0; l < n.loops.size(); ++l)
      if (n.var[l] >= 0 && !(backing_only && n.loops[l].buffer_level) && std::find(vars.begin(), vars.end(), n.var[l]) != vars.end())
        depth = static_cast<int>(l) + 1;
    return depth;
  }

  // The elements of each index one execution at `depth` covers: the tile of the innermost loop over it above
  // `depth`, or its whole extent.
  static std::vector<int64_t> tile_at(const Nest& n, const Einsum& e, int depth) {
    std::vector<int64_t> tile(e.vars.size());
    for (size_t v = 0; v < tile.size(); ++v) tile[v] = e.vars[v].extent;
    for (int l = 0; l < depth; ++l)
      if (n.var[static_cast<size_t>(l)] >= 0) tile[static_cast<size_t>(n.var[static_cast<size_t>(l)])] = n.loops[static_cast<size_t>(l)].tile;
    return tile;
  }

  static std::vector<int> vars_of(const Access& a) {
    std::vector<int> out;
    for (const Affine& x : a.index)
      for (auto [v, coef] : x.terms) out.push_back(v);
    return out;
  }

  TileGroup lower_group(int g) {
    const GroupSpec& spec = m_.groups[static_cast<size_t>(g)];
    std::vector<int> members;
    for (size_t e = 0; e < c_.einsums.size(); ++e)
      if (group_of_[e] == g) members.push_back(static_cast<int>(e));
    TileGroup out;
    out.name = spec.name;
    out.pipeline = spec.pipeline;
    out.double_buffer = spec.double_buffer;
    const std::vector<Loop> outer = lower_loops(spec.loops, members, {}, spec);
    out.loops = outer;
    out.outer_loops = static_cast<int>(outer.size());

    std::map<std::string, int64_t> resident;  // tensor -> bytes of its tile in the buffer
    for (size_t k = 0; k < spec.passes.size(); ++k) {
      std::vector<int> in_pass;
      for (const Group& sg : c_.schedule)  // dependency order, so that evaluators can issue ops as listed
        for (int e : sg.einsums)
          if (group_of_[static_cast<size_t>(e)] == g && pass_of_[static_cast<size_t>(e)] == static_cast<int>(k)) in_pass.push_back(e);
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
        op.pass = static_cast<int>(k);
        out.ops.push_back(std::move(op));
      };
      std::map<std::pair<std::string, int>, size_t> loads;
      for (int e : in_pass) lower_einsum(e, g, loops, outer.size(), place, loads, out, resident);
    }
    for (const auto& [name, bytes] : resident) out.buffer_bytes += bytes;
    check_buffer(out, resident);
    return out;
  }

  void lower_einsum(int e, int g, const std::vector<Loop>& loops, size_t n_outer, const std::function<void(TileOp)>& place,
                    std::map<std::pair<std::string, int>, size_t>& loads, TileGroup& out, std::map<std::string, int64_t>& resident) {
    const GroupSpec& spec = m_.groups[static_cast<size_t>(g)];
    const Einsum& einsum = c_.einsums[static_cast<size_t>(e)];
    std::vector<int> all(einsum.vars.size());
    for (size_t v = 0; v < all.size(); ++v) all[v] = static_cast<int>(v);
    const Nest nest = nest_of(loops, einsum);
    const int depth = depth_of(nest, all);
    const std::vector<int64_t> tile = tile_at(nest, einsum, depth);
    const EinsumBinding& binding = *binding_.at(e);

    // Data from outside the group comes in through the buffer; a split only renames what it reads.
    for (const Access& a : einsum.reads) {
      const Tensor& t = c_.tensors[static_cast<size_t>(a.tensor)];
      if (t.writer >= 0 && group_of_[static_cast<size_t>(t.writer)] == g) continue;
      const int d = depth_of(nest, vars_of(a), true);
      const int64_t bytes = tile_bytes(a, tile_at(nest, einsum, d));
      const auto found = loads.find({t.name, d});
      if (found == loads.end()) {
        TileOp op;
        op.kind = TileOp::Kind::load;
        op.depth = d;
        op.repeats = all_above(d);  // a tile is fetched again whenever any loop above it moves on
        op.tensor = t.name;
        op.from = m_.backing;
        op.to = m_.buffer;
        op.bytes = bytes;
        loads[{t.name, d}] = out.ops.size();
        place(op);
      } else {
        out.ops[found->second].bytes = std::max(out.ops[found->second].bytes, bytes);
      }
      const auto db = spec.tensor_double_buffer.find(t.name);
      resident[t.name] = std::max(resident[t.name], bytes * ((db == spec.tensor_double_buffer.end() ? spec.double_buffer : db->second) ? 2 : 1));
    }
    // Ops are listed in the order they can run: loads, the computation, then its store.
    if (!binding.unit.empty() || !einsum_ops(einsum).empty()) place(compute(einsum, e, binding, nest, depth, tile));
    const Tensor& result = c_.tensors[static_cast<size_t>(einsum.out.tensor)];
    if (!binding.unit.empty()) resident[result.name] = std::max(resident[result.name], tile_bytes(einsum.out, tile));
    if (read_in_later_pass(e, g)) {
      // Kept for a later pass: the whole tile the group's own loops cover stays in the buffer.
      resident[result.name] = std::max(resident[result.name], tile_bytes(einsum.out, tile_at(nest, einsum, static_cast<int>(n_outer))));
    }
    if (result.iterative_rank >= 0) {
      // A recurrence's state (this step's and the last) stays for every tile the loops inside its step loop visit.
      const std::string& step = einsum.vars[static_cast<size_t>(einsum.out.index[static_cast<size_t>(result.iterative_rank)].terms[0].first)].name;
      for (size_t l = 0; l < loops.size(); ++l)
        if (loops[l].index == step)
          resident[result.name] = std::max(resident[result.name], 2 * tile_bytes(einsum.out, tile_at(nest, einsum, static_cast<int>(l) + 1)));
    }
    if (needed_later(e, g)) {
      TileOp op;
      op.kind = TileOp::Kind::store;
      op.depth = depth_of(nest, vars_of(einsum.out), true);
      op.repeats = all_above(op.depth);
      op.tensor = result.name;
      op.from = m_.buffer;
      op.to = m_.backing;
      op.bytes = tile_bytes(einsum.out, tile_at(nest, einsum, op.depth));
      resident[result.name] = std::max(resident[result.name], op.bytes);  // assembled in the buffer before the store
      place(op);
    }
  }

  bool read_in_later_pass(int e, int g) const {
    const int t = c_.einsums[static_cast<size_t>(e)].out.tensor;
    for (size_t r = 0; r < c_.einsums.size(); ++r)
      if (group_of_[r] == g && pass_of_[r] > pass_of_[static_cast<size_t>(e)])
        for (const Access& a : c_.einsums[r].reads)
          if (a.tensor == t) return true;
    return false;
  }

  void check_buffer(const TileGroup& out, const std::map<std::string, int64_t>& resident) const {
    const auto& buffer = std::get<SramSpec>(a_.find(m_.buffer)->spec);
    if (static_cast<double>(out.buffer_bytes) <= buffer.size_bytes) return;
    std::vector<std::pair<int64_t, std::string>> largest;
    for (const auto& [name, bytes] : resident) largest.emplace_back(bytes, name);
    std::sort(largest.rbegin(), largest.rend());
    std::vector<std::string> names;
    for (size_t i = 0; i < std::min<size_t>(3, largest.size()); ++i)
      names.push_back(fmt::format("{} ({})", largest[i].second, format_bytes(static_cast<double>(largest[i].first))));
    std::string tiles;
    for (const Loop& l : out.loops)
      if (l.tile > 1) tiles += fmt::format(" {}={}", l.index, l.tile);
    throw Infeasible{fmt::format("{} needs {} for the tiles of group '{}' (largest: {}; tiles{}); it has {}", m_.buffer,
                                 format_bytes(static_cast<double>(out.buffer_bytes)), out.name, fmt::join(names, ", "),
                                 tiles.empty() ? " none" : tiles, format_bytes(buffer.size_bytes))};
  }

  bool needed_later(int e, int g) const {
    const Einsum& einsum = c_.einsums[static_cast<size_t>(e)];
    if (c_.tensors[static_cast<size_t>(einsum.out.tensor)].output) return true;
    for (size_t r = 0; r < c_.einsums.size(); ++r)
      if (group_of_[r] > g)
        for (const Access& a : c_.einsums[r].reads)
          if (a.tensor == einsum.out.tensor) return true;
    return false;
  }

  TileOp compute(const Einsum& einsum, int e, const EinsumBinding& binding, const Nest& nest, int depth,
                 const std::vector<int64_t>& tile) const {
    TileOp op;
    op.kind = TileOp::Kind::compute;
    op.depth = depth;
    // A computation runs once per iteration of the loops over its own indices: loops over other indices
    // neither change its operands' meaning nor need it again (it is hoisted out of them, or runs after them).
    for (int l = 0; l < depth; ++l)
      if (nest.var[static_cast<size_t>(l)] >= 0) op.repeats.push_back(l);
    op.einsum = e;
    op.unit = binding.unit;
    if (binding.unit.empty())
      fail(binding.loc, binding.key, "this Einsum computes, so it needs a unit");
    const ComponentSpec* unit = a_.find(binding.unit);
    if (!unit || !unit->ops()) fail(binding.loc, binding.key + ".unit", fmt::format("{} has no compute unit named '{}'", a_.file, binding.unit));
    op.points = 1;
    for (int64_t t : tile) op.points *= t;
    const OpCounts total = einsum_ops(einsum);
    int64_t cycles_per_point = 0;
    for (const auto& [kind, n] : total) {
      const auto it = unit->ops()->find(kind);
      if (it == unit->ops()->end())
        throw Infeasible{fmt::format("{} cannot do {} (Einsum {} is bound to it)", unit->name, kind, einsum.name)};
      const int64_t per_point = n / einsum.points();
      op.ops[kind] = per_point * op.points;
      cycles_per_point += per_point * it->second.latency_cycles;
    }
    // Spatial indices spread over the array's dimensions; everything else runs in time.
    int64_t steps = op.points;
    for (const auto& [dim, index] : binding.spatial) {
      const int v = einsum.var_index(index);
      if (v < 0) fail(binding.loc, binding.key + ".spatial." + dim, fmt::format("'{}' has no index '{}'", einsum.name, index));
      const int64_t size = dimension(*unit, dim, binding);
      const int64_t t = tile[static_cast<size_t>(v)];
      steps = steps / t * cdiv(t, size);
    }
    int64_t per_cycle = 1;
    if (auto* p = std::get_if<PeArraySpec>(&unit->spec)) per_cycle = p->ops_per_cycle;
    op.cycles = cdiv(steps * cycles_per_point, per_cycle);
    // An index reduced across PEs or lanes combines through an adder (or max) tree: its levels delay the result
    // but, pipelined, do not hold the unit. Systolic arrays reduce as data flows, inside their fill and drain.
    const auto* pe = std::get_if<PeArraySpec>(&unit->spec);
    if (!pe || !pe->fold_overlap)
      for (const auto& [dim, index] : binding.spatial) {
        const int v = einsum.var_index(index);
        if (std::find(einsum.reduced.begin(), einsum.reduced.end(), v) == einsum.reduced.end()) continue;
        for (int64_t width = std::min(tile[static_cast<size_t>(v)], dimension(*unit, dim, binding)); width > 1; width = cdiv(width, 2))
          ++op.result_latency;
      }
    if (auto* p = std::get_if<PeArraySpec>(&unit->spec); p && p->fold_overlap) {
      // A systolic array: the unit's cycle model, with the tile's spatial extents and its streaming steps.
      int64_t sr = 1, sc = 1;
      for (const auto& [dim, index] : binding.spatial) (dim == "rows" ? sr : sc) = tile[static_cast<size_t>(einsum.var_index(index))];
      op.cycles = systolic_tile_cycles(p->rows, p->cols, p->dataflow, *p->fold_overlap, sr, sc, cdiv(op.points / (sr * sc) * cycles_per_point, per_cycle));
    }
    // Operands and results go through the buffer, unless they stay in the unit's register files.
    for (const Access& a : einsum.reads)
      if (!in_registers(a.tensor, *unit, tile_elements(a, tile))) op.buffer_read_bytes += tile_bytes(a, tile);
    if (!in_registers(einsum.out.tensor, *unit, tile_elements(einsum.out, tile))) op.buffer_write_bytes = tile_bytes(einsum.out, tile);
    return op;
  }

  // A tensor stays in a unit's register files when the unit both produces it and is its only reader, in the same
  // pass, nothing later needs it from memory, and each PE's share of a tile fits its register file.
  bool in_registers(int tensor, const ComponentSpec& unit, int64_t elements) const {
    const Tensor& t = c_.tensors[static_cast<size_t>(tensor)];
    const int w = t.writer;
    if (w < 0 || t.output || binding_.at(w)->unit != unit.name) return false;
    for (size_t r = 0; r < c_.einsums.size(); ++r)
      for (const Access& a : c_.einsums[r].reads)
        if (a.tensor == tensor && (group_of_[r] != group_of_[static_cast<size_t>(w)] || pass_of_[r] != pass_of_[static_cast<size_t>(w)] ||
                                   binding_.at(static_cast<int>(r))->unit != unit.name))
          return false;
    int64_t entries = 0;
    if (auto* p = std::get_if<PeArraySpec>(&unit.spec)) entries = p->regfile_entries;
    if (auto* v = std::get_if<VectorArraySpec>(&unit.spec)) entries = v->regfile_entries;
    return cdiv(elements, unit.parallelism()) <= entries;
  }

  int64_t dimension(const ComponentSpec& unit, const std::string& dim, const EinsumBinding& binding) const {
    if (auto* p = std::get_if<PeArraySpec>(&unit.spec)) {
      if (dim == "rows") return p->rows;
      if (dim == "cols") return p->cols;
    }
    if (auto* v = std::get_if<VectorArraySpec>(&unit.spec); v && dim == "lanes") return v->lanes;
    fail(binding.loc, binding.key + ".spatial." + dim, fmt::format("{} ({}) has no dimension '{}'", unit.name, unit.kind(), dim));
  }

  static std::vector<int> all_above(int depth) {
    std::vector<int> out(static_cast<size_t>(depth));
    for (int l = 0; l < depth; ++l) out[static_cast<size_t>(l)] = l;
    return out;
  }

  const Cascade& c_;
  const ArchSpec& a_;
  const MappingSpec& m_;
  std::vector<int> group_of_;
  std::vector<int> pass_of_;
  std::map<int, const EinsumBinding*> binding_;
};

}  // namespace

int64_t TileGroup::executions(const TileOp& op) const {
  int64_t n = 1;
  for (int l : op.repeats)  // saturates, so that evaluators can refuse absurd points instead of wrapping
    if (__builtin_mul_overflow(n, loops[static_cast<size_t>(l)].trips, &n)) return INT64_MAX;
  return n;
}

TileProgram lower(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& mapping) {
  return Lowering(cascade, arch, mapping).run();
}

}  // namespace einsim
