#include "workloads/analysis.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace einsim {

OpCounts einsum_ops(const Einsum& e) {
  OpCounts ops = einsum_ops_per_point(e);
  for (auto& [kind, n] : ops) n *= e.points() / e.points_per_work();
  return ops;
}

OpCounts count_ops_per_point(const Einsum& e) {
  OpCounts ops;
  const int64_t n = 1;
  const Node& root = e.program.back();
  const bool reduces = !e.reduced.empty();
  // A sum of products is a multiply-accumulate: the root multiply merges into the reduction.
  const bool mac = reduces && e.reduce == Reduce::sum && root.op == Op::mul;
  for (size_t i = 0; i < e.program.size(); ++i) {
    const Op op = e.program[i].op;
    if (op == Op::constant || op == Op::read || (mac && i + 1 == e.program.size())) continue;
    ops[std::string(op_name(op))] += n;
  }
  if (e.reduce == Reduce::topk)
    ops["topk"] += n;  // a selection over a stream of scores (einsum_ops counts one a score)
  else if (mac)
    ops["mac"] += n;
  else if (reduces)
    ops[e.reduce == Reduce::sum ? "add" : e.reduce == Reduce::max ? "max" : "min"] += n;
  return ops;
}

namespace {

// Which index variables of each Einsum and which ranks of each tensor run along `rank`: seeded by the input
// tensors' ranks of that name and propagated through index expressions (m -> m1, m0 -> BQK's ranks -> ...).
struct RankFlow {
  IdVector<EinsumId, std::vector<bool>> var;     // [einsum][var]
  IdVector<TensorId, std::vector<bool>> tensor;  // [tensor][rank]
};

// With `only` set, just the index variables of that name carry the rank: one role of a rank that two indices
// share (self-attention's keys m and queries p, both from the prompt's rank P).
RankFlow flow_of(const Cascade& c, const std::string& rank, const std::string& only = "") {
  RankFlow f;
  for (const Tensor& t : c.tensors) {
    std::vector<bool> r(t.ranks.size(), false);
    if (t.is_input())
      for (size_t i = 0; i < t.ranks.size(); ++i) r[i] = t.ranks[i].name == rank;
    f.tensor.push_back(r);
  }
  for (const Einsum& e : c.einsums) f.var.emplace_back(e.vars.size(), false);
  for (bool changed = true; changed;) {
    changed = false;
    for (EinsumId ei : c.einsums.ids()) {
      const Einsum& e = c.einsums[ei];
      for (const Access& a : e.reads)
        for (size_t r = 0; r < a.index.size(); ++r)
          if (f.tensor[a.tensor][r])
            for (auto [v, coef] : a.index[r].terms)
              if (!f.var[ei][static_cast<size_t>(v)] && (only.empty() || e.vars[static_cast<size_t>(v)].name == only))
                changed = f.var[ei][static_cast<size_t>(v)] = true;
      for (size_t r = 0; r < e.out.index.size(); ++r)
        for (auto [v, coef] : e.out.index[r].terms)
          if (f.var[ei][static_cast<size_t>(v)] && !f.tensor[e.out.tensor][r])
            changed = f.tensor[e.out.tensor][r] = true;
    }
  }
  return f;
}

// Each tensor gets the pass in which its elements become available, and whether they stream out during that
// pass (they still run along the rank) or exist only once it is complete (the rank was reduced away, or only
// a fixed element of it is read). An Einsum that iterates along the rank joins the pass of streaming data and
// must start a new pass after complete data.
int passes_along(const Cascade& c, const RankFlow& f) {
  struct Level {
    int pass = 0;
    bool complete = false;
  };
  IdVector<TensorId, Level> level(c.tensors.size());
  // A read of a recurrence's earlier step (RD[m1] where RD[m1+1] is written, S[t] in S[t+1] = S[t] + ..., L[s]
  // where s < r) was computed by an earlier step of the same pass: it never starts a new pass. Without that a
  // recurrence that reads itself complete would climb one pass per round forever.
  int passes = 0;
  // Without reads of earlier steps the Einsums form a chain in schedule order: levels settle within one round per
  // group. Not settling then would be a bug, never a pass count.
  const size_t rounds = c.schedule.size() + 2;
  bool settled = false;
  for (size_t round = 0; round < rounds && !settled; ++round) {
    bool changed = false;
    for (EinsumId ei : c.einsums.ids()) {
      const Einsum& e = c.einsums[ei];
      const bool iterates = std::find(f.var[ei].begin(), f.var[ei].end(), true) != f.var[ei].end();
      int pass = iterates ? 1 : 0;
      for (const Access& a : e.reads) {
        if (a.earlier_step) continue;
        const Level& in = level[a.tensor];
        bool fixed_element = false;  // a constant index on a rank that runs along `rank`
        for (size_t r = 0; r < a.index.size(); ++r) fixed_element |= f.tensor[a.tensor][r] && a.index[r].terms.empty();
        const bool complete = in.complete || fixed_element;
        pass = std::max(pass, in.pass + (iterates && complete && in.pass > 0 ? 1 : 0));
      }
      const std::vector<bool>& out_ranks = f.tensor[e.out.tensor];
      const bool streams = std::find(out_ranks.begin(), out_ranks.end(), true) != out_ranks.end();
      const Level out{pass, !streams};
      Level& cur = level[e.out.tensor];
      if (out.pass > cur.pass || (out.pass == cur.pass && out.complete && !cur.complete)) {
        cur = out;
        changed = true;
      }
      if (iterates) passes = std::max(passes, pass);
    }
    settled = !changed;
  }
  if (!settled) throw InternalError("passes_over: the levels of " + c.name + " did not settle");
  return std::max(passes, 1);
}

}  // namespace

// The passes along the rank, and along each role of it an index plays where two indices run along it apart:
// self-attention's key index m is reduced while its query index p stays (GM[p] = max(m) S[m,p]), and m is
// walked three times where p streams through once. The parts of a split (m1 and m0 of m1*M0+m0) are one index
// walked in tiles, not two roles.
int passes_over(const Cascade& c, const std::string& rank) {
  const RankFlow f = flow_of(c, rank);
  int passes = passes_along(c, f);
  std::set<std::pair<std::string, std::string>> split_partners;  // indices that appear in one index expression
  for (const Einsum& e : c.einsums) {
    std::vector<const Affine*> exprs;
    for (const Affine& a : e.out.index) exprs.push_back(&a);
    for (const Access& r : e.reads)
      for (const Affine& a : r.index) exprs.push_back(&a);
    for (const Affine* a : exprs)
      for (auto [v, k] : a->terms)
        for (auto [w, l] : a->terms)
          split_partners.insert({e.vars[static_cast<size_t>(v)].name, e.vars[static_cast<size_t>(w)].name});
  }
  std::set<std::string> roles;
  for (EinsumId ei : c.einsums.ids()) {
    const Einsum& e = c.einsums[ei];
    for (int r : e.reduced)
      for (size_t k = 0; k < e.vars.size(); ++k) {
        const std::string& reduced = e.vars[static_cast<size_t>(r)].name;
        const bool kept = std::find(e.reduced.begin(), e.reduced.end(), static_cast<int>(k)) == e.reduced.end();
        if (f.var[ei][static_cast<size_t>(r)] && f.var[ei][k] && kept && !split_partners.count({reduced, e.vars[k].name}))
          roles.insert(reduced);
      }
  }
  for (const std::string& name : roles) passes = std::max(passes, passes_along(c, flow_of(c, rank, name)));
  return passes;
}

namespace {

// Y[n,h2] = H[n,h1] * W2[h1,h3]: h3 runs over W2's rank H2 and is summed, while h2 runs over the output's rank
// H2 and no operand reads it, so every Y[n,h2] is the same sum over all of W2's columns. Legal (a broadcast
// and a sum), but far more likely a typo; the cascade runs as written and `check` says so.
std::vector<std::string> mistyped_indices(const Cascade& c) {
  std::vector<std::string> out;
  for (const Einsum& e : c.einsums) {
    const Tensor& result = c.tensors[e.out.tensor];
    for (size_t r = 0; r < e.out.index.size() && r < result.ranks.size(); ++r) {
      const int b = e.out.index[r].bare_var();
      if (b < 0) continue;
      const bool read = std::any_of(e.reads.begin(), e.reads.end(), [&](const Access& a) {
        return std::any_of(a.index.begin(), a.index.end(), [&](const Affine& x) { return x.coefficient(b) != 0; });
      });
      if (read) continue;
      for (const Access& a : e.reads) {
        const Tensor& t = c.tensors[a.tensor];
        for (size_t k = 0; k < a.index.size() && k < t.ranks.size(); ++k) {
          const int s = a.index[k].bare_var();
          if (s < 0 || t.ranks[k].name != result.ranks[r].name ||
              std::find(e.reduced.begin(), e.reduced.end(), s) == e.reduced.end())
            continue;
          out.push_back(fmt::format(
              "Einsum {}: '{}' runs over rank {} of {} and is summed, while '{}' runs over rank {} of {} and no "
              "operand reads it: is '{}' meant to be '{}'?",
              e.name, e.vars[static_cast<size_t>(s)].name, t.ranks[k].name, t.name, e.vars[static_cast<size_t>(b)].name,
              result.ranks[r].name, result.name, e.vars[static_cast<size_t>(s)].name,
              e.vars[static_cast<size_t>(b)].name));
        }
      }
    }
  }
  return out;
}

// A tensor's bytes that must cross the memory interface at least once: all of it, unless it is an input read only
// by gathers, which need only the rows they pick (at most one row per point of each gather's result), or by
// guarded Einsums, which need only the guarded share (their guard's density).
int64_t compulsory_bytes(const Cascade& c, TensorId id) {
  const Tensor& t = c.tensors[id];
  if (!t.is_input()) return t.bytes();
  int64_t picked = 0;
  for (const Einsum& e : c.einsums)
    for (size_t r = 0; r < e.reads.size(); ++r) {
      const Access& a = e.reads[r];
      if (a.tensor != id) continue;
      const bool guarded = e.guard >= 0 && static_cast<int>(r) != e.guard;  // the guard itself: all of it
      if (a.gathered_ranks.empty() && !guarded) return t.bytes();
      const int64_t elements = a.gathered_ranks.empty() ? t.elements() : c.tensors[e.out.tensor].elements();
      const int64_t g = e.guard_elements;
      picked += bytes_for(t.dtype, !guarded            ? elements
                                   : elements % g == 0 ? elements / g * thinned(g, e.guard_rate)
                                                       : thinned(elements, e.guard_rate));
    }
  return std::min(picked, t.bytes());
}

}  // namespace

Analysis analyze(const Cascade& c) {
  Analysis a;
  a.warnings = mistyped_indices(c);
  for (const Einsum& e : c.einsums) {
    EinsumAnalysis ea{e.name, e.points(), einsum_ops(e)};
    for (const auto& [kind, n] : ea.ops) a.ops[kind] += n;
    a.einsums.push_back(std::move(ea));
  }
  for (TensorId id : c.tensors.ids()) {
    const Tensor& t = c.tensors[id];
    if (t.is_input() || t.output) a.compulsory_bytes += compulsory_bytes(c, id);
    if (!t.is_input()) continue;
    for (const Rank& r : t.ranks)
      if (std::none_of(a.passes.begin(), a.passes.end(), [&](const auto& p) { return p.first == r.name; }))
        a.passes.emplace_back(r.name, passes_over(c, r.name));
  }
  return a;
}

double total_ops(const Cascade& c) {
  double ops = 0;
  for (const auto& [kind, n] : analyze(c).ops) ops += static_cast<double>(n);
  return ops;
}

}  // namespace einsim
