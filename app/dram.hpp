#pragma once
// `einsim dram`: a memory characterized on its own: a preset (configs/dram/) driven by a synthetic access
// pattern or a trace file through the bank-level model (arch/dram).
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace einsim::app {

struct DramArgs {
  std::string preset;  // a name in configs/dram/ or a YAML file
  std::vector<std::string> sets;
  std::string pattern = "stream";
  std::string trace;
  int64_t requests = 1'000'000;
  int64_t stride = 4096;
  std::string load = "saturate";
  int64_t interval = 8;  // light load: memory cycles between one controller's requests
  bool interval_given = false;  // --interval on the command line (it means nothing to a saturating load)
  double read_ratio = 1.0;
  uint64_t seed = 1;
  bool json = false;
};

CLI::App* add_dram_command(CLI::App& app, DramArgs& args);
int run_dram(const DramArgs& args);

}  // namespace einsim::app
