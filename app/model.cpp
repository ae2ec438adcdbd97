// einsim model and einsim sim: a design point's Stats, analytically or at cycle level.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/options.hpp"
#include "app/text.hpp"
#include "app/verify.hpp"
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

std::string cell_text(const PrintedCell& c) {
  switch (c.show) {
    case Show::count:
    case Show::counts:
      return grouped(std::get<int64_t>(c.value));
    case Show::real:
      return fmt::format("{:.6g}", std::get<double>(c.value));
    case Show::percent:
      return fmt::format("{:.1f}%", 100 * std::get<double>(c.value));
    case Show::signed_percent:
      return fmt::format("{:+.2f}%", 100 * std::get<double>(c.value));
    case Show::seconds:
      return fmt::format("{:.6g} s", std::get<double>(c.value));
    case Show::text:
      break;
  }
  return std::get<std::string>(c.value);
}

// Every field the Stats schema labels (sim/stats.cpp), where it puts it: the headline figures, then a table per
// kind of row (units, components, Einsums in the cascade's order), a column per field; "-" where a row has none.
std::string stats_text(const Stats& s, const Cascade& cascade) {
  struct Table {
    std::vector<std::string> rows, columns;
    std::map<std::pair<std::string, std::string>, std::string> cells;
  };
  std::map<StatsTable, Table> tables;
  std::vector<std::vector<std::string>> headline;
  for (const PrintedCell& c : printed_cells(s)) {
    if (c.table == StatsTable::headline) {
      headline.push_back({c.column, cell_text(c)});
      continue;
    }
    Table& t = tables[c.table];
    if (std::find(t.rows.begin(), t.rows.end(), c.row) == t.rows.end()) t.rows.push_back(c.row);
    if (std::find(t.columns.begin(), t.columns.end(), c.column) == t.columns.end()) t.columns.push_back(c.column);
    std::string& cell = t.cells[{c.row, c.column}];
    cell += (cell.empty() ? "" : "  ") + (c.kind.empty() ? "" : c.kind + " ") + cell_text(c);
  }
  if (auto e = tables.find(StatsTable::einsum); e != tables.end()) {  // in the cascade's order, then the rest
    auto rank = [&](const std::string& name) {
      const auto it =
          std::find_if(cascade.einsums.begin(), cascade.einsums.end(), [&](const Einsum& x) { return x.name == name; });
      return it - cascade.einsums.begin();
    };
    std::stable_sort(e->second.rows.begin(), e->second.rows.end(),
                     [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  }
  std::string out = table(headline);
  for (const auto& [kind, t] : tables) {
    std::vector<std::vector<std::string>> rows{{kind == StatsTable::unit        ? "unit"
                                                : kind == StatsTable::component ? "component"
                                                : kind == StatsTable::group     ? "group"
                                                                                : "einsum"}};
    rows[0].insert(rows[0].end(), t.columns.begin(), t.columns.end());
    for (const std::string& r : t.rows) {
      rows.push_back({r});
      for (const std::string& c : t.columns) {
        const auto it = t.cells.find({r, c});
        rows.back().push_back(it == t.cells.end() ? "-" : it->second);
      }
    }
    out += "\n" + table(rows);
  }
  return out;
}

int print_stats(const DesignPoint& p, const Stats& s, bool json, const std::optional<TileCheck>& check = {}) {
  if (json) {
    Json j = to_json(s);
    j["workload"] = p.cascade.file;
    j["arch"] = p.arch.file;
    j["mapping"] = p.mapping.file;
    if (check) j["verify"] = to_json(*check);
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  std::string out = fmt::format("{} on {} with mapping {} ({})\n", p.cascade.name, p.arch.name, p.mapping.name,
                                fidelity_name(s.fidelity));
  if (!s.status.ok) {
    std::cout << out << "infeasible: " << s.status.reason << '\n';
    return 0;
  }
  std::cout << out << stats_text(s, p.cascade) << placement_text(s);
  return 0;
}

int evaluate_and_print(const ModelArgs& args, Evaluator& evaluator) {
  const DesignPoint p = load_point(args);
  return print_stats(p, evaluator.evaluate(p.cascade, p.arch, p.program), args.json);
}

}  // namespace

int run_model(const ModelArgs& args) {
  AnalyticalEvaluator analytical;
  if (!args.verify) return evaluate_and_print(args, analytical);
  const DesignPoint p = load_point(args);
  const Stats s = analytical.evaluate(p.cascade, p.arch, p.program);
  if (args.json) {  // one JSON object: the check first, then both printed
    const TileCheck check = verify_program(p.cascade, p.program, args.seed);
    print_stats(p, s, true, check);
    return check.ok ? 0 : 1;
  }
  print_stats(p, s, false);
  const TileCheck check = verify_program(p.cascade, p.program, args.seed);
  std::cout << "\nverify: " << check.summary() << '\n';
  return check.ok ? 0 : 1;
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
