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

Group recurrence(const Cascade& cascade, const std::vector<int>& comp) {
  auto member = [&](int e) { return std::find(comp.begin(), comp.end(), e) != comp.end(); };
  std::vector<std::string> names;
  for (int e : comp) names.push_back(cascade.einsums[static_cast<size_t>(e)].name);
  const Einsum& first = cascade.einsums[static_cast<size_t>(comp[0])];
  const std::string cycle = fmt::format("dependency cycle among {}", fmt::join(names, ", "));

  // The step index: the one a recurrent tensor is written at, offset by a positive constant (m1+1).
  std::string step;
  for (int e : comp) {
    const Einsum& w = cascade.einsums[static_cast<size_t>(e)];
    const Tensor& t = cascade.tensors[static_cast<size_t>(w.out.tensor)];
    if (t.iterative_rank < 0) continue;
    const std::string s =
        w.vars[static_cast<size_t>(w.out.index[static_cast<size_t>(t.iterative_rank)].terms[0].first)].name;
    if (!step.empty() && s != step)
      fail_einsum(w, 0, fmt::format("{}: recurrences step along both '{}' and '{}'", cycle, step, s));
    step = s;
  }
  if (step.empty()) fail_einsum(first, 0, cycle + " (a cycle needs a recurrence such as X[m1+1] = f(X[m1]))");
  int64_t steps = 0;
  for (int e : comp) {
    const Einsum& x = cascade.einsums[static_cast<size_t>(e)];
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
  std::vector<std::pair<int, int>> same_step;  // (writer, reader)
  for (int e : comp) {
    const Einsum& reader = cascade.einsums[static_cast<size_t>(e)];
    for (const Access& a : reader.reads) {
      const Tensor& t = cascade.tensors[static_cast<size_t>(a.tensor)];
      if (!member(t.writer)) continue;
      const Einsum& writer = cascade.einsums[static_cast<size_t>(t.writer)];
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
  std::vector<int> pending = comp;
  while (!pending.empty()) {
    auto ready = std::find_if(pending.begin(), pending.end(), [&](int e) {
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
  const int n = static_cast<int>(cascade.einsums.size());
  std::vector<std::vector<int>> deps(static_cast<size_t>(n));  // einsum -> einsums it reads from
  for (int i = 0; i < n; ++i)
    for (const Access& a : cascade.einsums[static_cast<size_t>(i)].reads)
      if (const int w = cascade.tensors[static_cast<size_t>(a.tensor)].writer; w >= 0)
        deps[static_cast<size_t>(i)].push_back(w);

  // Tarjan's algorithm; components come out in dependency order (a component after those it reads from).
  std::vector<int> index(static_cast<size_t>(n), -1), low(static_cast<size_t>(n), 0), stack;
  std::vector<bool> on_stack(static_cast<size_t>(n), false);
  std::vector<std::vector<int>> components;
  int counter = 0;
  std::function<void(int)> visit = [&](int v) {
    index[static_cast<size_t>(v)] = low[static_cast<size_t>(v)] = counter++;
    stack.push_back(v);
    on_stack[static_cast<size_t>(v)] = true;
    for (int w : deps[static_cast<size_t>(v)]) {
      if (index[static_cast<size_t>(w)] < 0) {
        visit(w);
        low[static_cast<size_t>(v)] = std::min(low[static_cast<size_t>(v)], low[static_cast<size_t>(w)]);
      } else if (on_stack[static_cast<size_t>(w)]) {
        low[static_cast<size_t>(v)] = std::min(low[static_cast<size_t>(v)], index[static_cast<size_t>(w)]);
      }
    }
    if (low[static_cast<size_t>(v)] == index[static_cast<size_t>(v)]) {
      std::vector<int> comp;
      int w = -1;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[static_cast<size_t>(w)] = false;
        comp.push_back(w);
      } while (w != v);
      std::sort(comp.begin(), comp.end());
      components.push_back(comp);
    }
  };
  for (int i = 0; i < n; ++i)
    if (index[static_cast<size_t>(i)] < 0) visit(i);

  for (const std::vector<int>& comp : components) {
    const bool self_loop =
        std::find(deps[static_cast<size_t>(comp[0])].begin(), deps[static_cast<size_t>(comp[0])].end(), comp[0]) !=
        deps[static_cast<size_t>(comp[0])].end();
    if (comp.size() == 1 && !self_loop) {
      cascade.schedule.push_back(Group{comp, "", 1});
      continue;
    }
    cascade.schedule.push_back(recurrence(cascade, comp));
  }
}

}  // namespace einsim
