// Workload YAML -> Cascade: reading, tensors, Einsum parsing, shape inference, compilation and checks; params are
// resolved by workloads/params, the schedule built by workloads/schedule.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <ranges>
#include <set>

#include "common/yaml.hpp"
#include "workloads/cascade.hpp"
#include "workloads/expr.hpp"
#include "workloads/params.hpp"
#include "workloads/schedule.hpp"

namespace einsim {
namespace {

__extension__ using Wide = __int128;  // exact intermediate for overflow checks

struct OpInfo {
  std::string_view name;
  Op op;
  int arity;
  int max_arity = 0;  // quantize and dequantize take an optional zero point
};

constexpr OpInfo kFunctions[] = {
    {"max", Op::max, 2},
    {"min", Op::min, 2},
    {"exp", Op::exp, 1},
    {"neg", Op::neg, 1},
    {"sqrt", Op::sqrt, 1},
    {"rsqrt", Op::rsqrt, 1},
    {"relu", Op::relu, 1},
    {"gelu", Op::gelu, 1},
    {"silu", Op::silu, 1},
    {"reciprocal", Op::reciprocal, 1},
    {"abs", Op::abs, 1},
    {"gt", Op::gt, 2},
    {"log2", Op::log2, 1},
    {"exp2", Op::exp2, 1},
    {"ceil", Op::ceil, 1},
    {"quantize", Op::quantize, 2, 3},
    {"dequantize", Op::dequantize, 2, 3},
};

std::string function_names() {
  std::string out;
  for (const OpInfo& f : kFunctions) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool is_lower_name(const std::string& s) { return !s.empty() && std::islower(static_cast<unsigned char>(s[0])); }

// ---- params ---------------------------------------------------------------------------------------------

// Sizes past 2^62 elements are nonsense for any machine; refusing them keeps all size arithmetic exact.
int64_t checked_product(int64_t a, int64_t b, const std::function<void()>& fail) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r) || r > (int64_t{1} << 62)) fail();
  return r;
}

// ---- Einsums --------------------------------------------------------------------------------------------

struct PendingEinsum {
  EinsumSyntax syntax;
  std::string text;
  SourceLoc loc;  // of the first character of the text
  std::vector<std::string> vars;
  std::vector<int> var_cols;  // first appearance, for messages
  std::vector<std::optional<int64_t>> extents;
  bool resolved = false;
};

class Loader {
 public:
  Loader(const std::string& file, const WorkloadOverrides& overrides) : overrides_(overrides) { cascade_.file = file; }

  Cascade load() {
    const YNode root = YNode::load_file(cascade_.file);
    MapReader top(root);
    read_version(top);
    const YNode name = top.required("name");
    const auto description = top.optional("description");
    const auto params = top.optional("params");
    const auto dtype = top.optional("dtype");
    const auto tensors = top.optional("tensors");
    const auto einsums = top.optional("einsums");
    const auto init = top.optional("init");
    const auto kernel = top.optional("kernel");
    const auto reference = top.optional("reference");
    top.finish();  // a misspelt key is reported as such, not as the key it should have been
    cascade_.name = name.as_string();
    if (description) cascade_.description = description->as_string();
    read_params(params);
    if (dtype) default_dtype_ = dtype_of(*dtype);
    if (!tensors) throw UserError(root.loc(), "tensors", "missing required key");
    if (!einsums) throw UserError(root.loc(), "einsums", "missing required key");
    read_tensors(*tensors);
    read_einsums(*einsums);
    if (init) read_init(*init);
    if (kernel) read_kernel(*kernel);
    if (reference) {
      cascade_.reference =
          (std::filesystem::path(cascade_.file).parent_path() / reference->as_string()).lexically_normal().string();
      if (!std::filesystem::exists(cascade_.reference))
        reference->fail(fmt::format("no such workload file: {}", cascade_.reference));
    }

    infer_shapes();
    compile();
    check_tensors();
    build_schedule(cascade_);
    return std::move(cascade_);
  }

 private:
  // -- kernel: NAME, or {name: NAME, tensors: {ROLE: TENSOR}} where a role's tensor is not its usual name --
  void read_kernel(const YNode& node) {
    // Each reference kernel's roles and the tensor names the library's cascades use for them.
    static const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> kinds = {
        {"attention", {{"Q", "Q"}, {"K", "K"}, {"V", "V"}, {"out", "AV"}}},
        {"gemm", {{"A", "A"}, {"B", "B"}, {"out", "Z"}}},
        {"ffn_gelu", {{"X", "X"}, {"W1", "W1"}, {"W2", "W2"}, {"out", "Y"}}},
        {"ffn_swiglu", {{"X", "X"}, {"W1", "W1"}, {"W3", "W3"}, {"W2", "W2"}, {"out", "Y"}}},
        {"layernorm", {{"X", "X"}, {"GAMMA", "GAMMA"}, {"BETA", "BETA"}, {"out", "Y"}}},
        {"rmsnorm", {{"X", "X"}, {"GAMMA", "GAMMA"}, {"out", "Y"}}},
    };
    KernelBinding k;
    k.loc = node.loc();
    std::optional<YNode> name = node;
    std::optional<YNode> tensors;
    std::optional<MapReader> fields;
    if (node.is_map()) {
      fields.emplace(node);
      name = fields->required("name");
      tensors = fields->optional("tensors");
      fields->finish();
    }
    k.name = name->as_string();
    const auto kind = std::find_if(kinds.begin(), kinds.end(), [&](const auto& e) { return e.first == k.name; });
    if (kind == kinds.end()) {
      name->fail(
          fmt::format("unknown reference kernel '{}' (known: {})", k.name, fmt::join(kinds | std::views::keys, ", ")));
    }
    for (const auto& [role, tensor] : kind->second) k.tensors[role] = tensor;
    std::map<std::string, YNode> where;  // roles the file names a tensor for
    if (tensors) {
      MapReader roles(*tensors);
      for (const auto& [role, value] : roles.entries()) {
        where.emplace(role, value);
        if (!k.tensors.count(role)) {
          value.fail(fmt::format("kernel '{}' has no role '{}' (roles: {})", k.name, role,
                                 fmt::join(kind->second | std::views::keys, ", ")));
        }
        k.tensors[role] = value.as_string();
      }
    }
    for (const auto& [role, tensor] : k.tensors) {
      const auto t = std::find_if(cascade_.tensors.begin(), cascade_.tensors.end(),
                                  [&](const Tensor& x) { return x.name == tensor; });
      if (t == cascade_.tensors.end())
        (where.count(role) ? where.at(role) : *name)
            .fail(fmt::format("kernel role '{}' names tensor '{}', which the workload does not declare", role, tensor));
    }
    cascade_.kernel = std::move(k);
  }

  // -- params --
  void read_params(const std::optional<YNode>& node) {
    std::vector<RawParam> raw;
    if (node) {
      MapReader params(*node);
      for (const auto& [name, value] : params.entries()) {
        if (name == "inf") value.fail("'inf' is a constant, not a param name");
        raw.push_back(RawParam{name, value.as_string(), value.loc(), value.path()});
      }
    }
    for (const std::string& file : overrides_.param_files) {
      const YNode preset = YNode::load_file(file);
      MapReader reader(preset);
      const YNode params = reader.required("params");
      reader.finish();
      MapReader entries(params);
      for (const auto& [name, value] : entries.entries()) {
        for (RawParam& r : raw)
          if (r.name == name) r = RawParam{name, value.as_string(), value.loc(), value.path()};
      }
    }
    for (const auto& [name, text] : overrides_.params) {
      auto it = std::find_if(raw.begin(), raw.end(), [&](const RawParam& r) { return r.name == name; });
      if (it == raw.end() && overrides_.skip_unknown) continue;
      if (it == raw.end()) {
        std::vector<std::string> names;
        for (const RawParam& r : raw) names.push_back(r.name);
        throw UserError(
            SourceLoc{}, "--set workload." + name,
            fmt::format("{} has no param '{}' (its params: {})", cascade_.file, name, fmt::join(names, ", ")));
      }
      *it = RawParam{name, text, SourceLoc{}, "--set workload." + name};
    }
    cascade_.params = resolve_params(std::move(raw));
  }

  const Param* param(const std::string& name) const { return cascade_.param(name); }

  DType dtype_of(const YNode& node) const {
    const auto t = parse_dtype(node.as_string());
    if (!t) node.fail(fmt::format("unknown dtype '{}' (known: {})", node.as_string(), dtype_names()));
    return *t;
  }

  // -- tensors --
  void read_tensors(const YNode& node) {
    tensors_loc_ = node.loc();
    MapReader tensors(node);
    for (const auto& [name, value] : tensors.entries()) {
      Tensor t;
      t.name = name;
      t.loc = value.loc();
      t.dtype = default_dtype_;
      MapReader fields(value);
      if (auto ranks = fields.optional("ranks")) {
        for (const YNode& r : ranks->items()) {
          const std::string rank = r.as_string();
          const Param* p = param(rank);
          if (!p) r.fail(fmt::format("undefined rank '{}': ranks are named by params", rank));
          if (!p->integer || p->value < 1)
            r.fail(
                fmt::format("rank '{}' needs a positive integer param, got {} (from {})", rank, p->value, p->source));
          t.ranks.push_back(Rank{rank, static_cast<int64_t>(p->value)});
        }
        declared_ranks_.insert(name);
      }
      if (auto d = fields.optional("dtype")) t.dtype = dtype_of(*d);
      if (auto o = fields.optional("output")) t.output = o->as_bool();
      if (auto o = fields.optional("outliers")) {
        const std::string rank = o->as_string();
        const auto it = std::find_if(t.ranks.begin(), t.ranks.end(), [&](const Rank& r) { return r.name == rank; });
        if (it == t.ranks.end()) o->fail(fmt::format("'{}' is not one of the tensor's ranks", rank));
        for (const char* needed : {"outlier_channels", "outlier_scale"})
          if (!param(needed))
            o->fail(
                fmt::format("planted outliers need the params outlier_channels and outlier_scale (no '{}')", needed));
        t.outlier_rank = static_cast<int>(it - t.ranks.begin());
      }
      fields.finish();
      tensor_yaml_.emplace(name, value);
      cascade_.tensors.push_back(std::move(t));
    }
  }

  // -- Einsums --
  void read_einsums(const YNode& node) {
    for (const YNode& item : node.items()) {
      PendingEinsum p;
      p.text = item.as_string();
      p.loc = item.loc();
      if (starts_with_quote(p.loc)) ++p.loc.col;
      try {
        p.syntax = parse_einsum(p.text);
      } catch (const SyntaxError& s) {
        fail_at(p, s.col, s.message);
      }
      const std::string& out = p.syntax.lhs.name;
      int t = cascade_.tensor_index(out);
      if (t < 0) {
        Tensor fresh;
        fresh.name = out;
        fresh.dtype = default_dtype_;
        fresh.loc = p.loc;
        cascade_.tensors.push_back(fresh);
        t = static_cast<int>(cascade_.tensors.size()) - 1;
      } else if (cascade_.tensors[static_cast<size_t>(t)].writer >= 0) {
        fail_at(p, p.syntax.lhs.col,
                fmt::format("tensor '{}' is already written by '{}': every tensor has one writer", out,
                            pending_[static_cast<size_t>(cascade_.tensors[static_cast<size_t>(t)].writer)].text));
      }
      cascade_.tensors[static_cast<size_t>(t)].writer = static_cast<int>(pending_.size());
      pending_.push_back(std::move(p));
    }
    if (pending_.empty()) node.fail("a cascade needs at least one Einsum");
    for (PendingEinsum& p : pending_) collect_vars(p);
  }

  bool starts_with_quote(const SourceLoc& loc) const {
    std::ifstream in(loc.file);
    std::string line;
    for (int i = 0; i < loc.line && std::getline(in, line);) ++i;
    const size_t c = static_cast<size_t>(loc.col - 1);
    return c < line.size() && (line[c] == '"' || line[c] == '\'');
  }

  [[noreturn]] void fail_at(const PendingEinsum& p, int col, const std::string& message) const {
    SourceLoc loc = p.loc;
    loc.col += col;
    throw UserError(loc, "", message, true);
  }

  void read_init(const YNode& node) {
    MapReader init(node);
    for (const auto& [name, value] : init.entries()) {
      const int t = cascade_.tensor_index(name);
      if (t < 0) value.fail(fmt::format("undefined tensor '{}'", name));
      Tensor& tensor = cascade_.tensors[static_cast<size_t>(t)];
      if (tensor.is_input())
        value.fail(fmt::format("'{}' is an input: only tensors an Einsum writes take an init value", name));
      tensor.init = value.as_double();
    }
  }

  // Index variables: lower-case names inside tensor indices that are not params, in order of appearance.
  void collect_vars(PendingEinsum& p) {
    std::function<void(const Expr&, bool)> walk = [&](const Expr& e, bool in_index) {
      if (e.kind == Expr::Kind::name && in_index && !param(e.name) && is_lower_name(e.name) &&
          std::find(p.vars.begin(), p.vars.end(), e.name) == p.vars.end()) {
        p.vars.push_back(e.name);
        p.var_cols.push_back(e.col);
      }
      if (e.kind == Expr::Kind::access) {
        if (cascade_.tensor_index(e.name) < 0) fail_at(p, e.col, fmt::format("undefined tensor '{}'", e.name));
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

  int var_id(const PendingEinsum& p, const std::string& name) const {
    auto it = std::find(p.vars.begin(), p.vars.end(), name);
    return it == p.vars.end() ? -1 : static_cast<int>(it - p.vars.begin());
  }

  // Converts an index expression to an affine form. Returns nullopt when it names something not known yet
  // (an extent that inference has still to find); `final` turns that into an error.
  std::optional<Affine> affine(const PendingEinsum& p, const Expr& e, bool final) const {
    Affine out;
    switch (e.kind) {
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

  // Index arithmetic stays within +-2^53, where doubles and int64 agree exactly.
  int64_t bounded(const PendingEinsum& p, const Expr& e, double v) const {
    if (std::fabs(v) > kMaxExactInteger) fail_at(p, e.col, "index expression overflows (beyond 2^53)");
    return static_cast<int64_t>(v);
  }

  static void add_term(Affine& a, int var, int64_t c) {
    for (auto it = a.terms.begin(); it != a.terms.end(); ++it) {
      if (it->first == var) {
        it->second += c;
        if (it->second == 0) a.terms.erase(it);
        return;
      }
    }
    if (c != 0) a.terms.emplace_back(var, c);
  }

  // Every access of an Einsum (output first), as syntax.
  static std::vector<const Expr*> accesses(const PendingEinsum& p) {
    std::vector<const Expr*> out{&p.syntax.lhs};
    std::function<void(const Expr&)> walk = [&](const Expr& e) {
      if (e.kind == Expr::Kind::access) out.push_back(&e);
      for (const Expr& a : e.args) walk(a);
    };
    walk(p.syntax.rhs);
    return out;
  }

  bool shape_known(int t) const {
    const Tensor& tensor = cascade_.tensors[static_cast<size_t>(t)];
    if (tensor.is_input() || declared_ranks_.count(tensor.name))
      return tensor.is_input() || pending_[static_cast<size_t>(tensor.writer)].resolved;
    return pending_[static_cast<size_t>(tensor.writer)].resolved;
  }

  // -- shape inference: repeat until no Einsum makes progress --
  void infer_shapes() {
    for (bool progress = true; progress;) {
      progress = false;
      for (size_t i = 0; i < pending_.size(); ++i)
        if (!pending_[i].resolved && try_resolve(static_cast<int>(i), false)) progress = true;
    }
    for (size_t i = 0; i < pending_.size(); ++i)
      if (!pending_[i].resolved) try_resolve(static_cast<int>(i), true);
  }

  bool try_resolve(int e, bool final) {
    PendingEinsum& p = pending_[static_cast<size_t>(e)];
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
    const int self = cascade_.tensor_index(p.syntax.lhs.name);
    for (bool progress = true; progress;) {
      progress = false;
      const auto all = accesses(p);
      for (size_t k = 0; k < all.size(); ++k) {
        const Expr& acc = *all[k];
        const int t = cascade_.tensor_index(acc.name);
        if (k > 0 && t == self) continue;  // a recurrence's own reads say nothing new
        if (k == 0 && !declared_ranks_.count(acc.name)) continue;
        if (!shape_known(t)) continue;
        const Tensor& tensor = cascade_.tensors[static_cast<size_t>(t)];
        if (acc.args.size() != tensor.ranks.size()) continue;  // reported by compile()
        for (size_t r = 0; r < acc.args.size(); ++r) {
          if (static_cast<int>(r) == tensor.iterative_rank) continue;
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

  // One unknown index in an access of a known rank: a lone index spans the rank; a split such as m1*M0+m0
  // gives the unknown part the extent that covers the rank exactly.
  bool infer_from(PendingEinsum& p, const Affine& a, const Rank& rank, int col) {
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

  void shape_output(int e) {
    PendingEinsum& p = pending_[static_cast<size_t>(e)];
    Tensor& out = cascade_.tensors[static_cast<size_t>(cascade_.tensor_index(p.syntax.lhs.name))];
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
    if (!declared_ranks_.count(out.name)) out.ranks = std::move(ranks);
  }

  std::pair<int64_t, int64_t> bounds(const PendingEinsum& p, const Affine& a) const {
    Wide lo = a.constant, hi = a.constant;
    for (auto [v, c] : a.terms) {
      const Wide span = static_cast<Wide>(c) * (*p.extents[static_cast<size_t>(v)] - 1);
      (c > 0 ? hi : lo) += span;
    }
    if (hi > (Wide{1} << 62) || lo < -(Wide{1} << 62)) fail_at(p, 0, "index expression overflows");
    return {static_cast<int64_t>(lo), static_cast<int64_t>(hi)};
  }

  // -- compile: accesses, checks and expression programs --
  void compile() {
    for (size_t i = 0; i < pending_.size(); ++i) cascade_.einsums.push_back(compile_one(pending_[i]));
    // Rank names of lone indices, for the passes analysis and messages.
    for (Einsum& e : cascade_.einsums)
      for (Var& v : e.vars)
        if (v.rank.empty()) v.rank = upper(v.name);
  }

  Access make_access(const PendingEinsum& p, const Expr& acc, Einsum& e) const {
    Access out;
    out.tensor = cascade_.tensor_index(acc.name);
    out.col = p.loc.col + acc.col;
    const Tensor& t = cascade_.tensors[static_cast<size_t>(out.tensor)];
    if (acc.args.size() != t.ranks.size())
      fail_at(p, acc.col,
              fmt::format("'{}' has {} ranks but is indexed with {}", t.name, t.ranks.size(), acc.args.size()));
    for (size_t r = 0; r < acc.args.size(); ++r) {
      const Affine a = *affine(p, acc.args[r], true);
      const auto [lo, hi] = bounds(p, a);
      const Rank& rank = t.ranks[r];
      const int col = acc.args[r].col;
      if (lo < 0 || hi >= rank.extent)
        fail_at(p, col,
                fmt::format("index '{}' spans [{}, {}] but rank {} of '{}' has extent {}", to_string(acc.args[r]), lo,
                            hi, rank.name, t.name, rank.extent));
      if (const int v = a.bare_var(); v >= 0) {
        Var& var = e.vars[static_cast<size_t>(v)];
        if (var.extent != rank.extent && static_cast<int>(r) != t.iterative_rank)
          fail_at(p, col,
                  fmt::format("shape mismatch: index '{}' has extent {} but rank {} of '{}' has extent {}", var.name,
                              var.extent, rank.name, t.name, rank.extent));
        if (static_cast<int>(r) != t.iterative_rank) {
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

  Einsum compile_one(const PendingEinsum& p) const {
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
    e.out = make_access(p, p.syntax.lhs, e);
    const Tensor& out = cascade_.tensors[static_cast<size_t>(e.out.tensor)];
    // A declared output must be covered: each of its ranks written from 0 (or from its init) to the end.
    for (size_t r = 0; r < e.out.index.size(); ++r) {
      const auto [lo, hi] = bounds(p, e.out.index[r]);
      const bool recurrent = static_cast<int>(r) == out.iterative_rank;
      if (hi != out.ranks[r].extent - 1 || (lo != 0 && !recurrent))
        fail_at(p, p.syntax.lhs.args[r].col,
                fmt::format("shape mismatch: this Einsum writes [{}, {}] of rank {} of '{}', which has extent {}", lo,
                            hi, out.ranks[r].name, out.name, out.ranks[r].extent));
    }
    const Expr* body = &p.syntax.rhs;
    std::vector<std::string> listed;
    if (body->kind == Expr::Kind::reduce) {
      e.reduce = body->name == "max" ? Reduce::max : body->name == "min" ? Reduce::min : Reduce::sum;
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
    return e;
  }

  int emit(Einsum& e, Node n) const {
    if (n.op != Op::constant && n.op != Op::read) {
      const bool a_const = n.a < 0 || e.program[static_cast<size_t>(n.a)].op == Op::constant;
      const bool b_const = n.b < 0 || e.program[static_cast<size_t>(n.b)].op == Op::constant;
      if (a_const && b_const) {  // fold constants
        Node c;
        c.value = apply_op(n.op, e.program[static_cast<size_t>(n.a)].value,
                           n.b >= 0 ? e.program[static_cast<size_t>(n.b)].value : 0);
        const int first = n.b >= 0 ? std::min(n.a, n.b) : n.a;
        e.program.resize(static_cast<size_t>(first));
        e.program.push_back(c);
        return first;
      }
    }
    e.program.push_back(n);
    return static_cast<int>(e.program.size()) - 1;
  }

  int compile_expr(const PendingEinsum& p, const Expr& x, Einsum& e) const {
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
        if (cascade_.tensor_index(x.name) >= 0)
          fail_at(p, x.col, fmt::format("tensor '{}' needs its indices: {}[...]", x.name, x.name));
        fail_at(p, x.col, fmt::format("undefined name '{}'", x.name));
      }
      case Expr::Kind::access:
        n.op = Op::read;
        n.read = static_cast<int>(e.reads.size());
        e.reads.push_back(make_access(p, x, e));
        return emit(e, n);
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

  // -- whole-cascade checks --
  void check_tensors() {
    std::vector<bool> read(cascade_.tensors.size(), false);
    for (const Einsum& e : cascade_.einsums)
      for (const Access& a : e.reads) read[static_cast<size_t>(a.tensor)] = true;
    bool any_output = false;
    for (size_t t = 0; t < cascade_.tensors.size(); ++t) {
      const Tensor& tensor = cascade_.tensors[t];
      any_output |= tensor.output;
      int64_t bits = dtype_bits(tensor.dtype);
      for (const Rank& r : tensor.ranks)
        bits = checked_product(bits, r.extent, [&] {
          throw UserError(tensor.loc, "tensors." + tensor.name, "tensor is too large (over 2^62 bits)");
        });
      const auto yaml = tensor_yaml_.find(tensor.name);
      if (tensor.is_input()) {
        if (tensor.output)
          yaml->second.fail(fmt::format("output tensor '{}' is never written by an Einsum", tensor.name));
        if (!declared_ranks_.count(tensor.name))
          yaml->second.fail(fmt::format("input tensor '{}' needs 'ranks'", tensor.name));
        if (!read[t]) yaml->second.fail(fmt::format("input tensor '{}' is never read", tensor.name));
      }
    }
    if (!any_output) throw UserError(tensors_loc_, "tensors", "no tensor is marked 'output: true'");
  }

  // -- schedule: strongly connected components in dependency order; recurrences in lockstep --
  [[noreturn]] void fail_einsum(const Einsum& e, int col, const std::string& message) const {
    throw UserError(SourceLoc{e.loc.file, e.loc.line, col > 0 ? col : e.loc.col}, "", message, true);
  }

  Cascade cascade_;
  const WorkloadOverrides& overrides_;
  DType default_dtype_ = DType::fp32;
  std::set<std::string> declared_ranks_;
  SourceLoc tensors_loc_;
  std::map<std::string, YNode> tensor_yaml_;
  std::vector<PendingEinsum> pending_;
};

}  // namespace

Cascade load_cascade(const std::string& file, const WorkloadOverrides& overrides) {
  return Loader(file, overrides).load();
}

Cascade load_reference(const Cascade& c, const WorkloadOverrides& overrides) {
  if (c.reference.empty())
    throw UserError(SourceLoc{c.file}, "reference", "the workload names no `reference:` workload");
  WorkloadOverrides o = overrides;
  o.skip_unknown = true;
  for (const Param& p : c.params)
    if (!p.inferred) o.params.emplace(o.params.begin(), p.name, fmt::format("{}", p.value));
  return load_cascade(c.reference, o);
}

}  // namespace einsim
