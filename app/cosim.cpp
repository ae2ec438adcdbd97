#include "app/cosim.hpp"

#include <cstdlib>
#include <iostream>

#include "common/error.hpp"
#include "rtl/cosim/cosim.hpp"

namespace einsim::app {

CLI::App* add_cosim_command(CLI::App& app, CosimArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "cosim", "Co-simulate an RTL unit (Verilated) against its SystemC unit model: values and cycles");
  std::string names;
  for (const std::string& u : cosim::units()) names += (names.empty() ? "" : ", ") + u;
  cmd->add_option("--unit", args.unit, "The RTL unit: " + names)->required();
  cmd->add_option("--dtype", args.dtype, "pe and systolic: int8 (int32 sums) or bf16 (fp32 sums)")
      ->capture_default_str();
  cmd->add_option("--size", args.size, "systolic: N of the N x N array")->capture_default_str();
  // About a million cycles a second: the bound keeps a mistyped count from running for days.
  cmd->add_option("--cycles", args.cycles, "Cycles to run (at most 10^8, a minute or two)")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}))
      ->capture_default_str();
  cmd->add_option("--seed", args.seed, "Seed of the random stimulus (default: EINSIM_SEED, else 1)");
  cmd->add_option("--vcd", args.vcd,
                  "Write the ports' waves (inputs, model and RTL outputs) around the first mismatch, or of the "
                  "first cycles (default on a mismatch: cosim-UNIT.vcd)")
      ->type_name("FILE");
  return cmd;
}

int run_cosim(const CosimArgs& args) {
  cosim::Request r;
  r.unit = args.unit;
  r.dtype = args.dtype;
  r.size = args.size;
  r.options.cycles = args.cycles;
  const char* env = std::getenv("EINSIM_SEED");
  r.options.seed = args.seed ? *args.seed : env ? std::strtoull(env, nullptr, 10) : 1;
  r.options.vcd = args.vcd;
  if (args.vcd.empty()) {
    r.options.vcd = "cosim-" + args.unit + ".vcd";
    r.options.vcd_only_on_mismatch = true;
  }
  const cosim::Result result = cosim::run(r);
  std::cout << cosim::summary(result);
  return result.mismatches == 0 ? 0 : 1;
}

}  // namespace einsim::app
