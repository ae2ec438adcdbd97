#include "sim/app/commands.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "arch/spec.hpp"
#include "arch/units/systolic.hpp"
#include "mappings/design_point.hpp"
#include "sim/analytical.hpp"
#include "sim/cycle/engine.hpp"
#include "common/units.hpp"
#include "workloads/analysis.hpp"
#include "workloads/interpreter.hpp"
#include "workloads/validate.hpp"
#include "workloads/npy.hpp"

namespace einsim::app {
namespace {

using Json = nlohmann::ordered_json;

// Aligned columns for human-readable tables.
std::string table(const std::vector<std::vector<std::string>>& rows, const std::string& indent = "  ") {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      width.resize(std::max(width.size(), r.size()));
      width[i] = std::max(width[i], r[i].size());
    }
  std::string out;
  for (const auto& r : rows) {
    std::string line = indent;
    for (size_t i = 0; i < r.size(); ++i) line += fmt::format("{:<{}}", r[i], i + 1 < r.size() ? width[i] + 2 : 0);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string grouped(int64_t n) {
  std::string s = std::to_string(n >= 0 ? n : -n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string param_value(const Param& p) { return p.integer ? std::to_string(static_cast<int64_t>(p.value)) : fmt::format("{}", p.value); }

std::string tensor_kind(const Tensor& t) { return t.is_input() ? "input" : t.output ? "output" : "intermediate"; }

std::string shape_text(const Tensor& t) {
  std::string s;
  for (const Rank& r : t.ranks) s += (s.empty() ? "" : ", ") + fmt::format("{}={}", r.name, r.extent);
  return "[" + s + "]";
}

std::vector<int64_t> shape_of(const Tensor& t) {
  std::vector<int64_t> s;
  for (const Rank& r : t.ranks) s.push_back(r.extent);
  return s;
}

std::string ops_text(const OpCounts& ops) {
  std::string s;
  for (const auto& [k, n] : ops) s += (s.empty() ? "" : "  ") + k + " " + grouped(n);
  return s.empty() ? "-" : s;
}

Json check_json(const Cascade& c, const Analysis& a) {
  Json j;
  j["name"] = c.name;
  j["file"] = c.file;
  Json params = Json::object();
  for (const Param& p : c.params) p.integer ? (params[p.name] = static_cast<int64_t>(p.value)) : (params[p.name] = p.value);
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
  for (size_t i = 0; i < a.einsums.size(); ++i)
    einsums.push_back(Json{{"name", a.einsums[i].name}, {"einsum", c.einsums[i].text}, {"points", a.einsums[i].points}, {"ops", a.einsums[i].ops}});
  j["einsums"] = einsums;
  j["ops"] = a.ops;
  j["compulsory_bytes"] = a.compulsory_bytes;
  Json passes = Json::object();
  for (const auto& [rank, n] : a.passes) passes[rank] = n;
  j["passes"] = passes;
  return j;
}

void print_check(const Cascade& c, const Analysis& a) {
  std::string out = fmt::format("{}  ({})\n", c.name, c.file);
  if (!c.description.empty()) out += "  " + c.description + "\n";
  std::string given, inferred;
  for (const Param& p : c.params) (p.inferred ? inferred : given) += fmt::format(" {}={}", p.name, param_value(p));
  out += "params:" + given + (inferred.empty() ? "" : "   (inferred:" + inferred + ")") + "\n\n";

  std::vector<std::vector<std::string>> rows{{"tensor", "kind", "shape", "dtype", "bytes"}};
  for (const Tensor& t : c.tensors) rows.push_back({t.name, tensor_kind(t), shape_text(t), std::string(dtype_name(t.dtype)), grouped(t.bytes())});
  out += table(rows) + "\n";

  rows = {{"einsum", "points", "ops"}};
  for (const EinsumAnalysis& e : a.einsums) rows.push_back({e.name, grouped(e.points), ops_text(e.ops)});
  out += table(rows) + "\n";

  std::string passes;
  for (const auto& [rank, n] : a.passes) passes += fmt::format(" {}={}", rank, n);
  rows = {{"total ops", ops_text(a.ops)}, {"compulsory bytes", grouped(a.compulsory_bytes)}, {"passes", passes.substr(1)}};
  out += table(rows, "");
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
  if (!parsed.arch.empty()) throw UserError(SourceLoc{}, "--set arch." + parsed.arch[0].first, "this command takes no architecture");
  WorkloadOverrides o;
  o.param_files = param_files;
  o.params = parsed.workload;
  return o;
}

int run_check(const WorkloadArgs& args) {
  const Cascade c = load_cascade(args.file, args.overrides());
  const Analysis a = analyze(c);
  if (args.json) std::cout << check_json(c, a).dump(2) << '\n';
  else print_check(c, a);
  return 0;
}

int run_validate(const ValidateArgs& args) {
  const Cascade c = load_cascade(args.workload.file, args.workload.overrides());
  ValidateOptions o;
  o.backend = args.backend;
  o.seed = args.seed;
  o.max_interpreter_ops = args.max_interpreter_ops;
  o.sample_rows = args.sample_rows;
  const ValidateReport r = validate(c, o);
  if (args.workload.json) {
    Json j;
    j["workload"] = r.workload;
    j["kernel"] = r.kernel;
    j["backend"] = r.backend;
    if (!r.device.empty()) j["device"] = r.device;
    j["seed"] = args.seed;
    j["output"] = r.output;
    j["interpreter"] = r.interpreter;
    j["checks"] = Json::array();
    for (const ValidateCheck& ch : r.checks)
      j["checks"].push_back(Json{{"kernel", ch.kernel}, {"against", ch.against}, {"compared", ch.compared}, {"max_abs_err", ch.max_abs_err},
                                 {"norm_rel_err", ch.norm_rel_err}, {"tolerance", ch.tolerance}, {"ok", ch.ok()}});
    if (args.time)
      for (const auto& [stage, seconds] : r.seconds) j["seconds"][stage] = seconds;
    j["ok"] = r.ok();
    std::cout << j.dump(2) << '\n';
  } else {
    std::string out = fmt::format("{}: output {} against kernel '{}' on {}{}, seed {}\n", r.workload, r.output, r.kernel, r.backend,
                                  r.device.empty() ? "" : " (" + r.device + ")", args.seed);
    if (r.interpreter != "run") out += "  interpreter " + r.interpreter + "\n";
    std::vector<std::vector<std::string>> rows{{"kernel", "against", "values", "max_abs_err", "norm_rel_err", "tolerance", ""}};
    for (const ValidateCheck& ch : r.checks)
      rows.push_back({ch.kernel, ch.against, fmt::format("{}", ch.compared), fmt::format("{:.3g}", ch.max_abs_err), fmt::format("{:.3g}", ch.norm_rel_err),
                      fmt::format("{:.3g}", ch.tolerance), ch.ok() ? "ok" : "EXCEEDED"});
    out += table(rows);
    if (args.time)
      for (const auto& [stage, seconds] : r.seconds) out += fmt::format("  {}: {:.3f} s\n", stage, seconds);
    std::cout << out;
  }
  return r.ok() ? 0 : 1;
}

namespace {

DesignPoint load_point(const ModelArgs& args) {
  const DesignOverrides sets = parse_sets(args.sets);
  WorkloadOverrides o;
  o.param_files = args.param_files;
  o.params = sets.workload;
  return load_design_point(args.mapping, o, sets.arch, args.arch, args.workload);
}

// "80.3 us": seconds with a prefix, 3 significant digits.
std::string seconds_text(double s) {
  if (s >= 1 || s == 0) return fmt::format("{:.3g} s", s);
  if (s >= 1e-3) return fmt::format("{:.3g} ms", s * 1e3);
  if (s >= 1e-6) return fmt::format("{:.3g} us", s * 1e6);
  return fmt::format("{:.3g} ns", s * 1e9);
}

// Where each `place: auto` group ran and why. A group moves the same bytes and does the same ops on every
// candidate (its tiles come from the mapping), so its one Op/B meets each candidate's ridge: below it, the
// candidate is memory-bound. The least roofline time wins; a tie goes to the group's own units.
std::string placement_text(const Stats& s) {
  if (s.placements.empty()) return "";
  std::vector<std::vector<std::string>> rows{{"group", "Op/B", "ran on: ridge Op/B, roofline time", "other candidates"}};
  std::string why;
  for (const auto& [group, pl] : s.placements) {
    const auto chosen = pl.options.find(pl.place);
    if (chosen == pl.options.end()) continue;
    const auto cell = [](const std::string& place, const PlaceRoofline& o) {
      return fmt::format("{}: {:.3g}, {}", place, o.ridge_op_per_byte, seconds_text(o.roofline_s));
    };
    rows.push_back({group, fmt::format("{:.3g}", pl.op_per_byte), cell(pl.place, chosen->second)});
    std::string against, bounds;
    bool tie = false;
    for (const auto& [place, o] : pl.options) {
      if (place != pl.place) {
        rows.back().push_back(cell(place, o));
        against += fmt::format(", {} {}", place, seconds_text(o.roofline_s));
        tie = tie || o.roofline_s == chosen->second.roofline_s;
      }
    }
    for (const auto& [place, o] : pl.options)  // the chosen first
      if (place == pl.place) bounds = fmt::format("{}-bound on {} (ridge {:.3g})", pl.op_per_byte < o.ridge_op_per_byte ? "memory" : "compute", place, o.ridge_op_per_byte) + bounds;
      else bounds += fmt::format(", {}-bound on {} ({:.3g})", pl.op_per_byte < o.ridge_op_per_byte ? "memory" : "compute", place, o.ridge_op_per_byte);
    why += against.empty() ? fmt::format("  {} on {}: its only candidate; Op/B {:.3g}: {}\n", group, pl.place, pl.op_per_byte, bounds)
                           : fmt::format("  {} on {}: least roofline time, {}{} ({}); Op/B {:.3g}: {}\n", group, pl.place, seconds_text(chosen->second.roofline_s),
                                         tie ? ", a tie won by its own units" : "", against.substr(2), pl.op_per_byte, bounds);
  }
  return "\nplacement of the `place: auto` groups: the least roofline time, max(ops / peak, bytes / bandwidth), wins\n" + table(rows) + why;
}

int print_stats(const DesignPoint& p, const Stats& s, bool json) {
  if (json) {
    Json j = to_json(s);
    j["workload"] = p.cascade.file;
    j["arch"] = p.arch.file;
    j["mapping"] = p.mapping.file;
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  std::string out = fmt::format("{} on {} with mapping {} ({})\n", p.cascade.name, p.arch.name, p.mapping.name, s.fidelity);
  if (!s.status.ok) {
    std::cout << out << "infeasible: " << s.status.reason << '\n';
    return 0;
  }
  out += fmt::format("latency  {} cycles = {:.6g} s   ({}-bound){}\n", grouped(s.cycles), s.latency_s, s.bound,
                     s.gap_vs_analytical ? fmt::format(", {:+.2f}% against the analytical model", 100 * *s.gap_vs_analytical) : "");
  out += fmt::format("energy   {:.6g} pJ   area {:.3f} mm2\n", s.energy_pJ, s.area_mm2);
  out += fmt::format("roofline compute {} cycles, memory {} cycles\n\n", grouped(s.roofline_compute_cycles), grouped(s.roofline_memory_cycles));
  std::vector<std::vector<std::string>> rows{{"unit", "busy cycles", "utilization"}};
  if (!s.stall_cycles.empty()) rows[0].insert(rows[0].end(), {"stalled on data", "stalled on dependencies"});
  for (const auto& [unit, u] : s.utilization) {
    rows.push_back({unit, grouped(s.busy_cycles.at(unit)), fmt::format("{:.1f}%", 100 * u)});
    if (const auto st = s.stall_cycles.find(unit); st != s.stall_cycles.end())
      rows.back().insert(rows.back().end(), {grouped(st->second.at("data")), grouped(st->second.at("dependency"))});
  }
  out += table(rows) + "\n";
  rows = {{"level", "read bytes", "written bytes", "energy pJ"}};
  for (const auto& [level, t] : s.traffic_bytes) {
    const auto e = s.energy_breakdown_pJ.find(level);
    rows.push_back({level, grouped(t.read), grouped(t.write), e == s.energy_breakdown_pJ.end() ? "-" : fmt::format("{:.4g}", e->second)});
  }
  out += table(rows) + "\n";
  rows = {{"einsum", "unit", "cycles", "utilization", "ops"}};
  for (const Einsum& e : p.cascade.einsums) {
    const auto it = s.einsums.find(e.name);
    if (it == s.einsums.end()) continue;
    rows.push_back({e.name, it->second.unit, grouped(it->second.cycles), fmt::format("{:.1f}%", 100 * it->second.utilization), ops_text(it->second.ops)});
  }
  std::cout << out << table(rows) << placement_text(s);
  return 0;
}

}  // namespace

int run_model(const ModelArgs& args) {
  const DesignPoint p = load_point(args);
  return print_stats(p, evaluate_analytical(p.cascade, p.arch, p.program), args.json);
}

int run_sim(const ModelArgs& args) {
  const DesignPoint p = load_point(args);
  CycleOptions options;
  options.trace_file = args.trace;
  options.vcd_file = args.vcd;
  options.exact = args.exact;
  return print_stats(p, simulate_cycles(p.cascade, p.arch, p.program, options), args.json);
}

int run_gemm(const GemmArgs& args) {
  for (const auto& [name, v] : {std::pair<const char*, int64_t>{"--rows", args.rows}, {"--cols", args.cols}, {"--M", args.M}, {"--N", args.N}, {"--K", args.K}})
    if (v < 1 || v > (int64_t{1} << 40)) throw UserError(SourceLoc{}, name, fmt::format("must be between 1 and 2^40, got {}", v));
  const Dataflow df = args.dataflow == "os" ? Dataflow::os : args.dataflow == "is" ? Dataflow::is : Dataflow::ws;
  const FoldOverlap overlap = args.fold_overlap == "pipelined" ? FoldOverlap::pipelined : FoldOverlap::none;
  const SystolicTiming t = systolic_gemm(args.rows, args.cols, df, overlap, GemmShape{args.M, args.N, args.K});
  if (args.json) {
    Json j{{"rows", args.rows}, {"cols", args.cols}, {"dataflow", args.dataflow}, {"fold_overlap", args.fold_overlap},
           {"M", args.M}, {"N", args.N}, {"K", args.K}, {"cycles", t.cycles}, {"folds", t.folds},
           {"utilization", t.utilization}, {"mapping_efficiency", t.mapping_efficiency}};
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  std::cout << fmt::format("GEMM {}x{}x{} (MxNxK) on a {}x{} {} array, fold overlap {}\n", args.M, args.N, args.K, args.rows, args.cols,
                           args.dataflow, args.fold_overlap)
            << table({{"cycles", grouped(t.cycles)},
                      {"folds", fmt::format("{} x {} cycles each", grouped(t.folds), grouped(t.fold_latency))},
                      {"utilization", fmt::format("{:.2f}%", 100 * t.utilization)},
                      {"mapping efficiency", fmt::format("{:.2f}%", 100 * t.mapping_efficiency)}},
                     "");
  return 0;
}

namespace {

// Every registered kind's parameter table, as Markdown (docs/model.md holds this text) or JSON.
int print_kinds(bool json) {
  Json all = Json::object();
  std::string text;
  for (const auto& [name, kind] : component_kinds()) {
    Json params = Json::array();
    text += fmt::format("#### `{}`: {}\n\n| key | type | unit | default | description |\n|---|---|---|---|---|\n", name, kind.description);
    for (const ParamDef& p : kind.params) {
      std::string type(param_type_name(p.type));
      if (!p.choices.empty()) type = fmt::format("{}", fmt::join(p.choices, " \\| "));
      const std::string fallback = p.required ? "required" : p.default_value.empty() ? "-" : "`" + p.default_value + "`";
      text += fmt::format("| `{}` | {} | {} | {} | {} |\n", p.name, type, param_unit(p.type), fallback, p.description);
      params.push_back(Json{{"name", p.name}, {"type", param_type_name(p.type)}, {"unit", param_unit(p.type)}, {"required", p.required},
                            {"default", p.default_value.empty() ? Json(nullptr) : Json(p.default_value)}, {"choices", p.choices},
                            {"description", p.description}});
    }
    text += fmt::format("\nExample: `{}`\n\n", kind.example);
    all[name] = Json{{"description", kind.description}, {"params", params}, {"example", kind.example}};
  }
  if (json) std::cout << all.dump(2) << '\n';
  else std::cout << text;
  return 0;
}

}  // namespace

int run_arch(const ArchArgs& args) {
  if (args.kinds) return print_kinds(args.json);
  if (args.file.empty()) throw UserError(SourceLoc{}, "arch", "name an architecture file, or --kinds to list the component kinds");
  const DesignOverrides sets = parse_sets(args.sets);
  if (!sets.workload.empty()) throw UserError(SourceLoc{}, "--set workload." + sets.workload[0].first, "this command takes no workload");
  const ArchSpec a = load_arch(args.file, sets.arch);
  Json j;
  j["name"] = a.name;
  j["file"] = a.file;
  j["clock_hz"] = a.clock_hz;
  j["technology"] = a.table.technology;
  j["energy_table"] = a.table.file;
  Json comps = Json::object();
  std::vector<std::vector<std::string>> rows{{"component", "kind", "size", "ops (latency cycles, energy pJ)", "area mm2"}};
  double total_area = 0;
  bool area_complete = true;
  for (const ComponentSpec& c : a.components) {
    Json cj;
    cj["kind"] = c.kind();
    std::string size;
    c.model->describe(cj, size);
    std::string ops;
    if (const auto* o = c.ops()) {
      Json oj = Json::object();
      for (const auto& [kind, op] : *o) {
        oj[kind] = Json{{"latency_cycles", op.latency_cycles}, {"energy_pJ", op.cost.energy_pJ}};
        ops += fmt::format("{}{} ({}, {:g})", ops.empty() ? "" : "  ", kind, op.latency_cycles, op.cost.energy_pJ);
      }
      cj["ops"] = oj;
    }
    const auto area = c.area_um2();
    cj["area_mm2"] = area ? Json(*area / 1e6) : Json(nullptr);
    if (area) total_area += *area / 1e6;
    else if (c.model->counts_area()) area_complete = false;
    rows.push_back({c.name, std::string(c.kind()), size, ops.empty() ? "-" : ops, area ? fmt::format("{:.3f}", *area / 1e6) : "-"});
    comps[c.name] = cj;
  }
  j["components"] = comps;
  j["area_mm2"] = total_area;
  j["area_complete"] = area_complete;
  if (args.json) {
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  std::cout << fmt::format("{}  ({})\n  {}\nclock {:g} MHz, {} figures from {}\n\n", a.name, a.file, a.description, a.clock_hz / 1e6,
                           a.table.technology, a.table.file)
            << table(rows) << fmt::format("\narea {:.3f} mm2{}\n", total_area, area_complete ? "" : " (components marked - have no public area figure)");
  return 0;
}

int run_eval(const EvalArgs& args) {
  WorkloadOverrides overrides = args.workload.overrides();
  // With --compare, one command line feeds two workloads: a --set applies to those that have the param.
  overrides.skip_unknown = !args.compare.empty() || args.compare_reference;
  const Cascade c = load_cascade(args.workload.file, overrides);
  TensorValues inputs = random_inputs(c, args.seed);
  if (!args.inputs_dir.empty()) {
    for (const Tensor& t : c.tensors) {
      if (!t.is_input()) continue;
      const std::string file = (std::filesystem::path(args.inputs_dir) / (t.name + ".npy")).string();
      NpyArray a = read_npy(file);
      if (a.shape != shape_of(t))
        throw UserError(SourceLoc{file}, "", fmt::format("input '{}' has shape ({}) but the workload needs ({})", t.name, fmt::join(a.shape, ", "), fmt::join(shape_of(t), ", ")));
      inputs[t.name] = std::move(a.values);
    }
  }
  EvalOptions options;
  options.fp64 = args.accum == "fp64";
  options.ideal = args.ideal;
  const TensorValues values = evaluate(c, inputs, options);

  Json j;
  j["name"] = c.name;
  j["seed"] = args.seed;
  j["accum"] = args.accum;
  j["ideal"] = args.ideal;
  Json outputs = Json::object();
  std::vector<std::vector<std::string>> rows{{"output", "shape", "min", "max", "mean"}};
  for (const Tensor& t : c.tensors) {
    if (!t.output) continue;
    const std::vector<double>& v = values.at(t.name);
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (double x : v) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
      sum += x;
    }
    const double mean = v.empty() ? 0.0 : sum / static_cast<double>(v.size());
    outputs[t.name] = Json{{"shape", shape_of(t)}, {"min", lo}, {"max", hi}, {"mean", mean}};
    rows.push_back({t.name, shape_text(t), fmt::format("{:.6g}", lo), fmt::format("{:.6g}", hi), fmt::format("{:.6g}", mean)});
    if (!args.out_dir.empty()) {
      std::filesystem::create_directories(args.out_dir);
      write_npy((std::filesystem::path(args.out_dir) / (t.name + ".npy")).string(), shape_of(t), v, options.fp64);
    }
  }
  j["outputs"] = outputs;
  std::string text = fmt::format("{}: evaluated with seed {}, {} arithmetic{}\n", c.name, args.seed, args.accum, args.ideal ? ", ideal storage" : "");
  text += table(rows);

  // --compare-reference: the workload's `reference:` is the oracle.
  const std::string compare_file = args.compare_reference ? c.reference : args.compare;
  if (args.compare_reference || !compare_file.empty()) {
    const Cascade other = args.compare_reference ? load_reference(c, overrides) : load_cascade(compare_file, overrides);
    for (const auto& [name, value] : overrides.params) {
      const Param* here = c.param(name);
      const Param* there = other.param(name);
      if ((!here || here->inferred) && (!there || there->inferred))
        throw UserError(SourceLoc{}, "--set workload." + name, fmt::format("neither {} nor {} has a param '{}'", c.file, other.file, name));
    }
    TensorValues other_inputs;
    for (const Tensor& t : other.tensors) {
      if (!t.is_input()) continue;
      auto it = inputs.find(t.name);
      if (it != inputs.end() && c.tensor_index(t.name) >= 0 && shape_of(c.tensor(t.name)) != shape_of(t))
        throw UserError(SourceLoc{compare_file}, "tensors." + t.name, fmt::format("input '{}' has shape {} here but {} in {}", t.name, shape_text(t), shape_text(c.tensor(t.name)), c.file));
      other_inputs[t.name] = it != inputs.end() ? it->second : random_values(t.name, t.elements(), args.seed);
    }
    const TensorValues other_values = evaluate(other, other_inputs, options);
    Json compare = Json::object();
    rows = {{"output", "max_abs_err", "max_rel_err", "mean_rel_err", "snr_db"}};
    for (const Tensor& t : c.tensors) {
      const int o = other.tensor_index(t.name);
      if (!t.output || o < 0 || !other.tensors[static_cast<size_t>(o)].output) continue;
      if (shape_of(t) != shape_of(other.tensors[static_cast<size_t>(o)]))
        throw UserError(SourceLoc{compare_file}, "tensors." + t.name, fmt::format("output '{}' has another shape than in {}", t.name, c.file));
      // The oracle: the reference workload with --compare-reference, else this one.
      const ErrorStats s = args.compare_reference ? compare_values(values.at(t.name), other_values.at(t.name))
                                                  : compare_values(other_values.at(t.name), values.at(t.name));
      compare[t.name] = Json{{"max_abs_err", s.max_abs_err}, {"max_rel_err", s.max_rel_err}, {"mean_rel_err", s.mean_rel_err}, {"snr_db", s.snr_db}};
      rows.push_back({t.name, fmt::format("{:.3e}", s.max_abs_err), fmt::format("{:.3e}", s.max_rel_err), fmt::format("{:.3e}", s.mean_rel_err),
                      fmt::format("{:.1f}", s.snr_db)});
    }
    if (compare.empty()) throw UserError(SourceLoc{compare_file}, "", fmt::format("shares no output tensor with {}", c.file));
    j[args.compare_reference ? "reference" : "compare"] = compare;
    text += fmt::format("{} {} ({}), same inputs:\n", args.compare_reference ? "against its reference" : "compared with", other.name, compare_file) + table(rows);
  }
  if (args.workload.json) std::cout << j.dump(2) << '\n';
  else std::cout << text;
  return 0;
}

}  // namespace einsim::app
