#pragma once
// `einsim map`: the tiles a constraints file leaves as `auto`, chosen by exhaustive search under the analytical
// model, written as a mapping that loads like a hand-written one.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace einsim::app {

struct MapArgs {
  std::string constraints;  // a mapping whose tiles may say `auto`
  std::string arch;         // default: the constraints'
  std::string workload;     // default: the constraints'
  std::vector<std::string> sets;
  std::vector<std::string> param_files;
  std::string objective = "latency";
  int top = 5;
  int rerank_cycle = 0;  // simulate this many of the best at cycle level and keep the fastest there
  bool ragged = false;   // search tiles that do not divide their index too
  bool pareto = false;   // print the Pareto front of latency against energy
  int jobs = 1;          // threads
  double time_limit_s = 0;  // 0: none
  int fuse = 1;             // without constraints: at most this many consecutive Einsums' groups fused into one
  std::string out;  // the mapping YAML; empty: not written
  bool json = false;
  bool verify = false;                   // run the chosen mapping's tile program on values
  std::vector<std::string> verify_sets;  // params for that check (small ones), over the search's
  uint64_t seed = 1;                     // of the check's inputs
};

CLI::App* add_map_command(CLI::App& app, MapArgs& args);
int run_map(const MapArgs& args);

}  // namespace einsim::app
