// DRAM requests simulated per wall second by the bank-level model (arch/dram), per preset and pattern, the
// request list built beforehand. Run by scripts/bench; figures go to docs/benchmarks.md.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>

#include "arch/dram/model.hpp"

// einsim_bench_dram [REQUESTS [PRESET [PATTERN]]]: PRESET and PATTERN pick one line (for profiling).
int main(int argc, char** argv) {
  using namespace einsim::dram;
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 4'000'000;
  const std::string only_preset = argc > 2 ? argv[2] : "", only_pattern = argc > 3 ? argv[3] : "";
  for (const char* name : {"hbm3-5.2", "ddr4-3200"}) {
    if (!only_preset.empty() && only_preset != name) continue;
    const DramPreset p = load_dram_preset(fmt::format("configs/dram/{}.yaml", name));
    const auto access = static_cast<uint64_t>(p.org.access_bytes());
    const auto lines = static_cast<uint64_t>(p.org.capacity_bytes()) / access;
    for (const char* pattern : {"stream", "random", "random 30% writes"}) {
      if (!only_pattern.empty() && only_pattern != pattern) continue;
      std::mt19937_64 rng(1);
      std::vector<Request> req(static_cast<size_t>(n));
      for (size_t i = 0; i < req.size(); ++i) {
        req[i].address = pattern[0] == 's' ? i * access : (rng() % lines) * access;
        req[i].write = pattern[6] == ' ' && rng() % 10 < 3;
      }
      const auto start = std::chrono::steady_clock::now();
      const RunResult r = simulate(p, req);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double bw = static_cast<double>(r.requests * p.org.access_bytes()) /
                        (static_cast<double>(r.cycles) * p.timing.tCK_ps * 1e-12);
      fmt::print(
          "{:<10} {:<18} {} requests in {:.3f} s = {:.2f} M requests/s on one core ({:.1f}% of peak bandwidth)\n", name,
          pattern, n, s, static_cast<double>(n) / s / 1e6, 100 * bw / p.peak_Bps());
    }
  }
}
