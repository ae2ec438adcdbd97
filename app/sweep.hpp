#pragma once
// `einsim sweep`, `einsim merge` and `einsim report`: design-space sweeps, their results, and the HTML report.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace einsim::app {

struct SweepArgs {
  std::string file;
  std::string out_dir;
  int jobs = 0;  // 0: one per core
  std::string shard = "1/1";
  bool resume = false;
};

struct MergeArgs {
  std::vector<std::string> dirs;
  std::string out_dir;
};

struct ReportArgs {
  std::string dir;
  std::string out;
  std::vector<int64_t> points;  // whose candidate mappings the report shows
};

CLI::App* add_sweep_command(CLI::App& app, SweepArgs& args);
CLI::App* add_merge_command(CLI::App& app, MergeArgs& args);
CLI::App* add_report_command(CLI::App& app, ReportArgs& args);
// Exit code 0 when every point has a result (infeasible points are results), 1 when some failed, 130 when
// interrupted (the finished points are kept: --resume runs the rest).
int run_sweep_command(const SweepArgs& args);
int run_merge(const MergeArgs& args);
int run_report(const ReportArgs& args);

}  // namespace einsim::app
