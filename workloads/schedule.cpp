#include "workloads/schedule.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

namespace einsim {
namespace {

[[noreturn]] void fail_einsum(const Einsum& e, int col, const std::string& message) {
  throw UserError(SourceLoc{e.loc.file, e.loc.line, col > 0 ? col : e.loc.col}, "", message, true);
}

// The smallest k for which `where` holds j <= i - k (j < i is k = 1), from a constraint on j and i alone; 0 when
// it has none with k >= 1.
int64_t kept_below(const Einsum& e, int j, int i) {
  int64_t best = 0;
  for (const Constraint& c : e.where)
    if (!c.equal && c.expr.terms.size() == 2 && c.expr.coefficient(j) == 1 && c.expr.coefficient(i) == -1 &&
        c.expr.constant >= 1)
      best = std::max(best, c.expr.constant);
  return best;
}

// A recurrence without a tensor written at index+offset steps along the index its writer writes at where a reader
// reads another index, which the where clause keeps below it: L[s] in L[r] = ... L[s] ... where s < r. Without
// such a clause, the first read at another index names the step, so that the error says what the clause lacks.
std::string substitution_step(const Cascade& cascade, const std::vector<EinsumId>& comp) {
  std::string candidate;
  for (EinsumId e : comp) {
    const Einsum& reader = cascade.einsums[e];
    for (const Access& a : reader.reads) {
      const Tensor& t = cascade.tensors[a.tensor];
      if (std::find(comp.begin(), comp.end(), t.writer) == comp.end()) continue;
      const Einsum& writer = cascade.einsums[t.writer];
      for (size_t r = 0; r < a.index.size(); ++r) {
        const int wv = writer.out.index[r].bare_var();
        const int rv = a.index[r].bare_var();
        if (wv < 0 || rv < 0) continue;
        const std::string& name = writer.vars[static_cast<size_t>(wv)].name;
        const int i = reader.var_index(name);
        if (i < 0 || i == rv) continue;
        if (kept_below(reader, rv, i) > 0) return name;
        if (candidate.empty()) candidate = name;
      }
    }
  }
  return candidate;
}

Group recurrence(Cascade& cascade, const std::vector<EinsumId>& comp) {
  auto member = [&](EinsumId e) { return std::find(comp.begin(), comp.end(), e) != comp.end(); };
  for (EinsumId e : comp)
    if (!cascade.tensors[cascade.einsums[e].out.tensor].pieces.empty())
      fail_einsum(cascade.einsums[e], 0,
                  fmt::format("'{}' is written in parts inside a recurrence, which einsim cannot order",
                              cascade.tensors[cascade.einsums[e].out.tensor].name));
  std::vector<std::string> names;
  for (EinsumId e : comp) names.push_back(cascade.einsums[e].name);
  const Einsum& first = cascade.einsums[comp[0]];
  const std::string cycle = fmt::format("dependency cycle among {}", fmt::join(names, ", "));

  // The step index: the one a recurrent tensor is written at, offset by a positive constant (m1+1).
  std::string step;
  for (EinsumId e : comp) {
    const Einsum& w = cascade.einsums[e];
    const Tensor& t = cascade.tensors[w.out.tensor];
    if (t.iterative_rank < 0) continue;
    const std::string s =
        w.vars[static_cast<size_t>(w.out.index[static_cast<size_t>(t.iterative_rank)].terms[0].first)].name;
    if (!step.empty() && s != step)
      fail_einsum(w, 0, fmt::format("{}: recurrences step along both '{}' and '{}'", cycle, step, s));
    step = s;
  }
  if (step.empty()) step = substitution_step(cascade, comp);
  if (step.empty())
    fail_einsum(first, 0,
                cycle +
                    " (a cycle needs a recurrence such as X[m1+1] = f(X[m1]), or a read of earlier steps such as "
                    "L[s] where s < r)");
  int64_t steps = 0;
  for (EinsumId e : comp) {
    const Einsum& x = cascade.einsums[e];
    const int v = x.var_index(step);
    if (v < 0)
      fail_einsum(x, 0, fmt::format("{}: '{}' does not run along the recurrence index '{}'", cycle, x.name, step));
    if (steps && x.vars[static_cast<size_t>(v)].extent != steps)
      fail_einsum(x, 0,
                  fmt::format("{}: index '{}' has extent {} here but {} elsewhere in the recurrence", cycle, step,
                              x.vars[static_cast<size_t>(v)].extent, steps));
    steps = x.vars[static_cast<size_t>(v)].extent;
  }

  // Reads inside the recurrence: of earlier steps (lagged, or any earlier one) or of this step (ordering edges).
  std::vector<std::pair<EinsumId, EinsumId>> same_step;  // (writer, reader)
  for (EinsumId e : comp) {
    Einsum& reader = cascade.einsums[e];
    for (Access& a : reader.reads) {
      const Tensor& t = cascade.tensors[a.tensor];
      if (!member(t.writer)) continue;
      const Einsum& writer = cascade.einsums[t.writer];
      const int ws = writer.var_index(step);
      int rank = -1;
      for (size_t r = 0; r < writer.out.index.size(); ++r)
        if (writer.out.index[r].coefficient(ws) != 0) rank = static_cast<int>(r);
      const Affine& wa = writer.out.index[static_cast<size_t>(std::max(rank, 0))];
      const Affine& ra = a.index[static_cast<size_t>(std::max(rank, 0))];
      const int rs = reader.var_index(step);
      if (rank >= 0 && wa.terms.size() == 1 && wa.coefficient(ws) == 1 && ra.bare_var() >= 0 && ra.bare_var() != rs) {
        // Forward substitution: another index, which the where clause keeps at least k below the step, reads the
        // elements steps before this one wrote (index j is written at step j - offset); those below the offset
        // come from init.
        const int64_t k = kept_below(reader, ra.bare_var(), rs);
        if (k + wa.constant < 1)
          fail_einsum(reader, a.col,
                      fmt::format("{}: '{}' is read at {}, which the where clause must keep below {}{} (such as {} < "
                                  "{}), the steps already done",
                                  cycle, t.name, reader.vars[static_cast<size_t>(ra.bare_var())].name, step,
                                  wa.constant > 0 ? fmt::format(" + {}", wa.constant) : "",
                                  reader.vars[static_cast<size_t>(ra.bare_var())].name, step));
        if (wa.constant > 0 && !t.init && !t.init_from.valid())
          fail_einsum(reader, a.col,
                      fmt::format("'{}' is read below {} before any step writes it: give it an init value", t.name,
                                  wa.constant));
        a.earlier_step = true;
        continue;
      }
      if (rank < 0 || wa.terms.size() != 1 || wa.coefficient(ws) != 1 || ra.terms.size() != 1 ||
          ra.coefficient(rs) != 1)
        fail_einsum(reader, a.col,
                    fmt::format("{}: '{}' must be read at {} plus a constant along its rank {}, or at an index the "
                                "where clause keeps below {}",
                                cycle, t.name, step, rank < 0 ? "?" : t.ranks[static_cast<size_t>(rank)].name, step));
      const int64_t lag = wa.constant - ra.constant;
      if (lag < 0)
        fail_einsum(reader, a.col,
                    fmt::format("{}: '{}' is read {} step(s) ahead of where it is written", cycle, t.name, -lag));
      if (lag > 0 && !t.init)
        fail_einsum(
            reader, a.col,
            fmt::format("'{}' is read at {} = 0 before any step writes it: give it an init value", t.name, step));
      a.earlier_step = lag > 0;
      if (lag == 0) {
        if (t.writer == e)
          fail_einsum(reader, a.col, fmt::format("{}: '{}' reads the element it writes", cycle, t.name));
        same_step.emplace_back(t.writer, e);
      }
    }
  }
  // Order within a step (Kahn, ties by file order).
  Group g{{}, step, steps};
  std::vector<EinsumId> pending = comp;
  while (!pending.empty()) {
    auto ready = std::find_if(pending.begin(), pending.end(), [&](EinsumId e) {
      return std::none_of(same_step.begin(), same_step.end(), [&](const auto& edge) {
        return edge.second == e && std::find(pending.begin(), pending.end(), edge.first) != pending.end();
      });
    });
    if (ready == pending.end()) fail_einsum(first, 0, cycle + " within one step of the recurrence");
    g.einsums.push_back(*ready);
    pending.erase(ready);
  }
  return g;
}

}  // namespace

void build_schedule(Cascade& cascade) {
  const size_t n = cascade.einsums.size();
  IdVector<EinsumId, std::vector<EinsumId>> deps(n);  // einsum -> einsums it reads from
  for (EinsumId e : cascade.einsums.ids())
    for (const Access& a : cascade.einsums[e].reads)
      for (EinsumId w : cascade.tensors[a.tensor].writers()) deps[e].push_back(w);  // every part of one in parts

  // Tarjan's algorithm; components come out in dependency order (a component after those it reads from).
  IdVector<EinsumId, int> index(n, -1), low(n, 0);
  IdVector<EinsumId, bool> on_stack(n, false);
  std::vector<EinsumId> stack;
  std::vector<std::vector<EinsumId>> components;
  int counter = 0;
  std::function<void(EinsumId)> visit = [&](EinsumId v) {
    index[v] = low[v] = counter++;
    stack.push_back(v);
    on_stack[v] = true;
    for (EinsumId w : deps[v]) {
      if (index[w] < 0) {
        visit(w);
        low[v] = std::min(low[v], low[w]);
      } else if (on_stack[w]) {
        low[v] = std::min(low[v], index[w]);
      }
    }
    if (low[v] == index[v]) {
      std::vector<EinsumId> comp;
      EinsumId w;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[w] = false;
        comp.push_back(w);
      } while (w != v);
      std::sort(comp.begin(), comp.end());
      components.push_back(comp);
    }
  };
  for (EinsumId e : cascade.einsums.ids())
    if (index[e] < 0) visit(e);

  for (const std::vector<EinsumId>& comp : components) {
    const std::vector<EinsumId>& first_deps = deps[comp[0]];
    const bool self_loop = std::find(first_deps.begin(), first_deps.end(), comp[0]) != first_deps.end();
    if (comp.size() == 1 && !self_loop) {
      cascade.schedule.push_back(Group{comp, "", 1});
      continue;
    }
    cascade.schedule.push_back(recurrence(cascade, comp));
  }
}

}  // namespace einsim
