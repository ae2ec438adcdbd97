#include "app/dram.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "common/overrides.hpp"
#include "arch/dram/model.hpp"
#include "common/error.hpp"

namespace einsim::app {
namespace {

using Json = nlohmann::ordered_json;
using dram::Command;

// A preset's name: configs/dram/NAME.yaml here, or in einsim's source tree; or a file.
std::string resolve_preset(const std::string& preset) {
  return dram::find_dram_preset(preset, "",
                                {"configs/dram", (std::filesystem::path(EINSIM_SOURCE_DIR) / "configs/dram").string()},
                                SourceLoc{}, "preset");
}

Settings parse_sets(const std::vector<std::string>& sets) {
  Settings out;
  for (const std::string& s : sets) out.push_back(parse_setting(s, "--set", "timing.nCL=20"));
  return out;
}

// One request per line: an address (decimal or 0x hex) and R or W; '#' starts a comment.
std::vector<dram::Request> read_trace(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw UserError(SourceLoc{file}, "--trace", "cannot read file");
  std::vector<dram::Request> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    const size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos) continue;
    const char* text = line.c_str() + start;
    char* end = nullptr;
    errno = 0;
    const unsigned long long address = std::strtoull(text, &end, 0);
    auto fail = [&](const std::string& message) {
      throw UserError(SourceLoc{file, n, static_cast<int>(start) + 1}, "trace", message);
    };
    if (end == text || errno == ERANGE || *text == '-')
      fail(fmt::format("expected an address, got '{}'", line.substr(start)));
    std::string rest(end);
    rest.erase(0, rest.find_first_not_of(" \t,"));
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t' || rest.back() == '\r')) rest.pop_back();
    if (rest != "R" && rest != "W" && rest != "r" && rest != "w")
      fail(fmt::format("expected R or W after the address, got '{}'", rest));
    out.push_back(dram::Request{address, rest == "W" || rest == "w", 0});
  }
  if (out.empty()) throw UserError(SourceLoc{file}, "--trace", "no requests in the trace");
  return out;
}

std::vector<dram::Request> synthetic(const DramArgs& a, const dram::DramPreset& p) {
  std::mt19937_64 rng(a.seed);
  std::uniform_real_distribution<double> u(0, 1);
  const auto access = static_cast<uint64_t>(p.org.access_bytes());
  const auto lines = static_cast<uint64_t>(p.org.capacity_bytes()) / access;
  std::vector<dram::Request> out(static_cast<size_t>(a.requests));
  const bool stream = a.pattern == "stream", strided = a.pattern == "strided";
  for (size_t i = 0; i < out.size(); ++i) {
    dram::Request& r = out[i];
    if (stream)
      r.address = i * access;
    else if (strided)
      r.address = i * static_cast<uint64_t>(a.stride);
    else
      r.address = (rng() % lines) * access;
    r.write = a.read_ratio < 1 && u(rng) >= a.read_ratio;
  }
  return out;
}

}  // namespace

CLI::App* add_dram_command(CLI::App& app, DramArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "dram", "Characterize a DRAM preset with the bank-level model: bandwidth, latency, row hits, commands, energy");
  cmd->add_option("preset", args.preset, "A preset in configs/dram/ (hbm3-5.2, ddr4-3200, ...) or a preset YAML file")
      ->required();
  cmd->add_option("--set", args.sets,
                  "Override a preset field: timing.nCL=20, controller.page_policy=closed, ... (repeatable)")
      ->type_name("PATH=VALUE")
      ->allow_extra_args(false);
  CLI::Option* pattern =
      cmd->add_option("--pattern", args.pattern,
                      "Addresses: consecutive lines, every --stride bytes, or uniformly random lines")
          ->check(CLI::IsMember({"stream", "random", "strided"}))
          ->capture_default_str();
  CLI::Option* stride = cmd->add_option("--stride", args.stride, "Bytes between requests of --pattern strided")
                            ->check(CLI::PositiveNumber)
                            ->capture_default_str();
  CLI::Option* requests = cmd->add_option("--requests", args.requests, "Requests of a synthetic pattern (at most 2^27)")
                              ->check(CLI::Range(int64_t{1}, int64_t{1} << 27))  // the list is built first: 24 B each
                              ->capture_default_str();
  cmd->add_option("--trace", args.trace, "Requests from a file instead: one 'ADDRESS R|W' per line")
      ->type_name("FILE")
      ->excludes(pattern)
      ->excludes(stride)
      ->excludes(requests);
  cmd->add_option("--load", args.load,
                  "saturate: every controller's queue kept full; light: one request per controller every --interval "
                  "memory cycles")
      ->check(CLI::IsMember({"saturate", "light"}))
      ->capture_default_str();
  cmd->add_option("--interval", args.interval,
                  "Light load: memory cycles between two requests to one controller (on average: requests arrive "
                  "evenly spaced, interval / controllers cycles apart)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->each([&args](const std::string&) { args.interval_given = true; })
      ->capture_default_str();
  cmd->add_option("--read-ratio", args.read_ratio, "Fraction of reads in a synthetic pattern")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--seed", args.seed, "Seed of the random pattern and of the read/write choice")
      ->capture_default_str();
  cmd->add_flag("--json", args.json, "Print one JSON object");
  return cmd;
}

int run_dram(const DramArgs& a) {
  if (a.interval_given && a.load != "light")
    throw UserError(SourceLoc{}, "--interval", "only with --load light (a saturating load keeps every queue full)");
  const dram::DramPreset p = dram::load_dram_preset(resolve_preset(a.preset), parse_sets(a.sets));
  std::vector<dram::Request> req = a.trace.empty() ? synthetic(a, p) : read_trace(a.trace);
  if (a.load == "light") {
    // Integer arithmetic: request i arrives at floor(i * interval / controllers), the same on every machine.
    const int64_t controllers = p.org.controllers();
    for (size_t i = 0; i < req.size(); ++i) req[i].arrival = static_cast<int64_t>(i) * a.interval / controllers;
  }
  const dram::RunResult r = dram::simulate(p, req);

  const double tck_ns = p.timing.tCK_ps / 1000, seconds = static_cast<double>(r.cycles) * tck_ns * 1e-9;
  const double bytes = static_cast<double>(r.requests * p.org.access_bytes());
  const double bw = bytes / seconds, peak = p.peak_Bps();
  const auto rate = [&](int64_t n) { return static_cast<double>(n) / static_cast<double>(r.requests); };
  const double ranks = static_cast<double>(p.org.controllers() * p.org.ranks);
  // All-bank refresh: the share of rank time refreshing; per-bank: the share of bank time.
  const bool per_bank = p.controller.refresh_mode == dram::RefreshMode::per_bank;
  const double refresh_fraction =
      per_bank ? static_cast<double>(r.refresh_bank_cycles) /
                     (ranks * static_cast<double>(p.org.banks_per_rank()) * static_cast<double>(r.cycles))
               : static_cast<double>(r.refresh_cycles) / (ranks * static_cast<double>(r.cycles));
  const std::string source = a.trace.empty() ? a.pattern : "trace " + a.trace;

  Json j;
  j["preset"] = p.name;
  j["pattern"] = a.trace.empty() ? a.pattern : "trace";
  if (!a.trace.empty()) j["trace"] = a.trace;
  j["load"] = a.load;
  j["mapping"] = dram::mapping_name(p.controller.mapping);
  j["page_policy"] = dram::page_policy_name(p.controller.page_policy);
  j["requests"] = r.requests;
  j["reads"] = r.reads;
  j["writes"] = r.writes;
  j["bytes"] = r.requests * p.org.access_bytes();
  j["cycles"] = r.cycles;
  j["seconds"] = seconds;
  j["bandwidth_GBps"] = bw / 1e9;
  j["peak_GBps"] = peak / 1e9;
  j["bandwidth_fraction"] = bw / peak;
  j["avg_latency_ns"] = r.avg_latency * tck_ns;
  j["p50_latency_ns"] = static_cast<double>(r.p50_latency) * tck_ns;
  j["p90_latency_ns"] = static_cast<double>(r.p90_latency) * tck_ns;
  j["p99_latency_ns"] = static_cast<double>(r.p99_latency) * tck_ns;
  j["max_latency_ns"] = static_cast<double>(r.max_latency) * tck_ns;
  j["row_hit_rate"] = rate(r.row_hits);
  j["row_miss_rate"] = rate(r.row_misses);
  j["row_conflict_rate"] = rate(r.row_conflicts);
  j["refresh_fraction"] = refresh_fraction;
  j["bounds"] = Json{{"peak_GBps", peak / 1e9},
                     {"activate_GBps", p.activate_bound_Bps() / 1e9},
                     {"activate_scope", dram::activate_scope_name(p.timing.activate_scope)},
                     {"idle_hit_ns", static_cast<double>(p.idle_hit_cycles()) * tck_ns},
                     {"idle_miss_ns", static_cast<double>(p.idle_miss_cycles()) * tck_ns},
                     {"idle_conflict_ns", static_cast<double>(p.idle_conflict_cycles()) * tck_ns}};
  if (per_bank)
    j["refresh_mode"] = dram::refresh_mode_name(p.controller.refresh_mode);  // all_bank, the default, is not printed
  Json cmds;
  for (int c = 0; c < dram::controller_command_count; ++c)
    cmds[std::string(dram::command_name(static_cast<Command>(c)))] = r.commands.n[static_cast<size_t>(c)];
  if (per_bank) cmds["REFpb"] = r.commands[Command::refpb];
  j["commands"] = cmds;
  const dram::EnergyBreakdown& e = r.energy;
  j["energy_pJ"] = e.total_pJ();
  j["energy_per_bit_pJ"] = e.total_pJ() / (bytes * 8);
  j["energy_breakdown_pJ"] =
      Json{{"activate", e.activate_pJ}, {"read_array", e.read_array_pJ},   {"read_movement", e.read_movement_pJ},
           {"read_io", e.read_io_pJ},   {"write_array", e.write_array_pJ}, {"write_movement", e.write_movement_pJ},
           {"write_io", e.write_io_pJ}, {"refresh", e.refresh_pJ}};
  if (a.json) {
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  std::cout << fmt::format("{} ({}), {} {} requests, {} load, {} mapping, {} page\n", p.name, p.description, r.requests,
                           source, a.load, dram::mapping_name(p.controller.mapping),
                           dram::page_policy_name(p.controller.page_policy));
  std::cout << fmt::format("bandwidth   {:.2f} GB/s of {:.2f} GB/s peak ({:.1f}%), {} cycles = {:.3f} us\n", bw / 1e9,
                           peak / 1e9, 100 * bw / peak, r.cycles, seconds * 1e6);
  std::cout << fmt::format("latency     avg {:.1f} ns, p50 {:.1f}, p90 {:.1f}, p99 {:.1f}, max {:.1f} ns\n",
                           r.avg_latency * tck_ns, static_cast<double>(r.p50_latency) * tck_ns,
                           static_cast<double>(r.p90_latency) * tck_ns, static_cast<double>(r.p99_latency) * tck_ns,
                           static_cast<double>(r.max_latency) * tck_ns);
  std::cout << fmt::format("rows        hits {:.1f}%, misses {:.1f}%, conflicts {:.1f}%; refresh {:.2f}% of {} time\n",
                           100 * rate(r.row_hits), 100 * rate(r.row_misses), 100 * rate(r.row_conflicts),
                           100 * refresh_fraction, per_bank ? "bank" : "rank");
  std::cout << fmt::format(
      "bounds      an ACT per access {:.2f} GB/s (nFAW, nRRDS per {}); idle read: hit {:.1f} ns, closed bank {:.1f}, "
      "other row open {:.1f}\n",
      p.activate_bound_Bps() / 1e9, dram::activate_scope_name(p.timing.activate_scope),
      static_cast<double>(p.idle_hit_cycles()) * tck_ns, static_cast<double>(p.idle_miss_cycles()) * tck_ns,
      static_cast<double>(p.idle_conflict_cycles()) * tck_ns);
  std::cout << fmt::format("commands    ACT {}  PRE {}  RD {}  WR {}  REF {}{}\n", r.commands[Command::act],
                           r.commands[Command::pre], r.commands[Command::rd], r.commands[Command::wr],
                           r.commands[Command::ref],
                           per_bank ? fmt::format("  REFpb {}", r.commands[Command::refpb]) : "");
  std::cout << fmt::format(
      "energy      {:.4g} pJ ({:.3f} pJ/bit): activate {:.4g}, read {:.4g} (array {:.4g}, movement {:.4g}, I/O "
      "{:.4g}), "
      "write {:.4g}, refresh {:.4g}\n",
      e.total_pJ(), e.total_pJ() / (bytes * 8), e.activate_pJ, e.read_array_pJ + e.read_movement_pJ + e.read_io_pJ,
      e.read_array_pJ, e.read_movement_pJ, e.read_io_pJ, e.write_array_pJ + e.write_movement_pJ + e.write_io_pJ,
      e.refresh_pJ);
  return 0;
}

}  // namespace einsim::app
