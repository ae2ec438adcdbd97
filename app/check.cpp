// einsim check: a workload's shapes, bytes, op counts and passes.
#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "app/options.hpp"
#include "app/text.hpp"
#include "workloads/analysis.hpp"

namespace einsim::app {
namespace {

using Json = nlohmann::ordered_json;

std::string param_value(const Param& p) {
  return p.integer ? std::to_string(static_cast<int64_t>(p.value)) : fmt::format("{}", p.value);
}

std::string tensor_kind(const Tensor& t) { return t.is_input() ? "input" : t.output ? "output" : "intermediate"; }

Json check_json(const Cascade& c, const Analysis& a) {
  Json j;
  j["name"] = c.name;
  j["file"] = c.file;
  Json params = Json::object();
  for (const Param& p : c.params)
    p.integer ? (params[p.name] = static_cast<int64_t>(p.value)) : (params[p.name] = p.value);
  j["params"] = params;
  Json tensors = Json::object();
  for (const Tensor& t : c.tensors) {
    Json tj;
    tj["kind"] = tensor_kind(t);
    Json ranks = Json::array();
    for (const Rank& r : t.ranks) ranks.push_back(r.name);
    tj["ranks"] = ranks;
    tj["shape"] = shape_of(t);
    tj["dtype"] = dtype_name(t.dtype);
    tj["bytes"] = t.bytes();
    tensors[t.name] = tj;
  }
  j["tensors"] = tensors;
  Json einsums = Json::array();
  for (EinsumId e : a.einsums.ids()) {
    einsums.push_back(Json{{"name", a.einsums[e].name},
                           {"einsum", c.einsums[e].text},
                           {"points", a.einsums[e].points},
                           {"ops", a.einsums[e].ops}});
    const Einsum& x = c.einsums[e];
    if (!x.where.empty()) einsums.back()["where"] = x.where_text;
    if (x.guard >= 0) {
      const Tensor& g = c.tensors[x.reads[static_cast<size_t>(x.guard)].tensor];
      einsums.back()["when"] = g.name;
      einsums.back()["density"] = *g.density;
    }
    if (!x.where.empty() || x.guard >= 0) einsums.back()["space"] = x.space();  // the points without either
  }
  j["einsums"] = einsums;
  j["ops"] = a.ops;
  j["compulsory_bytes"] = a.compulsory_bytes;
  Json passes = Json::object();
  for (const auto& [rank, n] : a.passes) passes[rank] = n;
  j["passes"] = passes;
  j["warnings"] = a.warnings;
  return j;
}

void print_check(const Cascade& c, const Analysis& a) {
  std::string out = fmt::format("{}  ({})\n", c.name, c.file);
  if (!c.description.empty()) out += "  " + c.description + "\n";
  std::string given, inferred;
  for (const Param& p : c.params) (p.inferred ? inferred : given) += fmt::format(" {}={}", p.name, param_value(p));
  out += "params:" + given + (inferred.empty() ? "" : "   (inferred:" + inferred + ")") + "\n\n";

  std::vector<std::vector<std::string>> rows{{"tensor", "kind", "shape", "dtype", "bytes"}};
  for (const Tensor& t : c.tensors)
    rows.push_back({t.name, tensor_kind(t), shape_text(t), std::string(dtype_name(t.dtype)), grouped(t.bytes())});
  out += table(rows) + "\n";

  // Masked and guarded Einsums say what their where clause keeps of the iteration space, or their guard (expected).
  const bool masks =
      std::any_of(c.einsums.begin(), c.einsums.end(), [](const Einsum& e) { return !e.where.empty() || e.guard >= 0; });
  rows = {{"einsum", "points", "ops"}};
  if (masks) rows[0].push_back("where");
  for (EinsumId e : a.einsums.ids()) {
    const Einsum& x = c.einsums[e];
    rows.push_back({a.einsums[e].name, grouped(a.einsums[e].points), ops_text(a.einsums[e].ops)});
    if (masks)
      rows.back().push_back(
          x.where.empty() && x.guard < 0
              ? ""
              : fmt::format("{} ({:.1f}% of {})",
                            x.guard >= 0 ? "when " + c.tensors[x.reads[static_cast<size_t>(x.guard)].tensor].name
                                         : x.where_text,
                            100.0 * static_cast<double>(x.points()) / static_cast<double>(x.space()),
                            grouped(x.space())));
  }
  out += table(rows) + "\n";

  std::string passes;
  for (const auto& [rank, n] : a.passes) passes += fmt::format(" {}={}", rank, n);
  rows = {
      {"total ops", ops_text(a.ops)}, {"compulsory bytes", grouped(a.compulsory_bytes)}, {"passes", passes.substr(1)}};
  out += table(rows, "");
  for (const std::string& w : a.warnings) out += "warning: " + w + "\n";
  std::cout << out;
}

}  // namespace

DesignOverrides parse_sets(const std::vector<std::string>& sets) {
  DesignOverrides out;
  for (const std::string& s : sets) {
    const auto [path, value] = parse_setting(s, "--set", "workload.M=4096 or --set arch.glb.size=32MiB");
    add_override(out, path, value, SourceLoc{}, "--set " + path);
  }
  return out;
}

WorkloadOverrides WorkloadArgs::overrides() const {
  const DesignOverrides parsed = parse_sets(sets);
  if (!parsed.arch.empty())
    throw UserError(SourceLoc{}, "--set arch." + parsed.arch[0].first, "this command takes no architecture");
  WorkloadOverrides o;
  o.param_files = param_files;
  o.params = parsed.workload;
  return o;
}

int run_check(const WorkloadArgs& args) {
  const Cascade c = load_cascade(args.file, args.overrides());
  const Analysis a = analyze(c);
  if (args.json)
    std::cout << check_json(c, a).dump(2) << '\n';
  else
    print_check(c, a);
  return 0;
}

}  // namespace einsim::app
