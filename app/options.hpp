#pragma once
// The options of the einsim subcommands and their entry points (one file each in app/); main.cpp only parses
// the command line and maps errors to exit codes.
#include <cstdint>
#include <string>
#include <vector>

#include "workloads/cascade.hpp"

#include "common/overrides.hpp"

namespace einsim::app {

struct WorkloadArgs {
  std::string file;
  std::vector<std::string> sets;         // --set path=value
  std::vector<std::string> param_files;  // --params FILE
  bool json = false;

  WorkloadOverrides overrides() const;  // throws UserError on a malformed --set or one for another spec
};

// `--set` overrides split by the spec they address (common/overrides).
DesignOverrides parse_sets(const std::vector<std::string>& sets);

struct ArchArgs {
  std::string file;
  std::vector<std::string> sets;
  bool json = false;
  bool kinds = false;
};

struct EvalArgs {
  WorkloadArgs workload;
  uint64_t seed = 1;
  std::string compare;             // another workload file
  bool compare_reference = false;  // compare against the workload's `reference:`
  std::string out_dir;             // write outputs as .npy
  std::string inputs_dir;          // read inputs from NAME.npy
  std::string accum = "fp32";
  bool ideal = false;
  double max_ops = 2e10;  // about 30 s of interpreter
  std::string densities;  // write the guards' measured densities as a param preset
};

struct ValidateArgs {
  WorkloadArgs workload;
  std::string backend = "auto";
  uint64_t seed = 1;
  double max_interpreter_ops = 2e9;
  int64_t sample_rows = 64;
  double max_ops = 1e12;  // about 5 minutes of the CPU kernels
  bool time = false;  // print wall times (they vary from run to run, so they are not printed by default)
};

struct ModelArgs {
  std::string mapping;
  std::string arch;      // default: the mapping's
  std::string workload;  // default: the mapping's
  std::vector<std::string> sets;
  std::vector<std::string> param_files;
  bool json = false;
  std::string trace;   // sim only: Perfetto trace file
  std::string vcd;     // sim only: VCD waves
  bool exact = false;  // sim only: no steady-state extrapolation
  bool verify = false;  // model only: run the tile program on values (the tile-order interpreter)
  uint64_t seed = 1;    // of --verify's inputs
};

struct GemmArgs {
  int64_t rows = 32;
  int64_t cols = 32;
  std::string dataflow = "ws";
  std::string fold_overlap = "none";
  int64_t M = 0;
  int64_t N = 0;
  int64_t K = 0;
  bool json = false;
};

int run_check(const WorkloadArgs& args);
int run_validate(const ValidateArgs& args);
int run_gemm(const GemmArgs& args);
int run_model(const ModelArgs& args);
int run_sim(const ModelArgs& args);
int run_arch(const ArchArgs& args);
int run_eval(const EvalArgs& args);
int run_worker();  // a sweep's cycle-level point: JSON in on stdin, its Stats out

}  // namespace einsim::app
