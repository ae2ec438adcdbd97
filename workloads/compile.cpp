// Compiling Einsums: accesses with strides and bounds, expressions into node programs; and the tensors' checks.
#include "workloads/loader.hpp"
#include "workloads/analysis.hpp"
#include "workloads/predicate.hpp"

#include <tuple>

namespace einsim::detail {

namespace {

bool contains_access(const Expr& x) {
  return x.kind == Expr::Kind::access || std::any_of(x.args.begin(), x.args.end(), contains_access);
}

}  // namespace

void Loader::compile() {
  for (const PendingEinsum& p : pending_) {
    cascade_.einsums.push_back(compile_one(p));
    cascade_.einsums.back().ops_per_point = count_ops_per_point(cascade_.einsums.back());
  }
  // Rank names of lone indices, for the passes analysis and messages.
  for (Einsum& e : cascade_.einsums)
    for (Var& v : e.vars)
      if (v.rank.empty()) v.rank = upper(v.name);
}

Access Loader::make_access(const PendingEinsum& p, const Expr& acc, Einsum& e) const {
  Access out;
  out.tensor = cascade_.tensor_id(acc.name);
  out.col = p.loc.col + acc.col;
  const Tensor& t = cascade_.tensors[out.tensor];
  if (acc.args.size() != t.ranks.size())
    fail_at(p, acc.col,
            fmt::format("'{}' has {} ranks but is indexed with {}", t.name, t.ranks.size(), acc.args.size()));
  for (size_t r = 0; r < acc.args.size(); ++r) {
    const Expr& arg = acc.args[r];
    if (arg.kind == Expr::Kind::access) {  // a gather: this rank's rows are the values of an index tensor
      if (&acc == &p.syntax.lhs) fail_at(p, arg.col, "a gather reads by an index tensor; it cannot write by one");
      for (const Expr& i : arg.args)
        if (contains_access(i)) fail_at(p, i.col, "an index tensor is read at plain indices");
      const Affine last = *affine(p, arg.args.back(), true);
      if (last.bare_var() < 0)
        fail_at(
            p, arg.args.back().col,
            fmt::format("a gather reads its index tensor '{}' at a plain index in its last rank (the rows it picks)",
                        arg.name));
      out.gathered_ranks.push_back(static_cast<int>(r));
      out.index.push_back(last);
      continue;
    }
    if (contains_access(arg))
      fail_at(p, arg.col, "an index tensor's element is a whole index (K[b,I[b,k]]), not part of an expression");
    const Affine a = *affine(p, arg, true);
    auto [lo, hi] = bounds(p, a);
    const Rank& rank = t.ranks[r];
    if (!e.where.empty() && &acc != &p.syntax.lhs && (lo < 0 || hi >= rank.extent)) {
      // A read outside the tensor somewhere in the box may stay inside over the points the where clause keeps.
      std::vector<int64_t> extents;
      for (const Var& v : e.vars) extents.push_back(v.extent);
      bool none = false;
      if (const auto kept = kept_bounds(extents, e.where, a, none); kept && !none) std::tie(lo, hi) = *kept;
      if (none) lo = hi = 0;
    }
    const int col = acc.args[r].col;
    if (lo < 0 || hi >= rank.extent)
      fail_at(p, col,
              fmt::format("index '{}' spans [{}, {}] but rank {} of '{}' has extent {}", to_string(acc.args[r]), lo, hi,
                          rank.name, t.name, rank.extent));
    // A read the where clause keeps inside a shorter rank is a window of it (a part of a concatenation:
    // Y[m] = A[m] where m < MA), checked above; it addresses a rank of its own.
    const bool window = &acc != &p.syntax.lhs && !e.where.empty() && a.bare_var() >= 0 &&
                        e.vars[static_cast<size_t>(a.bare_var())].extent > rank.extent;
    if (const int v = a.bare_var(); v >= 0 && !window) {
      Var& var = e.vars[static_cast<size_t>(v)];
      if (var.extent != rank.extent && static_cast<int>(r) != t.iterative_rank)
        fail_at(p, col,
                fmt::format("shape mismatch: index '{}' has extent {} but rank {} of '{}' has extent {}", var.name,
                            var.extent, rank.name, t.name, rank.extent));
      // Ranks the file names (an input's, a declared tensor's) must agree; an intermediate's inferred rank names
      // are only its writer's index names, so they constrain nothing (L[r,s] may be read as L[j,s]).
      const bool named = t.is_input() || read_.declared_ranks.count(t.name);
      if (static_cast<int>(r) != t.iterative_rank && named) {
        if (var.rank.empty())
          var.rank = rank.name;
        else if (var.rank != rank.name)
          fail_at(
              p, col,
              fmt::format(
                  "rank used inconsistently: index '{}' addresses rank {} here but rank {} elsewhere in this Einsum",
                  var.name, rank.name, var.rank));
      }
    }
    out.index.push_back(a);
  }
  return out;
}

Einsum Loader::compile_one(const PendingEinsum& p) const {
  Einsum e;
  e.name = p.syntax.lhs.name;
  e.text = p.text;
  e.loc = p.loc;
  int64_t points = 1;
  for (size_t v = 0; v < p.vars.size(); ++v) {
    e.vars.push_back(Var{p.vars[v], *p.extents[v], ""});
    points = checked_product(points, *p.extents[v], [&] {
      fail_at(p, 0, "the iteration space of this Einsum is too large (over 2^62 points)");
    });
  }
  read_where(p, e);  // before the accesses: a masked point's reads need not stay inside their tensors
  e.out = make_access(p, p.syntax.lhs, e);
  const Tensor& out = cascade_.tensors[e.out.tensor];
  // A declared output must be covered: each of its ranks written from 0 (or from its init) to the end.
  for (size_t r = 0; r < e.out.index.size(); ++r) {
    const auto [lo, hi] = bounds(p, e.out.index[r]);
    const bool recurrent = static_cast<int>(r) == out.iterative_rank;
    if (hi != out.ranks[r].extent - 1 || (lo != 0 && !recurrent))
      fail_at(p, p.syntax.lhs.args[r].col,
              fmt::format("shape mismatch: this Einsum writes [{}, {}] of rank {} of '{}', which has extent {}", lo, hi,
                          out.ranks[r].name, out.name, out.ranks[r].extent));
  }
  const Expr* body = &p.syntax.rhs;
  std::vector<std::string> listed;
  if (body->kind == Expr::Kind::reduce) {
    e.reduce = body->name == "max"    ? Reduce::max
               : body->name == "min"  ? Reduce::min
               : body->name == "topk" ? Reduce::topk
                                      : Reduce::sum;
    listed = body->vars;
    body = &body->args[0];
  }
  std::vector<bool> in_output(e.vars.size(), false);
  for (const Affine& a : e.out.index)
    for (auto [v, c] : a.terms) in_output[static_cast<size_t>(v)] = true;
  for (size_t v = 0; v < e.vars.size(); ++v)
    if (!in_output[v]) e.reduced.push_back(static_cast<int>(v));
  if (p.syntax.rhs.kind == Expr::Kind::reduce) {
    for (size_t i = 0; i < listed.size(); ++i)
      if (in_output[static_cast<size_t>(var_id(p, listed[i]))])
        fail_at(p, p.syntax.rhs.var_cols[i],
                fmt::format("index '{}' is reduced by {}(...) but also appears in the output", listed[i],
                            p.syntax.rhs.name));
    for (int v : e.reduced)
      if (std::find(listed.begin(), listed.end(), e.vars[static_cast<size_t>(v)].name) == listed.end())
        fail_at(p, p.syntax.rhs.col,
                fmt::format("index '{}' is absent from the output, so {}(...) must list it",
                            e.vars[static_cast<size_t>(v)].name, p.syntax.rhs.name));
  }
  compile_expr(p, *body, e);
  count_kept(p, e);
  check_selection(p, e, *body);
  read_guard(p, e);
  return e;
}

void Loader::read_guard(const PendingEinsum& p, Einsum& e) const {
  if (p.syntax.guard_col < 0) return;
  const Expr& g = p.syntax.guard;
  const TensorId id = cascade_.tensor_id(g.name);
  if (!id.valid()) fail_at(p, g.col, fmt::format("undefined tensor '{}'", g.name));
  for (const Expr& arg : g.args) {
    const int v = arg.kind == Expr::Kind::name ? var_id(p, arg.name) : -1;
    if (v < 0 || std::find(e.reduced.begin(), e.reduced.end(), v) != e.reduced.end())
      fail_at(p, arg.col,
              "a guard is read at plain indices of the result (it decides which of the result's elements are "
              "computed)");
  }
  // Not modelled yet: a guard beside another rule for which points are computed.
  if (e.reduce == Reduce::topk) fail_at(p, p.syntax.guard_col, "topk takes no guard");
  if (!e.where.empty()) fail_at(p, p.syntax.guard_col, "an Einsum takes a where clause or a guard, not both");
  if (cascade_.tensors[e.out.tensor].iterative_rank >= 0)
    fail_at(p, p.syntax.guard_col, "a recurrence's steps take no guard (guard an Einsum that reads its result)");
  const Tensor& t = cascade_.tensors[id];
  if (!t.density)
    fail_at(p, g.col,
            fmt::format("'{}' guards this Einsum: declare the fraction of its elements expected to be non-zero "
                        "(`density:` in its entry, a number or a param; `einsim eval` measures it), which the "
                        "model charges",
                        t.name));
  e.guard = static_cast<int>(e.reads.size());
  e.reads.push_back(make_access(p, g, e));
  e.guard_rate = rate_of(*t.density);
  e.guard_elements = t.elements();
}

// topk and gathers select rather than compute: each is an Einsum of its own over one tensor read.
void Loader::check_selection(const PendingEinsum& p, Einsum& e, const Expr& body) const {
  const bool gathers = e.gathers();
  if (e.reduce != Reduce::topk && !gathers) return;
  const std::string what = gathers ? "a gather" : "topk";
  if (body.kind != Expr::Kind::access)
    fail_at(p, body.col,
            fmt::format("{} is an Einsum of its own over one tensor read ({})", what,
                        gathers ? "KS[b,e,k] = K[b,e,I[b,k]]" : "I[b,k] = topk(m) S[b,m]"));
  if (!e.where.empty()) fail_at(p, p.syntax.where_col, fmt::format("{} takes no where clause", what));
  if (gathers && !e.reduced.empty())
    fail_at(p, p.syntax.lhs.col, "a gather reduces nothing: every index of the read is an index of the result");
  if (e.reduce == Reduce::topk) {
    if (e.reduced.size() != 1) fail_at(p, p.syntax.rhs.col, "topk ranks along one index");
    if (gathers) fail_at(p, body.col, "topk reads its scores directly (gather them first)");
    // The result's one index the scores lack counts the kept entries.
    for (size_t r = 0; r < e.out.index.size(); ++r) {
      const int v = e.out.index[r].bare_var();
      const bool in_body = v >= 0 && std::any_of(e.reads[0].index.begin(), e.reads[0].index.end(),
                                                 [&](const Affine& a) { return a.coefficient(v) != 0; });
      if (v >= 0 && !in_body) {
        if (e.topk_var >= 0) fail_at(p, p.syntax.lhs.args[r].col, "topk's result has one index the scores lack");
        e.topk_var = v;
      }
    }
    if (e.topk_var < 0)
      fail_at(p, p.syntax.lhs.col, "topk's result needs an index the scores lack: how many it keeps (I[b,k])");
    const int64_t kept = e.vars[static_cast<size_t>(e.topk_var)].extent;
    const int64_t from = e.vars[static_cast<size_t>(e.reduced[0])].extent;
    if (kept > from) fail_at(p, p.syntax.lhs.col, fmt::format("topk keeps {} of {}: at most all of them", kept, from));
    if (!dtype_is_integer(cascade_.tensors[e.out.tensor].dtype))
      fail_at(
          p, p.syntax.lhs.col,
          fmt::format("topk writes indices: give '{}' an integer dtype (int32)", cascade_.tensors[e.out.tensor].name));
  }
  if (gathers)
    for (size_t i = 1; i < e.reads.size(); ++i) {
      const Tensor& index = cascade_.tensors[e.reads[i].tensor];
      if (!dtype_is_integer(index.dtype))
        fail_at(p, body.col,
                fmt::format("a gather's index tensor '{}' holds indices: give it an integer dtype", index.name));
    }
}

void Loader::read_where(const PendingEinsum& p, Einsum& e) const {
  for (const Comparison& c : p.syntax.where) {
    // lhs rel rhs as expr <= 0 (or == 0) with expr = lhs - rhs, turned around for > and >=; integers make a
    // strict comparison a non-strict one shifted by one.
    Affine expr = *affine(p, c.lhs, true);
    const Affine rhs = *affine(p, c.rhs, true);
    expr.constant -= rhs.constant;
    for (auto [v, k] : rhs.terms) add_term(expr, v, -k);
    if (c.rel == ">=" || c.rel == ">") {
      expr.constant = -expr.constant;
      for (auto& term : expr.terms) term.second = -term.second;
    }
    if (c.rel == "<" || c.rel == ">") expr.constant += 1;
    if (expr.terms.empty())
      fail_at(p, c.col, "this comparison involves no index: a where clause compares the Einsum's indices");
    e.where.push_back(Constraint{expr, c.rel == "=="});
  }
  if (p.syntax.where.empty()) return;
  e.where_text = p.text.substr(static_cast<size_t>(p.syntax.where_col) + 5);  // as written, after `where`
  e.where_text.erase(0, e.where_text.find_first_not_of(" \t"));
  e.where_text.erase(e.where_text.find_last_not_of(" \t") + 1);
}

void Loader::count_kept(const PendingEinsum& p, Einsum& e) const {
  if (e.where.empty()) return;
  std::vector<int64_t> extents;
  for (const Var& v : e.vars) extents.push_back(v.extent);
  const Tensor& out = cascade_.tensors[e.out.tensor];
  if (out.iterative_rank >= 0 && !e.reduced.empty())
    fail_at(p, p.syntax.where.front().col,
            fmt::format("'{}' is a recurrence that also reduces: a masked step would carry the state while the "
                        "reduction goes on, which is ambiguous (reduce in an Einsum of its own and mask that)",
                        out.name));
  const std::optional<int64_t> kept = count_points(extents, e.where);
  if (!kept)
    fail_at(p, p.syntax.where.front().col,
            fmt::format("this where clause ties indices together over more than {} combinations, too many to "
                        "count (constrain fewer indices at a time, or split a rank)",
                        kMaxCountSteps));
  e.kept = *kept;
}

int Loader::emit(Einsum& e, Node n) const {
  if (n.op != Op::constant && n.op != Op::read) {
    auto constant = [&](int node) { return node < 0 || e.program[static_cast<size_t>(node)].op == Op::constant; };
    auto value = [&](int node) { return node < 0 ? 0.0 : e.program[static_cast<size_t>(node)].value; };
    if (constant(n.a) && constant(n.b) && constant(n.c)) {  // fold constants
      Node c;
      c.value = n.op == Op::select ? apply_select(value(n.c), value(n.a), value(n.b))
                                   : apply_op(n.op, value(n.a), value(n.b));
      int first = n.a;  // operands are emitted before their node: the earliest starts what folding removes
      for (int operand : {n.b, n.c})
        if (operand >= 0) first = std::min(first, operand);
      e.program.resize(static_cast<size_t>(first));
      e.program.push_back(c);
      return first;
    }
  }
  e.program.push_back(n);
  return static_cast<int>(e.program.size()) - 1;
}

int Loader::compile_expr(const PendingEinsum& p, const Expr& x, Einsum& e) const {
  Node n;
  switch (x.kind) {
    case Expr::Kind::number:
      n.value = x.value;
      return emit(e, n);
    case Expr::Kind::name: {
      if (x.name == "inf") {
        n.value = INFINITY;
        return emit(e, n);
      }
      if (const Param* prm = param(x.name)) {
        n.value = prm->value;
        return emit(e, n);
      }
      if (var_id(p, x.name) >= 0) fail_at(p, x.col, fmt::format("index '{}' cannot be used as a value", x.name));
      if (cascade_.tensor_id(x.name).valid())
        fail_at(p, x.col, fmt::format("tensor '{}' needs its indices: {}[...]", x.name, x.name));
      fail_at(p, x.col, fmt::format("undefined name '{}'", x.name));
    }
    case Expr::Kind::access: {
      n.op = Op::read;
      n.read = static_cast<int>(e.reads.size());
      e.reads.push_back(make_access(p, x, e));
      const std::vector<int> gathered = e.reads.back().gathered_ranks;
      for (const int r : gathered)  // the index tensors, read beside it
        e.reads.push_back(make_access(p, x.args[static_cast<size_t>(r)], e));
      return emit(e, n);
    }
    case Expr::Kind::unary:
      n.op = Op::neg;
      n.a = compile_expr(p, x.args[0], e);
      return emit(e, n);
    case Expr::Kind::binary:
      n.op = x.op == '+' ? Op::add : x.op == '-' ? Op::sub : x.op == '*' ? Op::mul : Op::div;
      n.a = compile_expr(p, x.args[0], e);
      n.b = compile_expr(p, x.args[1], e);
      return emit(e, n);
    case Expr::Kind::call: {
      const OpInfo* f = nullptr;
      for (const OpInfo& info : kFunctions)
        if (info.name == x.name) f = &info;
      if (!f) {
        if (x.name == "sum")
          fail_at(p, x.col, "sum(...) is a reduction: write 'sum(i) EXPR' as the whole right-hand side");
        fail_at(p, x.col, fmt::format("unknown operator '{}' (known: {})", x.name, function_names()));
      }
      const int args = static_cast<int>(x.args.size());
      if (args < f->arity || args > std::max(f->arity, f->max_arity))
        fail_at(p, x.col,
                fmt::format("'{}' takes {}{} argument{}, got {}", x.name, f->arity,
                            f->max_arity ? fmt::format(" or {}", f->max_arity) : "",
                            f->arity == 1 && !f->max_arity ? "" : "s", args));
      n.op = f->op;
      if (f->op == Op::select) {  // select(c, a, b)
        n.c = compile_expr(p, x.args[0], e);
        n.a = compile_expr(p, x.args[1], e);
        n.b = compile_expr(p, x.args[2], e);
        return emit(e, n);
      }
      n.a = compile_expr(p, x.args[0], e);
      if (args >= 2) n.b = compile_expr(p, x.args[1], e);
      if (args == 3 && f->op == Op::dequantize) {  // dequantize(q, s, z) = (q - z) * s
        Node sub{Op::sub, n.a, compile_expr(p, x.args[2], e)};
        n.a = emit(e, sub);
      }
      const int node = emit(e, n);
      if (args == 3 && f->op == Op::quantize) {  // quantize(x, s, z) = x / s + z
        Node add{Op::add, node, compile_expr(p, x.args[2], e)};
        return emit(e, add);
      }
      return node;
    }
    case Expr::Kind::reduce:
      fail_at(p, x.col, "a reduction must be the whole right-hand side of the Einsum");
  }
  throw InternalError("unhandled expression kind");
}

void Loader::check_pieces() {
  for (Tensor& t : cascade_.tensors) {
    if (t.pieces.empty()) continue;
    // Each part, in the tensor's coordinates: its where clause over the ranks its bare output indices address.
    std::vector<int64_t> extents;
    for (const Rank& r : t.ranks) extents.push_back(r.extent);
    std::vector<std::vector<Constraint>> parts;
    for (EinsumId id : t.pieces) {
      const Einsum& e = cascade_.einsums[id];
      const PendingEinsum& p = pending_[id];
      std::vector<int> rank_of(e.vars.size(), -1);
      for (size_t r = 0; r < e.out.index.size(); ++r)
        if (const int v = e.out.index[r].bare_var(); v >= 0) rank_of[static_cast<size_t>(v)] = static_cast<int>(r);
      for (size_t r = 0; r < e.out.index.size(); ++r)
        if (e.out.index[r].bare_var() < 0)
          fail_at(p, p.syntax.lhs.args[r].col,
                  fmt::format("'{}' is written in parts: each part writes it at plain indices, not '{}'", t.name,
                              to_string(p.syntax.lhs.args[r])));
      if (!e.reduced.empty() || t.iterative_rank >= 0)
        fail_at(p, p.syntax.lhs.col,
                fmt::format("'{}' is written in parts: a part may not reduce or be a recurrence", t.name));
      std::vector<Constraint> part;
      for (const Constraint& c : e.where) {
        Constraint mapped{{c.expr.constant, {}}, c.equal};
        for (auto [v, k] : c.expr.terms) mapped.expr.terms.emplace_back(rank_of[static_cast<size_t>(v)], k);
        part.push_back(mapped);
      }
      parts.push_back(std::move(part));
    }
    // Together the parts write every element once: no two overlap and their sizes add up to the tensor's.
    int64_t covered = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      covered += cascade_.einsums[t.pieces[i]].kept;
      for (size_t j = 0; j < i; ++j) {
        std::vector<Constraint> both = parts[i];
        both.insert(both.end(), parts[j].begin(), parts[j].end());
        if (count_points(extents, both).value_or(1) != 0) {
          const PendingEinsum& p = pending_[t.pieces[i]];
          fail_at(p, p.syntax.where_col,
                  fmt::format("this part of '{}' overlaps '{}'", t.name, pending_[t.pieces[j]].text));
        }
      }
    }
    if (covered != t.elements()) {
      const PendingEinsum& p = pending_[t.pieces.back()];
      fail_at(p, p.syntax.lhs.col,
              fmt::format("the parts of '{}' write {} of its {} elements: together they must write each once", t.name,
                          covered, t.elements()));
    }
    for (size_t i = 0; i < t.pieces.size(); ++i)
      cascade_.einsums[t.pieces[i]].name = fmt::format("{}.{}", t.name, i + 1);
  }
}

void Loader::bind_init_tensors() {
  for (Tensor& t : cascade_.tensors) {
    if (!t.init_from.valid()) continue;
    const Site& site = read_.init_sites.at(t.name);
    const Tensor& from = cascade_.tensors[t.init_from];
    if (t.iterative_rank < 0)
      site.fail(fmt::format("'{}' is not a recurrence: only a recurrence starts from a tensor", t.name));
    std::vector<std::string> want;
    for (size_t r = 0; r < t.ranks.size(); ++r)
      if (static_cast<int>(r) != t.iterative_rank)
        want.push_back(fmt::format("{}={}", t.ranks[r].name, t.ranks[r].extent));
    std::vector<std::string> got;
    for (const Rank& r : from.ranks) got.push_back(fmt::format("{}={}", r.name, r.extent));
    if (want.size() != got.size() ||
        !std::equal(want.begin(), want.end(), got.begin(),
                    [](const auto& a, const auto& b) { return a.substr(a.find('=')) == b.substr(b.find('=')); }))
      site.fail(fmt::format("'{}' starts '{}', so it needs the ranks [{}] (those of '{}' but {}), not [{}]", from.name,
                            t.name, fmt::join(want, ", "), t.name, t.ranks[static_cast<size_t>(t.iterative_rank)].name,
                            fmt::join(got, ", ")));
    // The recurrence reads it where it reads its first step: its own indices, but the stepped one.
    Einsum& e = cascade_.einsums[t.writer];
    Access a;
    a.tensor = t.init_from;
    a.col = e.loc.col;
    for (size_t r = 0; r < e.out.index.size(); ++r)
      if (static_cast<int>(r) != t.iterative_rank) a.index.push_back(e.out.index[r]);
    e.reads.push_back(a);
  }
}

void Loader::check_tensors() {
  IdVector<TensorId, bool> read(cascade_.tensors.size(), false);
  for (const Einsum& e : cascade_.einsums)
    for (const Access& a : e.reads) read[a.tensor] = true;
  bool any_output = false;
  for (TensorId t : cascade_.tensors.ids()) {
    const Tensor& tensor = cascade_.tensors[t];
    any_output |= tensor.output;
    int64_t bits = dtype_bits(tensor.dtype);
    for (const Rank& r : tensor.ranks)
      bits = checked_product(bits, r.extent, [&] {
        throw UserError(tensor.loc, "tensors." + tensor.name, "tensor is too large (over 2^62 bits)");
      });
    const auto yaml = read_.tensor_sites.find(tensor.name);
    if (tensor.is_input()) {
      if (tensor.output)
        yaml->second.fail(fmt::format("output tensor '{}' is never written by an Einsum", tensor.name));
      if (!read_.declared_ranks.count(tensor.name))
        yaml->second.fail(fmt::format("input tensor '{}' needs 'ranks'", tensor.name));
      if (!read[t]) yaml->second.fail(fmt::format("input tensor '{}' is never read", tensor.name));
    }
  }
  if (!any_output) throw UserError(read_.tensors_loc, "tensors", "no tensor is marked 'output: true'");
}

}  // namespace einsim::detail
