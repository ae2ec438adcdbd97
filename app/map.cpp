#include "app/map.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/options.hpp"
#include "app/text.hpp"
#include "app/verify.hpp"
#include "explore/mapper.hpp"
#include "mappings/lower.hpp"
#include "explore/worker.hpp"

namespace einsim::app {

using Json = nlohmann::ordered_json;

CLI::App* add_map_command(CLI::App& app, MapArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "map",
      "Choose the tiles (`tile: auto`), loop orders (`order: auto`), units and spatial maps (`unit: auto`, "
      "`spatial: auto`), spills (`spill: auto`), passes (`passes: auto`), spreads over cores (`cores: auto`) and "
      "listed settings a mapping leaves open (or, without --constraints, every Einsum's units, spatial maps, loop "
      "order and tiles, and on a many-core chip its spread over the cores; each group's buffer stages the most that "
      "its tiles fit, `buffer_stages: fit`), and with --fuse which groups run "
      "fused: every combination, evaluated analytically; the best written as a mapping");
  cmd->add_option(
         "--constraints", args.constraints,
         "A mapping whose loop tiles may say `tile: auto`, groups `order: auto`, `pipeline: auto`, "
         "`passes: auto`, `cores: auto` or `buffer_stages:` lists (or `fit`), tensors `spill: auto`, Einsums `unit: "
         "auto` or "
         "`spatial: auto` and `params:` lists of values (it names its arch and workload), or a file of "
         "`alternatives:`, such files, each searched, the best kept. Without it, --workload and --arch alone: each "
         "Einsum in a group of its own, everything else searched")
      ->type_name("FILE");
  cmd->add_option("--arch", args.arch, "Architecture YAML file (default: the constraints'; without them, required)");
  cmd->add_option("--workload", args.workload,
                  "Workload YAML file (default: the constraints'; without them, required)");
  cmd->add_option("--set", args.sets,
                  "Override: NAME=VALUE or workload.NAME=VALUE (a param), arch.COMPONENT.KEY=VALUE (repeatable)")
      ->type_name("PATH=VALUE")
      ->allow_extra_args(false);
  cmd->add_option("--params", args.param_files, "Apply a param preset file (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);
  cmd->add_option("--objective", args.objective,
                  "What to minimize: latency (cycles), energy (pJ), or edp; ties go to the lower energy (latency) or "
                  "the fewer cycles")
      ->check(CLI::IsMember({"latency", "energy", "edp"}))
      ->capture_default_str();
  cmd->add_option("--top", args.top, "Candidates to print, best first")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--rerank-cycle", args.rerank_cycle,
                  "Simulate the K best at cycle level (each in its own process) and keep the fastest there")
      ->check(CLI::Range(0, 100))
      ->type_name("K")
      ->capture_default_str();
  cmd->add_option("-j,--jobs", args.jobs,
                  "Threads that search the bindings and orders (the same answer and certificate for any number)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option(
         "--time-limit", args.time_limit_s,
         "Stop after S seconds (each run of groups, or fused group, an equal share of the time left) with the "
         "best found and its gap to a lower bound (the least, over the bindings "
         "not searched, of each one's compute floor or the bytes that must cross the backing memory, "
         "whichever is higher; for energy, each one's energy floor); a space over the size limit is searched too, "
         "and a group with more units, maps and "
         "orders than can be listed, or with --fuse a fused group over the limit, by descent over its bindings (to a "
         "local optimum; with --fuse, half of each descent's share goes on to the descents that could improve on "
         "the best way to fuse)")
      ->check(CLI::PositiveNumber)
      ->type_name("S");
  cmd->add_option("--fuse", args.fuse,
                  "Search fusion too: every way to fuse runs of at most N consecutive groups (without --constraints, "
                  "each Einsum's, a recurrence's together; with them, their groups of one pass whose settings agree) "
                  "into one, its intermediates in the buffer; 1: each on its own")
      ->check(CLI::Range(1, 64))
      ->type_name("N")
      ->capture_default_str();
  cmd->add_flag("--ragged", args.ragged,
                "Search tiles that do not divide their index too (the last tile partial): for each number of "
                "tiles, the smallest tile that covers the index");
  cmd->add_flag("--pareto", args.pareto,
                "Print the Pareto front of latency against energy: every candidate that no other matches or beats "
                "in both");
  cmd->add_option("-o,--out", args.out, "Write the best mapping here (YAML; loads in model, sim and sweeps)")
      ->type_name("FILE");
  cmd->add_flag("--json", args.json, "Print one JSON object: the best Stats, the top candidates, the certificate");
  cmd->add_flag("--verify", args.verify,
                "Run the chosen mapping's tile program on values, tile by tile in its loops' order, and compare the "
                "cascade's results with the interpreter's (exit code 1 when one differs)");
  cmd->add_option("--verify-set", args.verify_sets,
                  "A param for --verify, over the search's (the check runs the cascade twice on values, so at small "
                  "params; the chosen tiles must fit them); implies --verify (repeatable)")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
  cmd->add_option("--seed", args.seed, "Seed of --verify's random inputs")->capture_default_str();
  return cmd;
}

namespace {

// The written mapping names the arch and workload the search used (--arch, --workload) and pins the workload params
// it bound (with_params_bound), so that `model` and `sim` evaluate what the search did unless told otherwise. (An
// arch's --set cannot go in a mapping: the header's command line says it.)
MappingSpec searched_at(MappingSpec m, const MapArgs& args, const WorkloadOverrides& o, const Cascade& cascade) {
  if (!args.arch.empty()) m.arch = args.arch;
  if (!args.workload.empty()) m.workload = args.workload;
  return with_params_bound(std::move(m), o, cascade);
}

// `einsim map`'s inputs as a command line, for the written mapping's header.
std::string inputs_text(const MapArgs& args) {
  std::string text = args.constraints.empty() ? fmt::format("--workload {} --arch {}", args.workload, args.arch)
                                              : "--constraints " + args.constraints;
  for (const std::string& f : args.param_files) text += " --params " + f;
  for (const std::string& set : args.sets) text += " --set " + set;
  return text;
}

// What a stopped search's lower bound says, in the objective's terms.
std::string no_mapping_below(MapObjective objective, double bound) {
  switch (objective) {
    case MapObjective::latency:
      return fmt::format("no mapping is faster than {} cycles", grouped(static_cast<int64_t>(bound)));
    case MapObjective::energy:
      return fmt::format("no mapping takes less than {:.6g} pJ", bound);
    case MapObjective::edp:
      return fmt::format("no mapping's energy-delay product is below {:.6g} cycle pJ", bound);
  }
  return "";
}

}  // namespace

int run_map(const MapArgs& args) {
  const DesignOverrides sets = parse_sets(args.sets);
  WorkloadOverrides o;
  o.param_files = args.param_files;
  o.params = sets.workload;
  MapOptions options;
  options.objective = args.objective == "energy" ? MapObjective::energy
                      : args.objective == "edp"  ? MapObjective::edp
                                                 : MapObjective::latency;
  options.top = std::max(args.top, args.rerank_cycle);
  options.ragged = args.ragged;
  options.pareto = args.pareto;
  options.jobs = args.jobs;
  options.time_limit_s = args.time_limit_s;
  // Constraints that list alternatives: each is searched on its own, and the one whose best wins (ties to the
  // earlier) is the one reported in full, re-ranked and written.
  // Without constraints, those of the workload and architecture alone (unconstrained()): one file, named "".
  const bool constrained = !args.constraints.empty();
  if (!constrained && (args.workload.empty() || args.arch.empty()))
    throw UserError(SourceLoc{}, "--constraints",
                    "give constraints, or --workload and --arch (every Einsum's mapping then searched)");
  const MappingSpec listed = constrained ? load_mapping(args.constraints) : MappingSpec{};
  const std::vector<std::string> files =
      listed.alternatives.empty() ? std::vector<std::string>{args.constraints} : listed.alternatives;
  // Each file with each combination of the params it lists (`params: {M0: [128, 256]}`), the cascade bound to it.
  struct Alternative {
    std::string file;
    MappingSpec templ;  // as written, its spatial: auto made at these params: its choices pin the params
    std::vector<std::pair<std::string, std::string>> params;
    Cascade cascade;
    ArchSpec arch;
    MapResult result;
    std::string label;    // the file when there are several, and the params
    std::string refused;  // why the workload refuses these params (M0 not dividing M), if it does
    std::string why_none() const { return refused.empty() ? no_feasible_mapping(result) : refused; }
  };
  std::vector<Alternative> alternatives;
  std::optional<size_t> winner;
  for (const std::string& file : files) {
    const MappingSpec loaded = constrained ? load_mapping(file) : MappingSpec{};
    const ArchSpec file_arch = load_arch(constrained && args.arch.empty() ? loaded.arch : args.arch, sets.arch);
    const MappingSpec templ = constrained ? loaded : unconstrained(load_cascade(args.workload, o), file_arch);
    for (const auto& params : param_combinations(templ)) {  // the arch is the same for each
      const MappingSpec pinned = with_params(templ, params);
      ArchSpec arch = file_arch;
      Cascade cascade;
      try {
        cascade = load_cascade(args.workload.empty() ? templ.workload : args.workload, with_mapping_params(pinned, o));
      } catch (const UserError& e) {  // a value the workload refuses is a choice with no mapping, not the end
        if (params.empty()) throw;
        alternatives.push_back({file,
                                templ,
                                params,
                                {},
                                std::move(arch),
                                {},
                                params_label(file, params, files.size() > 1),
                                first_line(e.what())});
        continue;
      }
      // With the maps `spatial: auto` leaves made at these params' extents: the candidates' choices index them.
      const MappingSpec expanded = with_spatial_maps(templ, cascade, arch);
      MapResult result =
          map_fused(cascade, arch, with_params(expanded, params), options, static_cast<size_t>(args.fuse));
      for (std::vector<MapCandidate>* list : {&result.best, &result.pareto})
        for (MapCandidate& c : *list) c.choice.params.insert(c.choice.params.begin(), params.begin(), params.end());
      alternatives.push_back({file, expanded, params, std::move(cascade), std::move(arch), std::move(result),
                              params_label(file, params, files.size() > 1), ""});
      const MapResult& r = alternatives.back().result;
      if (r.best.empty()) continue;
      if (!winner || better(r.best.front(), alternatives[*winner].result.best.front(), options.objective))
        winner = alternatives.size() - 1;
    }
  }
  if (!winner) {
    std::string why;
    for (size_t i = 0; i < alternatives.size(); ++i)
      why += fmt::format("{}{}{}", i ? "; " : "", alternatives[i].label.empty() ? "" : alternatives[i].label + ": ",
                         alternatives[i].why_none());
    throw UserError(SourceLoc{constrained ? args.constraints : args.workload}, "", why);
  }
  const std::string& constraints = alternatives[*winner].file;
  const Cascade& cascade = alternatives[*winner].cascade;
  const ArchSpec& arch = alternatives[*winner].arch;
  const MapResult& r = alternatives[*winner].result;
  // Candidate i as a mapping file at `out`.
  auto written = [&](const std::string& out, size_t i) {
    return mapped_yaml(searched_at(alternatives[*winner].templ, args, o, cascade), inputs_text(args), out, r, options,
                       i);
  };
  // Re-ranking: each of the K best written as a mapping and simulated by a worker process (SystemC elaborates
  // once per process); the fewest cycle-level cycles win, ties to the better analytical rank.
  struct Simulated {
    std::optional<Stats> stats;
    std::string why;
  };
  std::vector<Simulated> simulated;
  size_t chosen = 0;
  if (args.rerank_cycle > 0) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / fmt::format("einsim-map-{}", ::getpid());
    fs::create_directories(dir);
    const std::string exe = fs::read_symlink("/proc/self/exe").string();
    for (size_t i = 0; i < std::min(r.best.size(), static_cast<size_t>(args.rerank_cycle)); ++i) {
      const std::string file = (dir / fmt::format("candidate-{}.yaml", i + 1)).string();
      std::ofstream(file) << written(file, i);
      SpecInputs in;  // the written candidate, a mapping like any other
      in.mapping = file;
      in.arch = args.arch.empty() ? "" : fs::absolute(args.arch).string();
      in.workload = args.workload.empty() ? "" : fs::absolute(args.workload).string();
      in.workload_overrides = o;
      in.arch_sets = sets.arch;
      for (std::string& preset : in.workload_overrides.param_files) preset = fs::absolute(preset).string();
      Outcome out;
      const Stats s = run_worker(exe, in, fmt::format("candidate {}", i + 1), out);
      simulated.push_back(out.status == PointStatus::ok && s.status.ok ? Simulated{s, ""}
                                                                       : Simulated{std::nullopt, out.reason});
      if (simulated.back().stats && (!simulated[chosen].stats || s.cycles < simulated[chosen].stats->cycles))
        chosen = i;
    }
    fs::remove_all(dir);
  }
  // The chosen mapping on values: at the search's params, or at smaller ones (--verify-set).
  std::optional<TileCheck> check;
  std::string verified_at;
  if (args.verify || !args.verify_sets.empty()) {
    const MappingSpec mapping = with_choice(alternatives[*winner].templ, r.best[chosen].choice);
    const WorkloadOverrides searched = with_mapping_params(mapping, o);
    std::optional<Cascade> small;
    if (!args.verify_sets.empty()) {
      const DesignOverrides verify_sets = parse_sets(args.verify_sets);
      if (!verify_sets.arch.empty())
        throw UserError(fmt::format("--verify-set {}: the check's params are the workload's; the arch stays",
                                    "arch." + verify_sets.arch.front().first));
      WorkloadOverrides at = searched;
      for (const auto& set : verify_sets.workload) {
        at.params.push_back(set);
        verified_at += fmt::format("{}{}={}", verified_at.empty() ? "" : " ", set.first, set.second);
      }
      small = load_cascade(args.workload.empty() ? alternatives[*winner].templ.workload : args.workload, at);
    }
    const Cascade& values_of = small ? *small : cascade;
    check = verify_program(values_of, lower(values_of, arch, mapping), args.seed);
  }
  if (!args.out.empty()) {
    const std::string text = written(args.out, chosen);
    std::ofstream out(args.out);
    out << text;
    out.flush();
    if (!out) throw UserError(SourceLoc{args.out}, "-o", "cannot write the mapping there");
  }

  // A searched list of loops in the order candidate c gives it: "attention.order(dram)=[b,kh,m1,g,p]".
  auto order_of = [&](const MapCandidate& c, size_t s) {
    std::vector<std::string> indices;
    for (size_t i : c.choice.orders[s]) indices.push_back(r.orders[s].indices[i]);
    return indices;
  };
  auto tiles_text = [&](const MapCandidate& c) {
    std::vector<std::string> parts;
    for (const auto& [name, value] : chosen_settings(r, c)) parts.push_back(fmt::format("{}={}", name, value));
    for (size_t b = 0; b < r.bindings.size(); ++b)
      parts.push_back(
          fmt::format("{}.{}={}", r.bindings[b].group, r.bindings[b].einsum, r.bindings[b].units[c.choice.units[b]]));
    for (size_t s = 0; s < r.orders.size(); ++s)
      parts.push_back(fmt::format("{}{}.order({})=[{}]", r.orders[s].group,
                                  r.orders[s].pass < 0 ? "" : fmt::format(".pass{}", r.orders[s].pass + 1),
                                  r.orders[s].buffer_level ? "buffer" : "backing", fmt::join(order_of(c, s), ",")));
    for (size_t k = 0; k < r.searched.size(); ++k)
      parts.push_back(fmt::format("{}.{}{}={}", r.searched[k].group, r.searched[k].index,
                                  r.searched[k].buffer_level ? "(buffer)" : "", c.choice.tiles[k]));
    return parts.empty() ? std::string("(no auto tiles)") : fmt::format("{}", fmt::join(parts, " "));
  };
  if (args.json) {
    Json j;
    j["constraints"] = constraints;
    j["objective"] = args.objective;
    if (!alternatives[*winner].params.empty()) j["params"] = params_json(alternatives[*winner].params);
    j.update(search_json(with_params(alternatives[*winner].templ, alternatives[*winner].params), r,
                         options));  // certificate, candidates
    if (alternatives.size() > 1) {   // each alternative's best and certificate; the rest of the JSON is the winner's
      Json alts = Json::array();
      for (size_t i = 0; i < alternatives.size(); ++i) {
        const MapResult& a = alternatives[i].result;
        Json alt{{"constraints", alternatives[i].file}};
        if (!alternatives[i].params.empty()) alt["params"] = params_json(alternatives[i].params);
        alt.update(Json{{"combinations", a.combinations},
                        {"not_dividing", a.not_dividing},
                        {"infeasible", a.infeasible},
                        {"evaluated", a.evaluated}});
        if (a.best.empty())
          alt["no_feasible_mapping"] = alternatives[i].why_none();
        else
          alt["best"] = Json{{"cycles", a.best.front().stats.cycles}, {"energy_pJ", a.best.front().stats.energy_pJ}};
        alts.push_back(alt);
      }
      j["alternatives"] = alts;
      j["chosen_alternative"] = *winner + 1;
    }
    if (!simulated.empty()) {
      Json rerank = Json::array();
      for (size_t i = 0; i < simulated.size(); ++i)
        rerank.push_back(simulated[i].stats ? Json{{"rank", i + 1}, {"cycle_level_cycles", simulated[i].stats->cycles}}
                                            : Json{{"rank", i + 1}, {"failed", simulated[i].why}});
      j["rerank_cycle"] = rerank;
      j["chosen_rank"] = chosen + 1;
    }
    j["best"] =
        to_json(simulated.empty() || !simulated[chosen].stats ? r.best.front().stats : *simulated[chosen].stats);
    if (!args.out.empty()) j["mapping"] = args.out;
    if (check) {
      j["verify"] = to_json(*check);
      if (!verified_at.empty()) j["verify"]["params"] = verified_at;
    }
    std::cout << j.dump(2) << '\n';
    return check && !check->ok ? 1 : 0;
  }
  if (alternatives.size() > 1) {
    std::cout << fmt::format("{} alternatives in {} (objective: {}), each searched on its own:\n", alternatives.size(),
                             args.constraints, args.objective);
    std::vector<std::vector<std::string>> rows{
        {"", "constraints", "combinations", "evaluated", "best cycles", "energy (pJ)"}};
    for (size_t i = 0; i < alternatives.size(); ++i) {
      const MapResult& a = alternatives[i].result;
      rows.push_back(
          {i == *winner ? "*" : "", alternatives[i].label, grouped(a.combinations), grouped(a.evaluated),
           a.best.empty() ? std::string("infeasible") : grouped(a.best.front().stats.cycles),
           a.best.empty() ? alternatives[i].why_none() : fmt::format("{:.6g}", a.best.front().stats.energy_pJ)});
    }
    std::cout << table(rows) << '\n';
  }
  std::cout << fmt::format(
      "{} on {} from {}{} (objective: {})\n", cascade.name, arch.name,
      constrained ? constraints : std::string("the workload and architecture alone"),
      alternatives[*winner].params.empty() ? "" : " with " + params_label("", alternatives[*winner].params, false),
      args.objective);
  // What was searched: the units, orders and tiles the constraints leave open, or with fusion searched, those of
  // every fused group considered (the counts that follow are all of theirs).
  const std::string what =
      !r.segments.empty()
          ? fmt::format("{}{} of {} fused groups, each on its own",
                        constrained ? "what the constraints leave open"
                                    : "the units, spatial maps, orders, tiles and pipelining",
                        args.ragged ? " (ragged too)" : "",
                        std::count_if(r.segments.begin(), r.segments.end(), [](const auto& s) { return s.searched; }))
          : fmt::format("{}{}{}{} tiles{}{}", r.settings.empty() ? "" : settings_searched(r.settings) + ", ",
                        r.bindings.empty() ? "" : bindings_searched(r.bindings) + ", ",
                        r.orders.empty()
                            ? ""
                            : fmt::format("the orders of {} and ",
                                          r.orders.size() == 1 ? std::string("1 list of loops")
                                                               : fmt::format("{} lists of loops", r.orders.size())),
                        r.searched.size(), args.ragged ? " (ragged too)" : "",
                        r.runs > 1 ? fmt::format(" in {} runs of groups, each on its own", r.runs) : "");
  std::cout << fmt::format(
      "  searched {}: {} combinations, {} with an inner tile not dividing its outer one, {} infeasible, "
      "{} evaluated{}{} ({}{})\n\n",
      what, grouped(r.combinations), grouped(r.not_dividing), grouped(r.infeasible), grouped(r.evaluated),
      r.pruned ? fmt::format(", {} pruned (a bound above the best)", grouped(r.pruned)) : "",
      r.equivalent ? fmt::format(", {} equivalent (an earlier order's mapping)", grouped(r.equivalent)) : "",
      r.complete() ? "exhaustive: the best is the optimum of this space" : "stopped by the time limit",
      !r.segments.empty() && r.complete()
          ? fmt::format(" of {:.3g} combinations over the ways to fuse, as the groups' times add", r.space)
      : r.runs > 1 && r.complete() ? fmt::format(" of {:.3g} combinations, as the runs' times add", r.space)
                                   : "");
  if (!constrained && args.fuse == 1 && alternatives[*winner].templ.groups.size() > 1)
    std::cout << fmt::format(
        "  fusion not searched: each of the {} groups on its own (--fuse N searches fusing up to N)\n\n",
        alternatives[*winner].templ.groups.size());
  if (!r.segments.empty()) {  // the search of fusion: each fused group considered, the chosen ones marked
    std::cout << fmt::format(
        "  fusion: {:.6g} ways to fuse the {} groups, runs of at most {} fused into one; each "
        "fused group searched once (their times add):\n",
        r.ways_to_fuse, alternatives[*winner].templ.groups.size(), args.fuse);
    std::vector<std::vector<std::string>> rows{{"", "fused group", "combinations", "best cycles"}};
    for (const SearchedSegment& s : r.segments)
      rows.push_back({"", s.name, fmt::format("{:.6g}", s.space),
                      !s.unfusable.empty() ? "not fused: " + s.unfusable
                      : !s.searched        ? std::string("not searched: too many")
                      : s.best             ? grouped(s.best->cycles) + (s.descended ? " (descent)" : "")
                                           : std::string("infeasible")});
    size_t at = 0;  // the chosen fused groups, consecutive from the first group
    for (size_t g : r.fused_groups) {
      for (size_t i = 0; i < r.segments.size(); ++i)
        if (r.segments[i].first == at && r.segments[i].last == at + g) rows[i + 1][0] = "*";
      at += g;
    }
    std::cout << table(rows) << '\n';
  }
  if (r.bindings_descended)
    std::cout << fmt::format(
        "  {}: their bindings were searched by descent under the time limit, {} binding{} in all, one Einsum's unit "
        "or map changed at a time (a local optimum at best)\n",
        r.segments.empty() ? "groups with more shapes (settings, units and orders) than the mapper lists"
                           : "fused groups marked (descent) had more combinations than the mapper searches",
        grouped(r.bindings_descended), r.bindings_descended == 1 ? "" : "s");
  if (!r.complete())
    std::cout << fmt::format("  --time-limit stopped it {}: the best found, not proven optimal{}\n\n",
                             stopped_after(r, grouped),
                             std::isnan(r.lower_bound) ? std::string(" (no bound)")
                                                       : fmt::format("; {}, and the best found is {:.2f}% above that",
                                                                     no_mapping_below(options.objective, r.lower_bound),
                                                                     100 * (r.best.front().score / r.lower_bound - 1)));
  std::vector<std::vector<std::string>> rows{
      {"rank", "cycles", "energy (pJ)", "bound",
       fmt::format(
           "{}{}", r.settings.empty() ? "" : "settings, ",
           r.bindings.empty() ? (r.orders.empty() ? "tiles" : "orders and tiles") : "units, orders and tiles")}};
  if (!simulated.empty()) rows[0].insert(rows[0].begin() + 2, "cycle level");
  for (size_t i = 0; i < r.best.size(); ++i) {
    rows.push_back({std::to_string(i + 1), grouped(r.best[i].stats.cycles),
                    fmt::format("{:.6g}", r.best[i].stats.energy_pJ), r.best[i].stats.bound, tiles_text(r.best[i])});
    if (!simulated.empty())
      rows.back().insert(rows.back().begin() + 2, i >= simulated.size() ? std::string("-")
                                                  : simulated[i].stats  ? grouped(simulated[i].stats->cycles)
                                                                        : std::string("failed"));
  }
  std::cout << table(rows);
  if (args.pareto) {
    std::cout << fmt::format("\nPareto front of latency against energy ({} candidates{}):\n", r.pareto.size(),
                             r.pareto.empty() ? ": the runs' figures do not add up, so none is given" : "");
    std::vector<std::vector<std::string>> front{{"cycles", "energy (pJ)", "bound", rows[0].back()}};
    for (const MapCandidate& c : r.pareto)
      front.push_back(
          {grouped(c.stats.cycles), fmt::format("{:.6g}", c.stats.energy_pJ), c.stats.bound, tiles_text(c)});
    if (!r.pareto.empty()) std::cout << table(front);
  }
  if (!simulated.empty()) {
    std::cout << fmt::format("\nre-ranked at cycle level: rank {} {}\n", chosen + 1,
                             simulated[chosen].stats ? "has the fewest cycle-level cycles" : "(none simulated)");
    for (size_t i = 0; i < simulated.size(); ++i)
      if (!simulated[i].stats) std::cout << fmt::format("  rank {}: {}\n", i + 1, simulated[i].why);
  }
  if (!args.out.empty()) std::cout << fmt::format("\nwrote {}\n", args.out);
  if (check)
    std::cout << fmt::format("\nverify{}: {}\n", verified_at.empty() ? "" : " at " + verified_at, check->summary());
  return check && !check->ok ? 1 : 0;
}

}  // namespace einsim::app
