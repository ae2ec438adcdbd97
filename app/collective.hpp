#pragma once
// `einsim collective`: what a collective between the devices of a system costs, by algorithm, on the
// architecture's interconnect (arch/collectives.hpp).
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace einsim::app {

struct CollectiveArgs {
  std::string arch;
  std::string op = "all_reduce";
  std::string bytes;
  std::string algorithm;  // empty: every one that applies
  std::vector<std::string> sets;
  bool json = false;
};

CLI::App* add_collective_command(CLI::App& app, CollectiveArgs& args);
int run_collective(const CollectiveArgs& args);

}  // namespace einsim::app
