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

// Points of one group of variables that share constraints: every assignment of all but the widest variable,
// and for each the interval the constraints leave the widest one.
std::optional<int64_t> count_group(const std::vector<int64_t>& extents, const std::vector<int>& vars,
                                   const std::vector<const Constraint*>& where) {
  const int solved = *std::max_element(vars.begin(), vars.end(), [&](int a, int b) {
    return extents[static_cast<size_t>(a)] < extents[static_cast<size_t>(b)];
  });
  std::vector<int> others;
  int64_t steps = 1;
  for (int v : vars)
    if (v != solved) {
      others.push_back(v);
      steps = std::min<int64_t>(kMaxCountSteps + 1, steps * extents[static_cast<size_t>(v)]);
    }
  if (steps > kMaxCountSteps) return std::nullopt;
  auto coefficient = [](const Constraint& c, int var) { return static_cast<Wide>(c.expr.coefficient(var)); };
  std::vector<int64_t> x(extents.size(), 0);
  const Wide width = extents[static_cast<size_t>(solved)];
  int64_t total = 0;
  for (;;) {
    Wide lo = 0, hi = width - 1;
    for (const Constraint* c : where) {
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
    if (hi >= lo) total += static_cast<int64_t>(hi - lo + 1);
    size_t i = others.size();
    while (i > 0 && ++x[static_cast<size_t>(others[i - 1])] == extents[static_cast<size_t>(others[i - 1])])
      x[static_cast<size_t>(others[--i])] = 0;
    if (i == 0) return total;
  }
}

}  // namespace

std::optional<int64_t> count_points(const std::vector<int64_t>& extents, const std::vector<Constraint>& where) {
  // Variables that share a constraint count together; independent groups multiply.
  std::vector<int> root(extents.size());
  std::iota(root.begin(), root.end(), 0);
  auto find = [&](int v) {
    while (root[static_cast<size_t>(v)] != v)
      v = root[static_cast<size_t>(v)] = root[static_cast<size_t>(root[static_cast<size_t>(v)])];
    return v;
  };
  std::vector<bool> constrained(extents.size(), false);
  for (const Constraint& c : where) {
    if (c.expr.terms.empty() && (c.equal ? c.expr.constant != 0 : c.expr.constant > 0)) return 0;
    for (auto [v, k] : c.expr.terms) {
      constrained[static_cast<size_t>(v)] = true;
      root[static_cast<size_t>(find(v))] = find(c.expr.terms[0].first);
    }
  }
  int64_t total = 1;
  std::vector<bool> done(extents.size(), false);
  for (size_t v = 0; v < extents.size(); ++v) {
    if (!constrained[v]) {
      total *= extents[v];
      continue;
    }
    const int r = find(static_cast<int>(v));
    if (done[static_cast<size_t>(r)]) continue;
    done[static_cast<size_t>(r)] = true;
    std::vector<int> vars;
    for (size_t u = 0; u < extents.size(); ++u)
      if (constrained[u] && find(static_cast<int>(u)) == r) vars.push_back(static_cast<int>(u));
    std::vector<const Constraint*> group;
    for (const Constraint& c : where)
      if (!c.expr.terms.empty() && find(c.expr.terms[0].first) == r) group.push_back(&c);
    const std::optional<int64_t> n = count_group(extents, vars, group);
    if (!n) return std::nullopt;
    total *= *n;
  }
  return total;
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
