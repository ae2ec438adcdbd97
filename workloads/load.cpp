// Workload YAML -> Cascade in two halves: reading (the file's params as written, tensors, Einsum parsing), once
// per file; and binding to params (presets and --set, rank extents, then shape inference, compilation and checks),
// once per set of params. Params are resolved by workloads/params, the schedule built by workloads/schedule.
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
#include "workloads/loader.hpp"
#include "workloads/params.hpp"
#include "workloads/schedule.hpp"

namespace einsim {
namespace detail {

Read Loader::read() {
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
  own_.shell = std::move(cascade_);
  own_.einsums = std::move(pending_);
  return std::move(own_);
}

Cascade Loader::bind() {
  bind_params();
  bind_densities();
  bind_ranks();
  infer_shapes();
  compile();
  check_pieces();
  bind_init_tensors();
  check_tensors();
  build_schedule(cascade_);
  return std::move(cascade_);
}

void Loader::read_kernel(const YNode& node) {
  // Each reference kernel's roles and the tensor names the library's cascades use for them.
  static const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> kinds = {
      {"attention", {{"Q", "Q"}, {"K", "K"}, {"V", "V"}, {"out", "AV"}}},
      {"attention_causal", {{"Q", "Q"}, {"K", "K"}, {"V", "V"}, {"out", "AV"}}},
      {"attention_pruned", {{"Q", "Q"}, {"K", "KC"}, {"V", "VC"}, {"IMP", "IMP"}, {"IMPH", "IMPH"}, {"out", "O"}}},
      {"attention_pruned_layers",
       {{"Q", "Q1"},
        {"K", "KC1"},
        {"V", "VC1"},
        {"Q2", "Q2"},
        {"K2", "KC2"},
        {"V2", "VC2"},
        {"IMP", "IMP"},
        {"IMPH", "IMPH"},
        {"out", "O2"}}},
      {"attention_spatten",
       {{"Q", "Q"},
        {"KH", "KH"},
        {"KL", "KL"},
        {"VH", "VH"},
        {"VL", "VL"},
        {"IMP", "IMP"},
        {"IMPH", "IMPH"},
        {"out", "O"}}},
      {"topk_gather", {{"S", "S"}, {"X", "X"}, {"out", "XK"}}},
      {"gemm", {{"A", "A"}, {"B", "B"}, {"out", "Z"}}},
      {"ffn_gelu", {{"X", "X"}, {"W1", "W1"}, {"W2", "W2"}, {"out", "Y"}}},
      {"ffn_swiglu", {{"X", "X"}, {"W1", "W1"}, {"W3", "W3"}, {"W2", "W2"}, {"out", "Y"}}},
      {"layernorm", {{"X", "X"}, {"GAMMA", "GAMMA"}, {"BETA", "BETA"}, {"out", "Y"}}},
      {"rmsnorm", {{"X", "X"}, {"GAMMA", "GAMMA"}, {"out", "Y"}}},
      {"kda_recurrent", {{"Q", "Q"}, {"K", "K"}, {"V", "V"}, {"GA", "GA"}, {"GB", "GB"}, {"out", "O"}}},
      {"selective_scan",
       {{"X", "X"},
        {"DT", "DT"},
        {"DTB", "DTB"},
        {"ALOG", "ALOG"},
        {"BM", "BM"},
        {"CM", "CM"},
        {"DS", "DS"},
        {"out", "Y"}}},
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

void Loader::read_params(const std::optional<YNode>& node) {
  if (!node) return;
  MapReader params(*node);
  for (const auto& [name, value] : params.entries()) {
    if (name == "inf") value.fail("'inf' is a constant, not a param name");
    if (name == "dtype") value.fail("'dtype' sets the dtype of tensors that declare none (`dtype:`), not a param");
    own_.params.push_back(RawParam{name, value.as_string(), value.loc(), value.path()});
  }
}

bool Loader::is_param(const std::string& name) const {
  return std::any_of(read_.params.begin(), read_.params.end(), [&](const RawParam& r) { return r.name == name; });
}

void Loader::bind_params() {
  std::vector<RawParam> raw = read_.params;
  for (const std::string& file : overrides_->param_files) {
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
  for (const auto& [name, text] : overrides_->params) {
    if (name == "dtype") {
      bind_dtype(text);
      continue;
    }
    auto it = std::find_if(raw.begin(), raw.end(), [&](const RawParam& r) { return r.name == name; });
    if (it == raw.end() && overrides_->skip_unknown) continue;
    if (it == raw.end()) {
      std::vector<std::string> names;
      for (const RawParam& r : raw) names.push_back(r.name);
      const auto origin = overrides_->origins.find(name);
      throw UserError(
          origin == overrides_->origins.end() ? SourceLoc{} : origin->second,
          origin == overrides_->origins.end() ? "--set workload." + name : "params." + name,
          fmt::format("{} has no param '{}' (its params: {})", cascade_.file, name, fmt::join(names, ", ")));
    }
    *it = RawParam{name, text, SourceLoc{}, "--set workload." + name};
  }
  cascade_.params = resolve_params(std::move(raw));
}

void Loader::bind_densities() {
  for (const auto& [name, entry] : read_.densities) {
    const auto& [text, site] = entry;
    Tensor& t = cascade_.tensors[cascade_.tensor_id(name)];
    double number = 0;
    bool integer = false;
    if (parse_number(text, number, integer)) {
      t.density = number;
    } else {
      t.density = param(text)->value;
      t.density_param = text;
    }
    if (!(*t.density >= 0 && *t.density <= 1))
      site.fail(fmt::format("density {} is not a fraction in [0, 1]{}", *t.density,
                            t.density_param.empty() ? "" : fmt::format(" (param {})", t.density_param)));
  }
}

void Loader::bind_dtype(const std::string& text) {
  const auto t = parse_dtype(text);
  if (!t)
    throw UserError(SourceLoc{}, "--set workload.dtype",
                    fmt::format("unknown dtype '{}' (known: {})", text, dtype_names()));
  for (Tensor& tensor : cascade_.tensors)
    if (!read_.declared_dtypes.count(tensor.name)) tensor.dtype = *t;
}

void Loader::bind_ranks() {
  for (TensorId t : cascade_.tensors.ids()) {
    Tensor& tensor = cascade_.tensors[t];
    for (size_t r = 0; r < tensor.ranks.size() && t.index() < read_.rank_sites.size(); ++r) {
      const Param* p = param(tensor.ranks[r].name);
      if (!p->integer || p->value < 1)
        read_.rank_sites[t][r].fail(fmt::format("rank '{}' needs a positive integer param, got {} (from {})",
                                                tensor.ranks[r].name, p->value, p->source));
      tensor.ranks[r].extent = static_cast<int64_t>(p->value);
    }
  }
}

DType Loader::dtype_of(const YNode& node) const {
  const auto t = parse_dtype(node.as_string());
  if (!t) node.fail(fmt::format("unknown dtype '{}' (known: {})", node.as_string(), dtype_names()));
  return *t;
}

void Loader::read_tensors(const YNode& node) {
  own_.tensors_loc = node.loc();
  MapReader tensors(node);
  for (const auto& [name, value] : tensors.entries()) {
    Tensor t;
    t.name = name;
    t.loc = value.loc();
    t.dtype = default_dtype_;
    std::vector<Site> rank_sites;
    MapReader fields(value);
    if (auto ranks = fields.optional("ranks")) {
      for (const YNode& r : ranks->items()) {
        const std::string rank = r.as_string();
        if (!is_param(rank)) r.fail(fmt::format("undefined rank '{}': ranks are named by params", rank));
        t.ranks.push_back(Rank{rank, 0});  // its extent is its param's value, once bound
        rank_sites.push_back(site_of(r));
      }
      own_.declared_ranks.insert(name);
    }
    if (auto d = fields.optional("dtype")) {
      t.dtype = dtype_of(*d);
      own_.declared_dtypes.insert(name);
    }
    if (auto o = fields.optional("output")) t.output = o->as_bool();
    if (auto d = fields.optional("density")) {
      const std::string text = d->as_string();
      double number = 0;
      bool integer = false;
      if (!parse_number(text, number, integer) && !is_param(text))
        d->fail(
            fmt::format("'{}' is neither a number nor a param: a density is the fraction of elements expected "
                        "to be non-zero",
                        text));
      own_.densities.emplace(name, std::make_pair(text, site_of(*d)));
    }
    if (auto o = fields.optional("outliers")) {
      const std::string rank = o->as_string();
      const auto it = std::find_if(t.ranks.begin(), t.ranks.end(), [&](const Rank& r) { return r.name == rank; });
      if (it == t.ranks.end()) o->fail(fmt::format("'{}' is not one of the tensor's ranks", rank));
      for (const char* needed : {"outlier_channels", "outlier_scale"})
        if (!is_param(needed))
          o->fail(fmt::format("planted outliers need the params outlier_channels and outlier_scale (no '{}')", needed));
      t.outlier_rank = static_cast<int>(it - t.ranks.begin());
    }
    fields.finish();
    own_.tensor_sites.emplace(name, site_of(value));
    own_.rank_sites.push_back(std::move(rank_sites));
    cascade_.tensors.push_back(std::move(t));
  }
}

void Loader::read_einsums(const YNode& node) {
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
    TensorId t = cascade_.tensor_id(out);
    if (!t.valid()) {
      Tensor fresh;
      fresh.name = out;
      fresh.dtype = default_dtype_;
      fresh.loc = p.loc;
      t = cascade_.tensors.push_back(fresh);
    } else if (const EinsumId writer = cascade_.tensors[t].writer; writer.valid()) {
      // Several writers are the parts of a concatenation: each says with its where clause which part it writes.
      if (p.syntax.where.empty() || pending_[writer].syntax.where.empty())
        fail_at(p, p.syntax.lhs.col,
                fmt::format("tensor '{}' is already written by '{}': a tensor written by several Einsums is written "
                            "in parts, each with a where clause saying which",
                            out, pending_[writer].text));
      if (!own_.declared_ranks.count(out))
        fail_at(p, p.syntax.lhs.col,
                fmt::format("tensor '{}' is written in parts: declare its ranks under tensors", out));
    }
    const EinsumId id = pending_.push_back(std::move(p));
    Tensor& written = cascade_.tensors[t];
    if (!written.writer.valid()) written.writer = id;
    written.pieces.push_back(id);
  }
  if (pending_.empty()) node.fail("a cascade needs at least one Einsum");
  for (Tensor& t : cascade_.tensors)
    if (t.pieces.size() == 1) t.pieces.clear();
  for (PendingEinsum& p : pending_) collect_vars(p);
}

bool Loader::starts_with_quote(const SourceLoc& loc) const {
  std::ifstream in(loc.file);
  std::string line;
  for (int i = 0; i < loc.line && std::getline(in, line);) ++i;
  const size_t c = static_cast<size_t>(loc.col - 1);
  return c < line.size() && (line[c] == '"' || line[c] == '\'');
}

[[noreturn]] void Loader::fail_at(const PendingEinsum& p, int col, const std::string& message) const {
  SourceLoc loc = p.loc;
  loc.col += col;
  throw UserError(loc, "", message, true);
}

void Loader::read_init(const YNode& node) {
  MapReader init(node);
  for (const auto& [name, value] : init.entries()) {
    const TensorId t = cascade_.tensor_id(name);
    if (!t.valid()) value.fail(fmt::format("undefined tensor '{}'", name));
    Tensor& tensor = cascade_.tensors[t];
    if (tensor.is_input())
      value.fail(fmt::format("'{}' is an input: only tensors an Einsum writes take an init value", name));
    // A number, or an input tensor holding the first step (checked against the recurrence once shapes are known).
    const std::string text = value.is_scalar() ? value.as_string() : "";
    const TensorId from = cascade_.tensor_id(text);
    if (from.valid()) {
      if (!cascade_.tensors[from].is_input())
        value.fail(fmt::format("'{}' is written by an Einsum: a recurrence starts from a number or an input", text));
      tensor.init = 0.0;
      tensor.init_from = from;
      own_.init_sites.emplace(name, site_of(value));
    } else {
      tensor.init = value.as_double();
    }
  }
}

[[noreturn]] void Loader::fail_einsum(const Einsum& e, int col, const std::string& message) const {
  throw UserError(SourceLoc{e.loc.file, e.loc.line, col > 0 ? col : e.loc.col}, "", message, true);
}

}  // namespace detail

std::shared_ptr<const WorkloadSource> read_workload(const std::string& file) {
  return std::make_shared<const WorkloadSource>(WorkloadSource{detail::Loader(file).read()});
}

Cascade bind_workload(const WorkloadSource& source, const WorkloadOverrides& overrides) {
  return detail::Loader(source.read, overrides).bind();
}

Cascade load_cascade(const std::string& file, const WorkloadOverrides& overrides) {
  return bind_workload(*read_workload(file), overrides);
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
