#include "workloads/predicate.hpp"

#include <algorithm>
#include <numeric>

namespace einsim {
namespace {

__extension__ using Wide = __int128;  // sums of products of 2^53-bounded coefficients and 2^62-bounded indices

Wide floor_div(Wide a, Wide b) {
  Wide q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

Wide ceil_div(Wide a, Wide b) { return -floor_div(-a, b); }

// Variables that share a constraint, with their constraints; independent groups combine by product (counts) or
// sum (extremes of an affine expression).
struct Linked {
  std::vector<int> vars;
  std::vector<const Constraint*> where;
};

// nullopt when some constraint without variables fails (no point is kept).
std::optional<std::vector<Linked>> link(size_t n, const std::vector<Constraint>& where) {
  std::vector<int> root(n);
  std::iota(root.begin(), root.end(), 0);
  auto find = [&](int v) {
    while (root[static_cast<size_t>(v)] != v)
      v = root[static_cast<size_t>(v)] = root[static_cast<size_t>(root[static_cast<size_t>(v)])];
    return v;
  };
  std::vector<bool> constrained(n, false);
  for (const Constraint& c : where) {
    if (c.expr.terms.empty() && (c.equal ? c.expr.constant != 0 : c.expr.constant > 0)) return std::nullopt;
    for (auto [v, k] : c.expr.terms) {
      constrained[static_cast<size_t>(v)] = true;
      root[static_cast<size_t>(find(v))] = find(c.expr.terms[0].first);
    }
  }
  std::vector<Linked> out;
  std::vector<int> group_of(n, -1);
  for (size_t v = 0; v < n; ++v) {
    if (!constrained[v]) continue;
    int& g = group_of[static_cast<size_t>(find(static_cast<int>(v)))];
    if (g < 0) {
      g = static_cast<int>(out.size());
      out.emplace_back();
    }
    out[static_cast<size_t>(g)].vars.push_back(static_cast<int>(v));
  }
  for (const Constraint& c : where)
    if (!c.expr.terms.empty())
      out[static_cast<size_t>(group_of[static_cast<size_t>(find(c.expr.terms[0].first))])].where.push_back(&c);
  return out;
}

// Every assignment of a group's variables but its widest, and for each the interval [lo, hi] the constraints
// leave the widest one (possibly empty): visit(x, solved, lo, hi). False when there are over kMaxCountSteps.
template <typename Visit>
bool for_each_interval(const std::vector<int64_t>& extents, const Linked& group, Visit visit) {
  const int solved = *std::max_element(group.vars.begin(), group.vars.end(), [&](int a, int b) {
    return extents[static_cast<size_t>(a)] < extents[static_cast<size_t>(b)];
  });
  std::vector<int> others;
  int64_t steps = 1;
  for (int v : group.vars)
    if (v != solved) {
      others.push_back(v);
      steps = std::min<int64_t>(kMaxCountSteps + 1, steps * extents[static_cast<size_t>(v)]);
    }
  if (steps > kMaxCountSteps) return false;
  auto coefficient = [](const Constraint& c, int var) { return static_cast<Wide>(c.expr.coefficient(var)); };
  std::vector<int64_t> x(extents.size(), 0);
  const Wide width = extents[static_cast<size_t>(solved)];
  for (;;) {
    Wide lo = 0, hi = width - 1;
    for (const Constraint* c : group.where) {
      Wide sum = c->expr.constant;
      for (int v : others) sum += coefficient(*c, v) * x[static_cast<size_t>(v)];
      const Wide k = coefficient(*c, solved);
      if (k == 0) {
        if (c->equal ? sum != 0 : sum > 0) hi = -1;
      } else if (c->equal) {
        if (sum % k != 0) {
          hi = -1;
        } else {
          lo = std::max(lo, -sum / k);
          hi = std::min(hi, -sum / k);
        }
      } else if (k > 0) {
        hi = std::min(hi, floor_div(-sum, k));  // k x + sum <= 0
      } else {
        lo = std::max(lo, ceil_div(sum, -k));
      }
    }
    visit(x, solved, static_cast<int64_t>(lo), static_cast<int64_t>(hi));
    size_t i = others.size();
    while (i > 0 && ++x[static_cast<size_t>(others[i - 1])] == extents[static_cast<size_t>(others[i - 1])])
      x[static_cast<size_t>(others[--i])] = 0;
    if (i == 0) return true;
  }
}

}  // namespace

std::optional<int64_t> count_points(const std::vector<int64_t>& extents, const std::vector<Constraint>& where) {
  const std::optional<std::vector<Linked>> groups = link(extents.size(), where);
  if (!groups) return 0;
  int64_t total = 1;
  std::vector<bool> free(extents.size(), true);
  for (const Linked& g : *groups) {
    int64_t n = 0;
    if (!for_each_interval(extents, g, [&](const std::vector<int64_t>&, int, int64_t lo, int64_t hi) {
          if (hi >= lo) n += hi - lo + 1;
        }))
      return std::nullopt;
    total *= n;
    for (int v : g.vars) free[static_cast<size_t>(v)] = false;
  }
  for (size_t v = 0; v < extents.size(); ++v)
    if (free[v]) total *= extents[v];
  return total;
}

std::optional<std::pair<int64_t, int64_t>> kept_bounds(const std::vector<int64_t>& extents,
                                                       const std::vector<Constraint>& where, const Affine& a,
                                                       bool& none) {
  none = false;
  const std::optional<std::vector<Linked>> groups = link(extents.size(), where);
  if (!groups) {
    none = true;
    return std::pair<int64_t, int64_t>{0, 0};
  }
  Wide lo = a.constant, hi = a.constant;
  std::vector<bool> free(extents.size(), true);
  for (const Linked& g : *groups) {
    for (int v : g.vars) free[static_cast<size_t>(v)] = false;
    Wide least = 0, most = 0;
    bool any = false;
    if (!for_each_interval(extents, g, [&](const std::vector<int64_t>& x, int solved, int64_t from, int64_t to) {
          if (to < from) return;
          Wide rest = 0;
          for (int v : g.vars)
            if (v != solved) rest += static_cast<Wide>(a.coefficient(v)) * x[static_cast<size_t>(v)];
          const Wide k = a.coefficient(solved);
          const Wide ends[2] = {rest + k * from, rest + k * to};
          const Wide small = std::min(ends[0], ends[1]), large = std::max(ends[0], ends[1]);
          least = any ? std::min(least, small) : small;
          most = any ? std::max(most, large) : large;
          any = true;
        }))
      return std::nullopt;
    if (!any) {
      none = true;
      return std::pair<int64_t, int64_t>{0, 0};
    }
    lo += least;
    hi += most;
  }
  for (auto [v, k] : a.terms)
    if (free[static_cast<size_t>(v)]) (k > 0 ? hi : lo) += static_cast<Wide>(k) * (extents[static_cast<size_t>(v)] - 1);
  if (hi > (Wide{1} << 62) || lo < -(Wide{1} << 62)) return std::nullopt;
  return std::pair<int64_t, int64_t>{static_cast<int64_t>(lo), static_cast<int64_t>(hi)};
}

bool box_may_satisfy(const std::vector<int64_t>& lo, const std::vector<int64_t>& hi,
                     const std::vector<Constraint>& where) {
  for (const Constraint& c : where) {
    Wide least = c.expr.constant, most = c.expr.constant;
    for (auto [v, k] : c.expr.terms) {
      const Wide a = static_cast<Wide>(k) * lo[static_cast<size_t>(v)],
                 b = static_cast<Wide>(k) * hi[static_cast<size_t>(v)];
      least += std::min(a, b);
      most += std::max(a, b);
    }
    if (least > 0 || (c.equal && most < 0)) return false;
  }
  return true;
}

}  // namespace einsim
