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

Group recurrence(const Cascade& cascade, const std::vector<EinsumId>& comp) {
  auto member = [&](EinsumId e) { return std::find(comp.begin(), comp.end(), e) != comp.end(); };
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
  if (step.empty()) fail_einsum(first, 0, cycle + " (a cycle needs a recurrence such as X[m1+1] = f(X[m1]))");
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

  // Reads inside the recurrence: of the previous step (lagged) or of this step (ordering edges).
  std::vector<std::pair<EinsumId, EinsumId>> same_step;  // (writer, reader)
  for (EinsumId e : comp) {
    const Einsum& reader = cascade.einsums[e];
    for (const Access& a : reader.reads) {
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
      if (rank < 0 || wa.terms.size() != 1 || wa.coefficient(ws) != 1 || ra.terms.size() != 1 ||
          ra.coefficient(rs) != 1)
        fail_einsum(reader, a.col,
                    fmt::format("{}: '{}' must be read at {} plus a constant along its rank {}", cycle, t.name, step,
                                rank < 0 ? "?" : t.ranks[static_cast<size_t>(rank)].name));
      const int64_t lag = wa.constant - ra.constant;
      if (lag < 0)
        fail_einsum(reader, a.col,
                    fmt::format("{}: '{}' is read {} step(s) ahead of where it is written", cycle, t.name, -lag));
      if (lag > 0 && !t.init)
        fail_einsum(
            reader, a.col,
            fmt::format("'{}' is read at {} = 0 before any step writes it: give it an init value", t.name, step));
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
      if (const EinsumId w = cascade.tensors[a.tensor].writer; w.valid()) deps[e].push_back(w);

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
