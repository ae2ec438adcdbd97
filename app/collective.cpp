#include "app/collective.hpp"

#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/options.hpp"
#include "app/text.hpp"
#include "arch/collectives.hpp"
#include "arch/spec.hpp"
#include "common/units.hpp"

namespace einsim::app {

CLI::App* add_collective_command(CLI::App& app, CollectiveArgs& args) {
  CLI::App* c = app.add_subcommand(
      "collective", "Cost a collective between a system's devices (its interconnect), by algorithm: time and energy");
  c->add_option("arch", args.arch, "Architecture YAML file with an interconnect component")->required();
  c->add_option("--op", args.op, "all_reduce, all_gather, reduce_scatter or all_to_all")->capture_default_str();
  c->add_option("--bytes", args.bytes, "Each device's buffer, e.g. 64MiB (all_gather: the gathered result)")
      ->required();
  c->add_option("--algorithm", args.algorithm, "ring, direct or tree (default: every one, the fastest marked)");
  c->add_option("--set", args.sets, "Override a field: arch.COMPONENT.KEY=VALUE, e.g. arch.nvlink.devices=8")
      ->type_name("PATH=VALUE")
      ->allow_extra_args(false);
  c->add_flag("--json", args.json, "Print one JSON object instead of a table");
  return c;
}

int run_collective(const CollectiveArgs& args) {
  const std::optional<Collective> op = parse_collective(args.op);
  if (!op)
    throw UserError(
        SourceLoc{}, "--op",
        fmt::format("unknown collective '{}': all_reduce, all_gather, reduce_scatter or all_to_all", args.op));
  std::vector<CollectiveAlgorithm> algorithms = all_algorithms();
  if (!args.algorithm.empty()) {
    const std::optional<CollectiveAlgorithm> a = parse_algorithm(args.algorithm);
    if (!a)
      throw UserError(SourceLoc{}, "--algorithm",
                      fmt::format("unknown algorithm '{}': ring, direct or tree", args.algorithm));
    algorithms = {*a};
  }
  const double bytes = parse_bytes(YNode(YAML::Node(args.bytes), "", "--bytes"));
  if (!(bytes > 0)) throw UserError(SourceLoc{}, "--bytes", "the buffer must have a positive size");
  const DesignOverrides sets = parse_sets(args.sets);
  if (!sets.workload.empty())
    throw UserError(SourceLoc{}, "--set workload." + sets.workload[0].first, "this command takes no workload");
  const ArchSpec arch = load_arch(args.arch, sets.arch);
  const DevicesRole* devices = arch.devices();
  if (!devices)
    throw UserError(SourceLoc{arch.file}, "components",
                    "has no interconnect: add a component of kind interconnect (`einsim arch --kinds`)");
  const auto fastest = fastest_collective(*devices, *op, bytes).first;

  nlohmann::ordered_json j;
  j["arch"] = arch.file;
  j["op"] = collective_name(*op);
  j["bytes"] = bytes;
  j["devices"] = devices->count();
  j["topology"] = topology_name(devices->topology());
  j["algorithms"] = nlohmann::ordered_json::object();
  std::vector<std::vector<std::string>> rows{
      {"algorithm", "time (us)", "cycles", "steps", "link bytes", "energy (uJ)"}};
  for (const CollectiveAlgorithm a : algorithms) {
    const CollectiveCost c = collective_cost(*devices, *op, a, bytes);
    const std::string name(algorithm_name(a));
    if (!c.ok) {
      j["algorithms"][name] = {{"ok", false}, {"reason", c.reason}};
      rows.push_back({name, "-", "-", "-", "-", c.reason});
      continue;
    }
    const double exact_cycles = std::ceil(c.seconds * arch.clock_hz);
    if (!(exact_cycles < 0x1p62))
      throw UserError(SourceLoc{}, "collective",
                      fmt::format("{} takes {:.3g} s, beyond what einsim counts in cycles (2^62)", name, c.seconds));
    const auto cycles = static_cast<int64_t>(exact_cycles);
    j["algorithms"][name] = {{"ok", true},
                             {"seconds", c.seconds},
                             {"cycles", cycles},
                             {"steps", c.steps},
                             {"link_bytes", c.link_bytes},
                             {"energy_pJ", c.energy_pJ},
                             {"fastest", a == fastest}};
    rows.push_back({name + (a == fastest && algorithms.size() > 1 ? " (fastest)" : ""),
                    fmt::format("{:.3f}", c.seconds * 1e6), grouped(cycles), fmt::format("{}", c.steps),
                    format_bytes(c.link_bytes), fmt::format("{:.3f}", c.energy_pJ * 1e-6)});
  }
  if (args.json) {
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  std::cout << fmt::format("{} of {} per device over {} devices ({}, {:g} GB/s each way, {:g} us a step)\n",
                           collective_name(*op), format_bytes(bytes), devices->count(),
                           topology_name(devices->topology()), devices->link_Bps() / 1e9,
                           devices->link_latency_s() * 1e6);
  std::cout << table(rows);
  return 0;
}

}  // namespace einsim::app
