#pragma once
// `einsim cosim`: one RTL unit against its SystemC unit model, in lockstep (rtl/cosim).
#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

namespace einsim::app {

struct CosimArgs {
  std::string unit;
  std::string dtype = "int8";
  int size = 4;
  int64_t cycles = 100000;
  std::optional<uint64_t> seed;  // default: EINSIM_SEED, else 1
  std::string vcd;
};

CLI::App* add_cosim_command(CLI::App& app, CosimArgs& args);
// Exit code 0 when the RTL matched the model in every compared value, 1 otherwise.
int run_cosim(const CosimArgs& args);

}  // namespace einsim::app
