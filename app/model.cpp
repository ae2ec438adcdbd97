// einsim model and einsim sim: a design point's Stats, analytically or at cycle level.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "app/options.hpp"
#include "app/text.hpp"
#include "mappings/design_point.hpp"
#include "sim/analytical.hpp"
#include "sim/cycle/engine.hpp"

namespace einsim::app {
namespace {

using Json = nlohmann::ordered_json;

DesignPoint load_point(const ModelArgs& args) {
  const DesignOverrides sets = parse_sets(args.sets);
  WorkloadOverrides o;
  o.param_files = args.param_files;
  o.params = sets.workload;
  return load_design_point(args.mapping, o, sets.arch, args.arch, args.workload);
}

// Where each `place: auto` group ran and why. A group moves the same bytes and does the same ops on every
// candidate (its tiles come from the mapping), so its one Op/B meets each candidate's ridge: below it, the
// candidate is memory-bound. The least roofline time wins; a tie goes to the group's own units.
std::string placement_text(const Stats& s) {
  if (s.placements.empty()) return "";
  std::vector<std::vector<std::string>> rows{
      {"group", "Op/B", "ran on: ridge Op/B, roofline time", "other candidates"}};
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
      if (place == pl.place)
        bounds = fmt::format("{}-bound on {} (ridge {:.3g})",
                             pl.op_per_byte < o.ridge_op_per_byte ? "memory" : "compute", place, o.ridge_op_per_byte) +
                 bounds;
      else
        bounds += fmt::format(", {}-bound on {} ({:.3g})", pl.op_per_byte < o.ridge_op_per_byte ? "memory" : "compute",
                              place, o.ridge_op_per_byte);
    why +=
        against.empty()
            ? fmt::format("  {} on {}: its only candidate; Op/B {:.3g}: {}\n", group, pl.place, pl.op_per_byte, bounds)
            : fmt::format("  {} on {}: least roofline time, {}{} ({}); Op/B {:.3g}: {}\n", group, pl.place,
                          seconds_text(chosen->second.roofline_s), tie ? ", a tie won by its own units" : "",
                          against.substr(2), pl.op_per_byte, bounds);
  }
  return "\nplacement of the `place: auto` groups: the least roofline time, max(ops / peak, bytes / bandwidth), "
         "wins\n" +
         table(rows) + why;
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
  std::string out = fmt::format("{} on {} with mapping {} ({})\n", p.cascade.name, p.arch.name, p.mapping.name,
                                fidelity_name(s.fidelity));
  if (!s.status.ok) {
    std::cout << out << "infeasible: " << s.status.reason << '\n';
    return 0;
  }
  out += fmt::format(
      "latency  {} cycles = {:.6g} s   ({}-bound){}\n", grouped(s.cycles), s.latency_s, s.bound,
      s.gap_vs_analytical ? fmt::format(", {:+.2f}% against the analytical model", 100 * *s.gap_vs_analytical) : "");
  out += fmt::format("energy   {:.6g} pJ   area {:.3f} mm2\n", s.energy_pJ, s.area_mm2);
  out += fmt::format("roofline compute {} cycles, memory {} cycles\n\n", grouped(s.roofline_compute_cycles),
                     grouped(s.roofline_memory_cycles));
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
    rows.push_back({level, grouped(t.read), grouped(t.write),
                    e == s.energy_breakdown_pJ.end() ? "-" : fmt::format("{:.4g}", e->second)});
  }
  out += table(rows) + "\n";
  rows = {{"einsum", "unit", "cycles", "utilization", "ops"}};
  for (const Einsum& e : p.cascade.einsums) {
    const auto it = s.einsums.find(e.name);
    if (it == s.einsums.end()) continue;
    rows.push_back({e.name, it->second.unit, grouped(it->second.cycles),
                    fmt::format("{:.1f}%", 100 * it->second.utilization), ops_text(it->second.ops)});
  }
  std::cout << out << table(rows) << placement_text(s);
  return 0;
}

int evaluate_and_print(const ModelArgs& args, Evaluator& evaluator) {
  const DesignPoint p = load_point(args);
  return print_stats(p, evaluator.evaluate(p.cascade, p.arch, p.program), args.json);
}

}  // namespace

int run_model(const ModelArgs& args) {
  AnalyticalEvaluator analytical;
  return evaluate_and_print(args, analytical);
}

int run_sim(const ModelArgs& args) {
  CycleOptions options;
  options.trace_file = args.trace;
  options.vcd_file = args.vcd;
  options.exact = args.exact;
  CycleEvaluator cycle(options);
  return evaluate_and_print(args, cycle);
}

}  // namespace einsim::app
