// Shape inference: each Einsum's index extents from the tensors it reads and writes, and its accesses as
// affine functions of its indices.
#include "workloads/loader.hpp"

namespace einsim::detail {

void Loader::collect_vars(PendingEinsum& p) {
  std::function<void(const Expr&, bool)> walk = [&](const Expr& e, bool in_index) {
    if (e.kind == Expr::Kind::name && in_index && !is_param(e.name) && is_lower_name(e.name) &&
        std::find(p.vars.begin(), p.vars.end(), e.name) == p.vars.end()) {
      p.vars.push_back(e.name);
      p.var_cols.push_back(e.col);
    }
    if (e.kind == Expr::Kind::access) {
      if (!cascade_.tensor_id(e.name).valid()) fail_at(p, e.col, fmt::format("undefined tensor '{}'", e.name));
    }
    for (const Expr& a : e.args) walk(a, in_index || e.kind == Expr::Kind::access);
  };
  walk(p.syntax.lhs, false);
  walk(p.syntax.rhs, false);
  if (p.syntax.rhs.kind == Expr::Kind::reduce) {
    for (size_t i = 0; i < p.syntax.rhs.vars.size(); ++i)
      if (std::find(p.vars.begin(), p.vars.end(), p.syntax.rhs.vars[i]) == p.vars.end())
        fail_at(p, p.syntax.rhs.var_cols[i],
                fmt::format("reduction index '{}' does not index any tensor", p.syntax.rhs.vars[i]));
  }
  p.extents.assign(p.vars.size(), std::nullopt);
}

int Loader::var_id(const PendingEinsum& p, const std::string& name) const {
  auto it = std::find(p.vars.begin(), p.vars.end(), name);
  return it == p.vars.end() ? -1 : static_cast<int>(it - p.vars.begin());
}

std::optional<Affine> Loader::affine(const PendingEinsum& p, const Expr& e, bool final) const {
  Affine out;
  switch (e.kind) {
    case Expr::Kind::access:  // a gather's index tensor: one row per point of its last index (make_access checks)
      if (e.args.empty()) fail_at(p, e.col, "a gather's index tensor needs its indices");
      return affine(p, e.args.back(), final);
    case Expr::Kind::number:
      if (std::floor(e.value) != e.value)
        fail_at(p, e.col, fmt::format("index expressions are integer, got {}", e.value));
      out.constant = bounded(p, e, e.value);
      return out;
    case Expr::Kind::name: {
      if (const int v = var_id(p, e.name); v >= 0) {
        out.terms.emplace_back(v, 1);
        return out;
      }
      if (const Param* prm = param(e.name)) {
        if (!prm->integer)
          fail_at(p, e.col,
                  fmt::format("param '{}' = {} is not an integer and cannot index a tensor", e.name, prm->value));
        out.constant = static_cast<int64_t>(prm->value);
        return out;
      }
      if (final) fail_at(p, e.col, fmt::format("undefined name '{}': neither a param nor an index extent", e.name));
      return std::nullopt;
    }
    case Expr::Kind::unary: {
      auto a = affine(p, e.args[0], final);
      if (!a) return a;
      a->constant = -a->constant;
      for (auto& t : a->terms) t.second = -t.second;
      return a;
    }
    case Expr::Kind::binary: {
      auto a = affine(p, e.args[0], final), b = affine(p, e.args[1], final);
      if (!a || !b) return std::nullopt;
      if (e.op == '+' || e.op == '-') {
        const int64_t sign = e.op == '+' ? 1 : -1;
        out = *a;
        out.constant = bounded(p, e, static_cast<double>(out.constant) + static_cast<double>(sign * b->constant));
        for (auto [v, c] : b->terms) add_term(out, v, sign * c);
        for (auto [v, c] : out.terms) bounded(p, e, static_cast<double>(c));
        return out;
      }
      if (e.op == '*') {
        if (!a->terms.empty() && !b->terms.empty()) fail_at(p, e.col, "non-affine index: a product of two indices");
        const Affine& var_side = a->terms.empty() ? *b : *a;
        const int64_t k = a->terms.empty() ? a->constant : b->constant;
        auto mul = [&](int64_t x) { return bounded(p, e, static_cast<double>(x) * static_cast<double>(k)); };
        out.constant = mul(var_side.constant);
        for (auto [v, c] : var_side.terms) add_term(out, v, mul(c));
        return out;
      }
      fail_at(p, e.col, "non-affine index: division is not allowed in an index (split the rank instead)");
    }
    default:
      fail_at(p, e.col, fmt::format("non-affine index '{}'", to_string(e)));
  }
}

int64_t Loader::bounded(const PendingEinsum& p, const Expr& e, double v) const {
  if (std::fabs(v) > kMaxExactInteger) fail_at(p, e.col, "index expression overflows (beyond 2^53)");
  return static_cast<int64_t>(v);
}

void Loader::add_term(Affine& a, int var, int64_t c) {
  for (auto it = a.terms.begin(); it != a.terms.end(); ++it) {
    if (it->first == var) {
      it->second += c;
      if (it->second == 0) a.terms.erase(it);
      return;
    }
  }
  if (c != 0) a.terms.emplace_back(var, c);
}

std::vector<const Expr*> Loader::accesses(const PendingEinsum& p) {
  std::vector<const Expr*> out{&p.syntax.lhs};
  std::function<void(const Expr&)> walk = [&](const Expr& e) {
    if (e.kind == Expr::Kind::access) out.push_back(&e);
    for (const Expr& a : e.args) walk(a);
  };
  walk(p.syntax.rhs);
  return out;
}

bool Loader::shape_known(TensorId t) const {
  const Tensor& tensor = cascade_.tensors[t];
  if (tensor.is_input()) return true;
  for (EinsumId piece : tensor.pieces)
    if (!pending_[piece].resolved) return false;
  return pending_[tensor.writer].resolved;
}

void Loader::infer_shapes() {
  for (bool progress = true; progress;) {
    progress = false;
    for (EinsumId e : pending_.ids())
      if (!pending_[e].resolved && try_resolve(e, false)) progress = true;
  }
  for (EinsumId e : pending_.ids())
    if (!pending_[e].resolved) try_resolve(e, true);
}

bool Loader::try_resolve(EinsumId e, bool final) {
  PendingEinsum& p = pending_[e];
  for (size_t v = 0; v < p.vars.size(); ++v) {
    if (p.extents[v]) continue;
    if (const Param* prm = param(upper(p.vars[v]))) {
      if (!prm->integer || prm->value < 1)
        fail_at(p, p.var_cols[v],
                fmt::format("index '{}' takes its extent from param {} = {}, which is not a positive integer",
                            p.vars[v], prm->name, prm->value));
      p.extents[v] = static_cast<int64_t>(prm->value);
    }
  }
  const TensorId self = cascade_.tensor_id(p.syntax.lhs.name);
  for (bool progress = true; progress;) {
    progress = false;
    const auto all = accesses(p);
    for (size_t k = 0; k < all.size(); ++k) {
      const Expr& acc = *all[k];
      const TensorId t = cascade_.tensor_id(acc.name);
      if (k > 0 && t == self) continue;  // a recurrence's own reads say nothing new
      if (k == 0 && !read_.declared_ranks.count(acc.name)) continue;
      if (k > 0 && !shape_known(t)) continue;  // a declared result's ranks are known before its writer is
      const Tensor& tensor = cascade_.tensors[t];
      if (acc.args.size() != tensor.ranks.size()) continue;  // reported by compile()
      for (size_t r = 0; r < acc.args.size(); ++r) {
        // A gathered rank's rows are picked by values, so its extent says nothing of the index's.
        if (static_cast<int>(r) == tensor.iterative_rank || acc.args[r].kind == Expr::Kind::access) continue;
        const auto a = affine(p, acc.args[r], false);
        if (!a) continue;
        if (infer_from(p, *a, tensor.ranks[r], acc.args[r].col)) progress = true;
      }
    }
  }
  for (size_t v = 0; v < p.vars.size(); ++v) {
    if (p.extents[v]) continue;
    if (!final) return false;
    fail_at(p, p.var_cols[v],
            fmt::format("cannot infer the extent of index '{}': add a param {} or use '{}' alone on a tensor rank",
                        p.vars[v], upper(p.vars[v]), p.vars[v]));
  }
  for (const Expr* acc : accesses(p))
    for (const Expr& idx : acc->args)
      if (!affine(p, idx, final)) return false;
  // Index extents become names (M1 for m1), so later Einsums can say RNV[f,M1,p].
  for (size_t v = 0; v < p.vars.size(); ++v) {
    if (param(upper(p.vars[v]))) continue;
    Param inferred;
    inferred.name = upper(p.vars[v]);
    inferred.value = static_cast<double>(*p.extents[v]);
    inferred.inferred = true;
    cascade_.params.push_back(inferred);
  }
  p.resolved = true;
  shape_output(e);
  return true;
}

bool Loader::infer_from(PendingEinsum& p, const Affine& a, const Rank& rank, int col) {
  int unknown = -1;
  Wide rest = a.constant;
  for (auto [v, c] : a.terms) {
    if (c <= 0) return false;
    if (!p.extents[static_cast<size_t>(v)]) {
      if (unknown >= 0) return false;
      unknown = v;
    } else {
      rest += static_cast<Wide>(c) * (*p.extents[static_cast<size_t>(v)] - 1);
    }
  }
  if (unknown < 0 || a.constant < 0) return false;
  const int64_t c = a.coefficient(unknown);
  const int64_t span = rest >= rank.extent ? -1 : rank.extent - 1 - static_cast<int64_t>(rest);
  if (span < 0 || span % c != 0)
    fail_at(p, col,
            fmt::format("cannot split rank {} (extent {}) evenly for index '{}'", rank.name, rank.extent,
                        p.vars[static_cast<size_t>(unknown)]));
  p.extents[static_cast<size_t>(unknown)] = span / c + 1;
  return true;
}

void Loader::shape_output(EinsumId e) {
  PendingEinsum& p = pending_[e];
  Tensor& out = cascade_.tensors[cascade_.tensor_id(p.syntax.lhs.name)];
  std::vector<Rank> ranks;
  for (size_t r = 0; r < p.syntax.lhs.args.size(); ++r) {
    const Affine a = *affine(p, p.syntax.lhs.args[r], true);
    auto [lo, hi] = bounds(p, a);
    if (lo < 0)
      fail_at(p, p.syntax.lhs.args[r].col,
              fmt::format("output index '{}' can be negative", to_string(p.syntax.lhs.args[r])));
    std::string name;
    for (auto [v, c] : a.terms) name += (name.empty() ? "" : "_") + upper(p.vars[static_cast<size_t>(v)]);
    if (name.empty()) name = std::to_string(a.constant);
    if (a.terms.size() == 1 && a.terms[0].second == 1 && a.constant > 0) out.iterative_rank = static_cast<int>(r);
    ranks.push_back(Rank{name, hi + 1});
  }
  if (!read_.declared_ranks.count(out.name)) out.ranks = std::move(ranks);
}

std::pair<int64_t, int64_t> Loader::bounds(const PendingEinsum& p, const Affine& a) const {
  Wide lo = a.constant, hi = a.constant;
  for (auto [v, c] : a.terms) {
    const Wide span = static_cast<Wide>(c) * (*p.extents[static_cast<size_t>(v)] - 1);
    (c > 0 ? hi : lo) += span;
  }
  if (hi > (Wide{1} << 62) || lo < -(Wide{1} << 62)) fail_at(p, 0, "index expression overflows");
  return {static_cast<int64_t>(lo), static_cast<int64_t>(hi)};
}

}  // namespace einsim::detail
