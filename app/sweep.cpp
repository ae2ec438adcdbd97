#include "app/sweep.hpp"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "common/error.hpp"
#include "explore/sweep.hpp"

namespace einsim {
const char* git_revision();
}

namespace einsim::app {

CLI::App* add_sweep_command(CLI::App& app, SweepArgs& args) {
  CLI::App* cmd =
      app.add_subcommand("sweep", "Run a sweep file's points in parallel into DIR/results.sqlite and DIR/results.csv");
  cmd->add_option("sweep", args.file, "Sweep YAML file (configs/sweeps/)")->required();
  cmd->add_option("-o,--out", args.out_dir, "Results directory")->required()->type_name("DIR");
  cmd->add_option("-j,--jobs", args.jobs, "Points evaluated at once (default: one per core)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--shard", args.shard,
                  "Run the I-th of N deterministic shares of the points (for a batch scheduler's job array)")
      ->type_name("I/N")
      ->capture_default_str();
  cmd->add_flag("--resume", args.resume, "Keep the results DIR holds and run only the missing points");
  return cmd;
}

CLI::App* add_merge_command(CLI::App& app, MergeArgs& args) {
  CLI::App* cmd = app.add_subcommand("merge", "Combine the results directories of a sweep's shards into one");
  cmd->add_option("dirs", args.dirs, "Results directories")->required();
  cmd->add_option("-o,--out", args.out_dir, "Merged results directory (new or empty)")->required()->type_name("DIR");
  return cmd;
}

CLI::App* add_report_command(CLI::App& app, ReportArgs& args) {
  CLI::App* cmd =
      app.add_subcommand("report", "Write a self-contained HTML report of a sweep's results (plots by matplotlib)");
  cmd->add_option("dir", args.dir, "Results directory of `einsim sweep`")->required();
  cmd->add_option("-o,--out", args.out, "HTML file to write")->required()->type_name("FILE");
  cmd->add_option("--point", args.points,
                  "A point whose candidate mappings to show, for sweeps with mapped parts (repeatable; default: the "
                  "first point of a few values of the first axis)")
      ->type_name("N")
      ->allow_extra_args(false);
  return cmd;
}

int run_sweep_command(const SweepArgs& args) {
  int shard = 0, shards = 0;
  char slash = 0;
  if (std::sscanf(args.shard.c_str(), "%d%c%d", &shard, &slash, &shards) != 3 || slash != '/')
    throw UserError(SourceLoc{}, "--shard", fmt::format("expected I/N, e.g. 2/8, got '{}'", args.shard));
  const SweepSpec spec = load_sweep(args.file);
  SweepOptions o;
  o.out_dir = args.out_dir;
  o.jobs = args.jobs > 0 ? args.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.shard = shard;
  o.shards = shards;
  o.resume = args.resume;
  o.self_exe = std::filesystem::read_symlink("/proc/self/exe").string();
  o.version = git_revision();
  const bool tty = isatty(STDERR_FILENO);
  int64_t last_tenth = 0;
  o.progress = [&](int64_t done, int64_t total, int64_t failed, double eta) {
    const std::string failures = failed ? fmt::format(", {} failed", failed) : "";
    if (tty) {
      const int width = 30;
      const auto filled = static_cast<int>(width * done / std::max<int64_t>(total, 1));
      std::cerr << fmt::format("\r[{}{}] {}/{}{}  ETA {:.0f} s   ", std::string(static_cast<size_t>(filled), '#'),
                               std::string(static_cast<size_t>(width - filled), ' '), done, total, failures, eta)
                << (done == total ? "\n" : "") << std::flush;
    } else if (done * 10 / std::max<int64_t>(total, 1) > last_tenth || done == total) {
      last_tenth = done * 10 / std::max<int64_t>(total, 1);
      std::cerr << fmt::format("sweep {}: {}/{} points{}\n", spec.name, done, total, failures);
    }
  };
  const SweepSummary s = run_sweep(spec, o);
  std::cout << fmt::format(
      "{}: {} points in this shard, {} run, {} already done, {} failed{}; results in {}/results.sqlite and "
      "results.csv\n",
      spec.name, s.points, s.ran, s.skipped, s.failed, s.interrupted ? " (interrupted: --resume runs the rest)" : "",
      args.out_dir);
  return s.interrupted ? 130 : s.failed ? 1 : 0;
}

int run_merge(const MergeArgs& args) {
  merge_results(args.dirs, args.out_dir);
  std::cout << fmt::format("merged {} directories into {}/results.sqlite and results.csv\n", args.dirs.size(),
                           args.out_dir);
  return 0;
}

int run_report(const ReportArgs& args) {
  if (!std::filesystem::exists(std::filesystem::path(args.dir) / "results.sqlite"))
    throw UserError(SourceLoc{args.dir}, "report",
                    "no results.sqlite here: run `einsim sweep SWEEP.yaml -o DIR` first");
  const std::string script = std::string(EINSIM_SOURCE_DIR) + "/scripts/report.py";
  // Debian's python3, where ./scripts/setup installs matplotlib, pandas and jinja2 (not a pyenv or venv one).
  const char* python = std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  std::vector<std::string> argv = {python, script, args.dir, "-o", args.out};
  for (const int64_t p : args.points) argv.insert(argv.end(), {"--point", std::to_string(p)});
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    execvp(python, c_argv.data());
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) == 127)
    throw UserError(SourceLoc{script}, "report", "cannot run python3 (./scripts/setup installs it)");
  return WEXITSTATUS(st);
}

}  // namespace einsim::app
