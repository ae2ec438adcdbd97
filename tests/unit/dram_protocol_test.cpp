// The controller keeps the DRAM protocol: for every preset in configs/dram/, random runs of the FR-FCFS
// controller (random, streaming and mixed addresses, read/write mixes, open and closed page, all-bank refresh,
// and per-bank refresh where the preset has nRFCpb) are logged, and each controller's commands are replayed in
// order through a fresh DeviceTiming's checked issue().
//
// The scheduler weighs its candidates through cached rank floors and pointers to the banks' terms, re-reads
// only what it believes moved, and commits unchecked; the replay asks every rule again from scratch for every
// command. It checks the scheduler's bookkeeping against DeviceTiming, not DeviceTiming's rules themselves:
// those are dram_test.cpp's (EveryRuleRefusesOneCycleEarlyAndAcceptsOnTime).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "arch/dram/model.hpp"
#include "common/error.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim::dram {
namespace {

std::vector<std::string> preset_files() {
  std::vector<std::string> files;
  for (const auto& f : std::filesystem::directory_iterator("configs/dram"))
    if (f.path().extension() == ".yaml") files.push_back(f.path().string());
  std::sort(files.begin(), files.end());  // the seed's runs do not depend on the directory's order
  return files;
}

enum class Pattern { random, stream, mixed };
std::string_view pattern_name(Pattern p) {
  return p == Pattern::random ? "random" : p == Pattern::stream ? "stream" : "mixed";
}

struct RunSpec {
  Pattern pattern = Pattern::random;
  double write_ratio = 0;
  bool one_controller = true;  // else the preset's every controller, the requests offered over time
  int64_t requests = 0;
};

// Lines of the run's pattern: random over the capacity, consecutive, or consecutive stretches of random length
// from random lines (row hits, then conflicts). One controller's runs are saturating (every request there at
// 0); the whole device's are offered at random gaps over about `span` cycles, so its controllers idle between
// bursts and refresh while idle as well as while busy.
std::vector<Request> make_requests(const DramPreset& p, const RunSpec& run, int64_t span, std::mt19937_64& rng) {
  const auto access = static_cast<uint64_t>(p.org.access_bytes());
  const auto lines = static_cast<uint64_t>(p.org.capacity_bytes()) / access;
  std::bernoulli_distribution write(run.write_ratio);
  std::vector<Request> r(static_cast<size_t>(run.requests));
  uint64_t line = rng() % lines;
  int64_t stretch = 0, arrival = 0;
  const int64_t mean_gap = run.one_controller ? 0 : std::max<int64_t>(1, span / run.requests);
  for (Request& q : r) {
    switch (run.pattern) {
      case Pattern::random:
        line = rng() % lines;
        break;
      case Pattern::stream:
        line = (line + 1) % lines;
        break;
      case Pattern::mixed:
        if (stretch-- <= 0)
          line = rng() % lines, stretch = static_cast<int64_t>(rng() % 64);
        else
          line = (line + 1) % lines;
        break;
    }
    q.address = line * access;
    q.write = write(rng);
    if (mean_gap > 0) arrival += static_cast<int64_t>(rng() % static_cast<uint64_t>(2 * mean_gap + 1));
    q.arrival = arrival;
  }
  return r;
}

struct Coverage {
  CommandCounts commands;
  int64_t auto_precharges = 0;
  int64_t runs = 0;
};

// Replays `log` through a fresh DeviceTiming per controller; returns false after the first illegal command.
bool replay(const DramPreset& p, const std::vector<Request>& req, const RunResult& r,
            const std::vector<IssuedCommand>& log, Coverage& cover) {
  std::map<int32_t, DeviceTiming> devices;
  std::map<int32_t, int64_t> last_cycle;
  CommandCounts counts;
  int64_t automatic = 0;
  using Access = std::tuple<int32_t, int32_t, int32_t, int32_t, int32_t, int32_t, bool>;  // controller, location, write
  std::vector<Access> served;
  size_t i = 0;
  auto fail = [&](const std::string& why) {
    const IssuedCommand& c = log[i];
    ADD_FAILURE() << fmt::format(
        "command {} of {}: {}{} at cycle {} to controller {} rank {} bank group {} bank {} row {}: {}", i, log.size(),
        c.automatic ? "automatic " : "", command_name(c.command), c.cycle, c.controller, c.at.rank, c.at.bank_group,
        c.at.bank, c.at.row, why);
    return false;
  };
  for (; i < log.size(); ++i) {
    const IssuedCommand& c = log[i];
    auto dev = devices.try_emplace(c.controller, p.org, p.timing, p.controller.dual_command_bus).first;
    ++counts[c.command];
    if (c.automatic) {  // RDA/WRA: the bank closes when a PRE first could, without a command-bus slot
      if (c.command != Command::pre) return fail("only a PRE is automatic");
      ++automatic;
      try {
        const int64_t when = dev->second.auto_precharge(c.at);
        if (when != c.cycle) return fail(fmt::format("the auto-precharge closes the bank at cycle {}", when));
      } catch (const InternalError& e) {
        return fail(e.what());
      }
      continue;
    }
    // One controller decides its commands in time order.
    auto [last, first] = last_cycle.try_emplace(c.controller, c.cycle);
    if (!first && c.cycle < last->second) return fail(fmt::format("after a command at cycle {}", last->second));
    last->second = c.cycle;
    if (c.command == Command::rd || c.command == Command::wr) {
      // DeviceTiming's RD and WR read whatever row is open: the request's own must be.
      if (dev->second.open_row(c.at) != c.at.row)
        return fail(fmt::format("row {} is open", dev->second.open_row(c.at)));
      served.emplace_back(c.controller, c.at.rank, c.at.bank_group, c.at.bank, c.at.row, c.at.column,
                          c.command == Command::wr);
    }
    try {
      dev->second.issue(c.command, c.at, c.cycle);
    } catch (const InternalError& e) {
      return fail(e.what());
    }
  }
  for (int k = 0; k < command_count; ++k)
    EXPECT_EQ(counts.n[static_cast<size_t>(k)], r.commands.n[static_cast<size_t>(k)]) << command_name(Command(k));
  // Every request served once, by a column command to its own location.
  std::vector<Access> asked;
  for (const Request& q : req) {
    const Address a = decode(p.org, p.controller.mapping, q.address);
    asked.emplace_back(a.controller, a.at.rank, a.at.bank_group, a.at.bank, a.at.row, a.at.column, q.write);
  }
  std::sort(asked.begin(), asked.end());
  std::sort(served.begin(), served.end());
  EXPECT_TRUE(asked == served) << asked.size() << " requests, " << served.size() << " served";
  for (int k = 0; k < command_count; ++k) cover.commands.n[static_cast<size_t>(k)] += counts.n[static_cast<size_t>(k)];
  cover.auto_precharges += automatic;
  ++cover.runs;
  return true;
}

// Each rank's k-th refresh (REF, or with per-bank refresh the k-th REFpb, to bank (k - 1) mod banks per rank)
// issues at or after its deadline k x interval and before the next deadline, and none is skipped while the
// controller runs.
void expect_refresh_on_time(const DramPreset& p, const std::vector<IssuedCommand>& log) {
  const bool per_bank = p.controller.refresh_mode == RefreshMode::per_bank;
  const int64_t interval = per_bank ? p.timing.nREFI / p.org.banks_per_rank() : p.timing.nREFI;
  const Command refresh = per_bank ? Command::refpb : Command::ref;
  std::map<int32_t, int64_t> last;  // by controller
  std::map<std::pair<int32_t, int32_t>, std::vector<IssuedCommand>> by_rank;
  for (const IssuedCommand& c : log) {
    if (!c.automatic) last[c.controller] = std::max(last[c.controller], c.cycle);
    EXPECT_NE(c.command, per_bank ? Command::ref : Command::refpb);
    if (c.command == refresh) by_rank[{c.controller, c.at.rank}].push_back(c);
  }
  for (const auto& [controller, end] : last)
    for (int32_t rank = 0; rank < p.org.ranks; ++rank) {
      const std::vector<IssuedCommand>& refs = by_rank[{controller, rank}];
      SCOPED_TRACE(fmt::format("controller {} rank {}, last command at cycle {}", controller, rank, end));
      EXPECT_GE(static_cast<int64_t>(refs.size()), end / interval - 1);
      for (size_t k = 1; k <= refs.size(); ++k) {
        const IssuedCommand& c = refs[k - 1];
        EXPECT_GE(c.cycle, static_cast<int64_t>(k) * interval) << "refresh " << k;
        EXPECT_LT(c.cycle, static_cast<int64_t>(k + 1) * interval) << "refresh " << k;
        if (per_bank) {
          EXPECT_EQ(c.at.bank_group * p.org.banks + c.at.bank, static_cast<int64_t>(k - 1) % p.org.banks_per_rank())
              << "refresh " << k;
        }
      }
    }
}

TEST(DramProtocol, EveryPresetsControllerIssuesOnlyLegalCommands) {
  std::mt19937_64 rng(test::seed());
  const std::vector<std::string> files = preset_files();
  ASSERT_GE(files.size(), 1u);
  const std::vector<RunSpec> runs = {
      {Pattern::random, 0.0, true},  {Pattern::random, 0.3, true},  {Pattern::stream, 0.0, true},
      {Pattern::stream, 0.5, true},  {Pattern::mixed, 0.3, true},   {Pattern::mixed, 0.5, false},
      {Pattern::random, 0.3, false}, {Pattern::stream, 0.1, false},
  };
  const std::vector<double> write_ratios = {0.0, 0.1, 0.3, 0.5, 0.9, 1.0};
  const std::vector<int64_t> queue_sizes = {1, 4, 16, 32, 64};
  for (const std::string& file : files) {
    const DramPreset preset = load_dram_preset(file);
    std::vector<RefreshMode> modes = {RefreshMode::all_bank};
    if (preset.timing.nRFCpb > 0) modes.push_back(RefreshMode::per_bank);
    Coverage cover;
    for (const RefreshMode mode : modes) {
      // Per-bank refresh through the preset file, so its own checks (nRFCpb set, outlasted by the interval) hold.
      const DramPreset base =
          mode == RefreshMode::per_bank ? load_dram_preset(file, {{"controller.refresh_mode", "per_bank"}}) : preset;
      for (size_t i = 0; i < runs.size(); ++i) {
        RunSpec run = runs[i];
        DramPreset p = base;
        p.controller.refresh = true;
        // Besides the fixed mixes, random ones; a random queue depth, page policy (closed in the mixed run, for
        // its auto-precharges) and address mapping.
        if (i % 2 == 1) run.write_ratio = write_ratios[rng() % write_ratios.size()];
        p.controller.queue_size = rng() % 2 ? p.controller.queue_size : queue_sizes[rng() % queue_sizes.size()];
        p.controller.page_policy = i == 4 || rng() % 4 == 0 ? PagePolicy::closed : PagePolicy::open;
        p.controller.mapping = rng() % 3 == 0 ? AddressMapping::ro_ba_ra_co_ch : AddressMapping::xor_interleaved;
        if (run.one_controller) p.org.channels = 1, p.org.pseudo_channels = 1;
        // Several refresh intervals: a saturated controller serves a request per nBL cycles at best.
        const int64_t span = 4 * p.timing.nREFI;
        run.requests = std::min<int64_t>(span / p.timing.nBL, 12'000);
        if (!run.one_controller) run.requests = 4 * run.requests;
        const std::vector<Request> req = make_requests(p, run, span, rng);
        const std::string name =
            fmt::format("{} {} refresh, {} with {:.0f}% writes, {} requests to {}, queue {}, {} page, {} mapping",
                        p.name, refresh_mode_name(mode), pattern_name(run.pattern), 100 * run.write_ratio, run.requests,
                        run.one_controller ? "one controller" : "every controller", p.controller.queue_size,
                        page_policy_name(p.controller.page_policy), mapping_name(p.controller.mapping));
        SCOPED_TRACE(name);
        std::vector<IssuedCommand> log;
        const RunResult r = simulate(p, req, RunOptions{&log});
        EXPECT_EQ(r.reads + r.writes, run.requests);
        if (!replay(p, req, r, log, cover)) continue;
        expect_refresh_on_time(p, log);
      }
    }
    // The runs reached every command the controller issues.
    SCOPED_TRACE(preset.name);
    std::cout << fmt::format("{}: {} runs replayed: {} ACT, {} PRE ({} automatic), {} RD, {} WR, {} REF, {} REFpb\n",
                             preset.name, cover.runs, cover.commands[Command::act], cover.commands[Command::pre],
                             cover.auto_precharges, cover.commands[Command::rd], cover.commands[Command::wr],
                             cover.commands[Command::ref], cover.commands[Command::refpb]);
    for (const Command c : {Command::act, Command::pre, Command::rd, Command::wr, Command::ref})
      EXPECT_GT(cover.commands[c], 0) << command_name(c);
    EXPECT_GT(cover.auto_precharges, 0);
    EXPECT_EQ(cover.commands[Command::refpb] > 0, preset.timing.nRFCpb > 0);
  }
}

}  // namespace
}  // namespace einsim::dram
