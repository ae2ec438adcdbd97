#include "mappings/verify.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "workloads/interpreter.hpp"

namespace einsim {
namespace {

constexpr double kTolerance = 1e-9;  // of a tensor's largest magnitude

// Runs the program's computations on a BoxEvaluator. Einsums the program has no computation for (a split or a
// copy that only renames a tensor's elements) are evaluated whole whenever a computation reads their result and
// what they read has changed since.
class TileOrder {
 public:
  TileOrder(const Cascade& c, const TileProgram& p, const TensorValues& inputs)
      : c_(c), p_(p), values_(c, inputs), computed_(c.einsums.size(), 0), stale_(c.einsums.size(), 1) {
    for (const TileGroup& g : p.groups)
      for (const TileOp& op : g.ops)
        if (op.kind == TileOp::Kind::compute) computed_[op.einsum] = 1;
  }

  int64_t run() {
    for (const TileGroup& g : p_.groups)
      if (!g.collective) run_group(g);  // a collective moves values the devices share; it computes none
    for (EinsumId e : c_.einsums.ids())
      if (!computed_[e]) refresh(e);
    return computations_;
  }

  TensorValues values() const { return values_.values(); }

 private:
  void run_group(const TileGroup& g) {
    std::vector<std::vector<std::pair<int, bool>>> rules;
    for (const TileOp& op : g.ops) rules.push_back(g.fire_rule(op, c_));
    std::vector<int64_t> at(g.loops.size(), 0);
    const int passes = std::max<int>(1, static_cast<int>(g.pass_loops.size()));
    walk(g, at, 0, g.outer_loops, [&] {
      for (int k = 0; k < passes; ++k) {
        const auto [first, last] = g.pass_loops.empty() ? std::pair<int, int>{g.outer_loops, g.outer_loops}
                                                        : g.pass_loops[static_cast<size_t>(k)];
        walk(g, at, first, last, [&] {
          for (size_t o = 0; o < g.ops.size(); ++o) {
            const TileOp& op = g.ops[o];
            if (op.kind != TileOp::Kind::compute || op.pass != k || !fires(g, rules[o], at)) continue;
            // A recurrence's steps that its where clause skips carry its state (the registers keep it): computing
            // such a tile copies the state a step on, as the cascade interpreter's masked steps do.
            if (!op.kept(at) && !carries(op.einsum)) continue;
            compute(g, op, at);
          }
        });
      }
    });
  }

  // Every iteration of loops [first, last), innermost fastest, `body` in each.
  static void walk(const TileGroup& g, std::vector<int64_t>& at, int first, int last,
                   const std::function<void()>& body) {
    if (first == last) return body();
    for (at[static_cast<size_t>(first)] = 0; at[static_cast<size_t>(first)] < g.loops[static_cast<size_t>(first)].trips;
         ++at[static_cast<size_t>(first)])
      walk(g, at, first + 1, last, body);
    at[static_cast<size_t>(first)] = 0;
  }

  static bool fires(const TileGroup& g, const std::vector<std::pair<int, bool>>& rule, const std::vector<int64_t>& at) {
    for (auto [l, last] : rule)
      if (at[static_cast<size_t>(l)] != (last ? g.loops[static_cast<size_t>(l)].trips - 1 : 0)) return false;
    return true;
  }

  bool carries(EinsumId e) const {
    const Einsum& einsum = c_.einsums[e];
    return !einsum.where.empty() && c_.tensors[einsum.out.tensor].iterative_rank >= 0;
  }

  // The execution's tile: per index, the sum over the loops it repeats over of counter times tile, as wide as the
  // innermost of them (the whole index when none walks it).
  void compute(const TileGroup& g, const TileOp& op, const std::vector<int64_t>& at) {
    const Einsum& e = c_.einsums[op.einsum];
    std::vector<int64_t> lo(e.vars.size(), 0), size(e.vars.size());
    for (size_t v = 0; v < e.vars.size(); ++v) size[v] = e.vars[v].extent;
    for (int l : op.repeats) {
      const Loop& loop = g.loops[static_cast<size_t>(l)];
      const int v = e.var_index(loop.index);
      if (v < 0) continue;
      lo[static_cast<size_t>(v)] += at[static_cast<size_t>(l)] * loop.tile;
      size[static_cast<size_t>(v)] = loop.tile;
    }
    std::vector<int64_t> hi(lo.size());
    for (size_t v = 0; v < lo.size(); ++v) hi[v] = lo[v] + size[v];
    for (const Access& a : e.reads) read(a.tensor);
    values_.compute(op.einsum, lo, hi);
    ++computations_;
    written(e.out.tensor);
  }

  // Brings the Einsums without a computation that write `t` up to date before it is read.
  void read(TensorId t) {
    for (EinsumId w : c_.tensors[t].writers())
      if (!computed_[w] && stale_[w]) refresh(w);
  }

  void refresh(EinsumId e) {
    const Einsum& einsum = c_.einsums[e];
    stale_[e] = 0;
    for (const Access& a : einsum.reads) read(a.tensor);
    std::vector<int64_t> lo(einsum.vars.size(), 0), hi;
    for (const Var& v : einsum.vars) hi.push_back(v.extent);
    values_.compute(e, lo, hi);
    written(einsum.out.tensor);
  }

  // What reads `t` without a computation of its own is out of date now.
  void written(TensorId t) {
    for (EinsumId e : c_.einsums.ids()) {
      if (computed_[e] || stale_[e]) continue;
      const Einsum& einsum = c_.einsums[e];
      if (std::any_of(einsum.reads.begin(), einsum.reads.end(), [&](const Access& a) { return a.tensor == t; })) {
        stale_[e] = 1;
        written(einsum.out.tensor);
      }
    }
  }

  const Cascade& c_;
  const TileProgram& p_;
  BoxEvaluator values_;
  IdVector<EinsumId, char> computed_;  // the program has a computation for it
  IdVector<EinsumId, char> stale_;     // (without one) what it reads changed since it was evaluated
  int64_t computations_ = 0;
};

std::string element_of(const Tensor& t, int64_t flat) {
  std::vector<int64_t> at(t.ranks.size());
  for (size_t r = t.ranks.size(); r-- > 0;) {
    at[r] = flat % t.ranks[r].extent;
    flat /= t.ranks[r].extent;
  }
  return fmt::format("[{}]", fmt::join(at, ", "));
}

}  // namespace

std::string TileCheck::summary() const {
  if (ok)
    return fmt::format(
        "the tile program's {} tile computation{} give{} the cascade's {} result{} the interpreter's values "
        "(seed {}, fp64, within {:g} of each result's largest magnitude)",
        computations, computations == 1 ? "" : "s", computations == 1 ? "s" : "", tensors, tensors == 1 ? "" : "s",
        seed, kTolerance);
  return fmt::format(
      "the tile program computes {} wrong: {} element{} differ{} from the cascade interpreter's, first {} = {:.9g} "
      "where the interpreter gives {:.9g} (seed {}, {} tile computation{})",
      tensor, wrong, wrong == 1 ? "" : "s", wrong == 1 ? "s" : "", tensor + element, got, expected, seed, computations,
      computations == 1 ? "" : "s");
}

TileCheck verify_values(const Cascade& cascade, const TileProgram& program, uint64_t seed) {
  const TensorValues inputs = random_inputs(cascade, seed);
  const TensorValues expected = evaluate(cascade, inputs, EvalOptions{true, true});
  TileOrder order(cascade, program, inputs);
  TileCheck check;
  check.seed = seed;
  check.computations = order.run();
  const TensorValues got = order.values();
  // The cascade's results: its outputs, and what no Einsum reads. An intermediate's elements no one reads may
  // differ (a causal cascade's local maxima of tiles it skips whole are never computed).
  IdVector<TensorId, char> read(cascade.tensors.size(), 0);
  for (const Einsum& e : cascade.einsums)
    for (const Access& a : e.reads) read[a.tensor] = 1;
  for (TensorId id : cascade.tensors.ids()) {
    const Tensor& t = cascade.tensors[id];
    if (t.is_input() || (!t.output && read[id])) continue;
    ++check.tensors;
    const std::vector<double>& want = expected.at(t.name);
    const std::vector<double>& have = got.at(t.name);
    double scale = 0;
    for (double x : want)
      if (std::isfinite(x)) scale = std::max(scale, std::fabs(x));
    int64_t wrong = 0, first = -1;
    for (size_t i = 0; i < want.size(); ++i) {
      const bool same = have[i] == want[i] || (std::isnan(have[i]) && std::isnan(want[i])) ||
                        std::fabs(have[i] - want[i]) <= kTolerance * scale;
      if (same) continue;
      if (first < 0) first = static_cast<int64_t>(i);
      ++wrong;
    }
    if (wrong == 0 || !check.ok) continue;
    check.ok = false;
    check.tensor = t.name;
    check.wrong = wrong;
    check.element = element_of(t, first);
    check.got = have[static_cast<size_t>(first)];
    check.expected = want[static_cast<size_t>(first)];
  }
  return check;
}

}  // namespace einsim
