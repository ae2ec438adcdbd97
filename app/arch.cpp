// einsim arch: an architecture's components, op energies and area; or the registered component kinds.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "app/options.hpp"
#include "app/text.hpp"
#include "arch/spec.hpp"
#include "common/units.hpp"

namespace einsim::app {
namespace {

using Json = nlohmann::ordered_json;

// Every registered kind's parameter table, as Markdown (docs/model.md holds this text) or JSON.
int print_kinds(bool json) {
  Json all = Json::object();
  std::string text;
  for (const auto& [name, kind] : component_kinds()) {
    Json params = Json::array();
    text += fmt::format("#### `{}`: {}\n\n| key | type | unit | default | description |\n|---|---|---|---|---|\n", name,
                        kind.description);
    for (const ParamDef& p : kind.params) {
      std::string type(param_type_name(p.type));
      if (!p.choices.empty()) type = fmt::format("{}", fmt::join(p.choices, " \\| "));
      const std::string fallback = p.required                ? "required"
                                   : p.default_value.empty() ? "-"
                                                             : "`" + p.default_value + "`";
      text += fmt::format("| `{}` | {} | {} | {} | {} |\n", p.name, type, param_unit(p.type), fallback, p.description);
      params.push_back(Json{{"name", p.name},
                            {"type", param_type_name(p.type)},
                            {"unit", param_unit(p.type)},
                            {"required", p.required},
                            {"default", p.default_value.empty() ? Json(nullptr) : Json(p.default_value)},
                            {"choices", p.choices},
                            {"description", p.description}});
    }
    text += fmt::format("\nExample: `{}`\n\n", kind.example);
    all[name] = Json{{"description", kind.description}, {"params", params}, {"example", kind.example}};
  }
  if (json)
    std::cout << all.dump(2) << '\n';
  else
    std::cout << text;
  return 0;
}

}  // namespace

int run_arch(const ArchArgs& args) {
  if (args.kinds) return print_kinds(args.json);
  if (args.file.empty())
    throw UserError(SourceLoc{}, "arch", "name an architecture file, or --kinds to list the component kinds");
  const DesignOverrides sets = parse_sets(args.sets);
  if (!sets.workload.empty())
    throw UserError(SourceLoc{}, "--set workload." + sets.workload[0].first, "this command takes no workload");
  const ArchSpec a = load_arch(args.file, sets.arch);
  Json j;
  j["name"] = a.name;
  j["file"] = a.file;
  j["clock_hz"] = a.clock_hz;
  j["technology"] = a.table.technology;
  j["energy_table"] = a.table.file;
  Json comps = Json::object();
  std::vector<std::vector<std::string>> rows{
      {"component", "kind", "size", "ops (latency cycles, energy pJ)", "area mm2"}};
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
        oj[kind] = Json{{"latency_cycles", op.latency_cycles}};
        if (op.interval_cycles) oj[kind]["interval_cycles"] = op.interval_cycles;
        if (!op.function_unit.empty()) oj[kind]["function_unit"] = op.function_unit;
        oj[kind]["energy_pJ"] = op.cost.energy_pJ;
        ops += fmt::format("{}{} ({}{}{}, {:g})", ops.empty() ? "" : "  ", kind, op.latency_cycles,
                           op.interval_cycles ? fmt::format(" every {}", op.interval_cycles) : "",
                           op.function_unit.empty() ? "" : " on " + op.function_unit, op.cost.energy_pJ);
      }
      cj["ops"] = oj;
    }
    // On a many-core chip, every core's copy (the size column is one core's).
    const int64_t copies = a.copies(c.name);
    if (copies > 1) {
      cj["copies"] = copies;
      size = fmt::format("{} per core", size);
    }
    std::optional<double> area = c.area_um2();
    if (area) *area *= static_cast<double>(copies);
    cj["area_mm2"] = area ? Json(*area / 1e6) : Json(nullptr);
    if (area)
      total_area += *area / 1e6;
    else if (c.model->counts_area())
      area_complete = false;
    rows.push_back({c.name, std::string(c.kind()), size, ops.empty() ? "-" : ops,
                    area ? fmt::format("{:.3f}", *area / 1e6) : "-"});
    comps[c.name] = cj;
  }
  j["components"] = comps;
  j["area_mm2"] = total_area;
  j["area_complete"] = area_complete;
  if (args.json) {
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  std::cout << fmt::format("{}  ({})\n  {}\nclock {:g} MHz, {} figures from {}\n\n", a.name, a.file, a.description,
                           a.clock_hz / 1e6, a.table.technology, a.table.file)
            << table(rows)
            << fmt::format("\narea {:.3f} mm2{}\n", total_area,
                           area_complete ? "" : " (components marked - have no public area figure)");
  return 0;
}

}  // namespace einsim::app
