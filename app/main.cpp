// einsim's command line: subcommands, their options, and the one place errors become exit codes
// (2: bad input or usage; 3: internal error).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <systemc>
#include <filesystem>
#include <iostream>

#include "common/error.hpp"
#include "app/options.hpp"
#include "app/cosim.hpp"
#include "app/collective.hpp"
#include "app/dram.hpp"
#include "app/map.hpp"
#include "app/sweep.hpp"

namespace einsim {
const char* git_revision();
}

namespace {

void add_workload_options(CLI::App* cmd, einsim::app::WorkloadArgs& w) {
  cmd->add_option("workload", w.file, "Workload YAML file (a cascade of Einsums)")->required();
  cmd->add_option("--set", w.sets, "Override a param: NAME=VALUE or workload.NAME=VALUE (repeatable)")
      ->type_name("PATH=VALUE")
      ->allow_extra_args(false);
  cmd->add_option("--params", w.param_files,
                  "Apply a param preset file, e.g. configs/workloads/models/bert.yaml (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);
  cmd->add_flag("--json", w.json, "Print one JSON object instead of tables");
}

// A design point for `model` and `sim`: the mapping, and the arch and workload it names unless overridden.
void add_design_point_options(CLI::App* cmd, einsim::app::ModelArgs& m) {
  cmd->add_option("--mapping", m.mapping, "Mapping YAML file; it names the arch and workload it is meant for")
      ->required();
  cmd->add_option("--arch", m.arch, "Architecture YAML file (default: the mapping's)");
  cmd->add_option("--workload", m.workload, "Workload YAML file (default: the mapping's)");
  cmd->add_option("--set", m.sets,
                  "Override: NAME=VALUE or workload.NAME=VALUE (a param), arch.COMPONENT.KEY=VALUE (repeatable)")
      ->type_name("PATH=VALUE")
      ->allow_extra_args(false);
  cmd->add_option("--params", m.param_files, "Apply a param preset file (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);
}

}  // namespace

// SystemC owns the process entry: main() hands over to sc_elab_and_sim, which calls sc_main.
int sc_main(int argc, char** argv) {
  CLI::App app{"einsim: cycle-level accelerator simulator and design-space explorer for transformer workloads"};
  app.set_version_flag("--version", std::string("einsim ") + einsim::git_revision());
  app.require_subcommand(1);

  einsim::app::WorkloadArgs check_args;
  CLI::App* check =
      app.add_subcommand("check", "Check a workload: shapes, bytes, op counts, compulsory traffic and passes");
  add_workload_options(check, check_args);

  einsim::app::EvalArgs eval_args;
  CLI::App* eval =
      app.add_subcommand("eval", "Execute a workload in the reference interpreter on seeded random (or given) inputs");
  add_workload_options(eval, eval_args.workload);
  eval->add_option("--seed", eval_args.seed, "Seed of the random inputs")->capture_default_str();
  eval->add_option("--compare", eval_args.compare,
                   "Run this workload too, on the same inputs, and compare the outputs they share")
      ->type_name("FILE");
  eval->add_flag("--compare-reference", eval_args.compare_reference,
                 "Run the workload's `reference:` (its fp32 counterpart) on the same inputs and params; report the "
                 "errors against it")
      ->excludes(eval->get_option("--compare"));
  eval->add_option("--out", eval_args.out_dir, "Write each output tensor to DIR/NAME.npy")->type_name("DIR");
  eval->add_option("--inputs", eval_args.inputs_dir, "Read each input tensor from DIR/NAME.npy instead of drawing it")
      ->type_name("DIR");
  eval->add_option("--accum", eval_args.accum, "Arithmetic and accumulation precision")
      ->check(CLI::IsMember({"fp32", "fp64"}))
      ->capture_default_str();
  eval->add_flag("--ideal", eval_args.ideal, "Do not round stored tensors to their dtypes");
  eval->add_option("--densities", eval_args.densities,
                   "Write each guard's measured density, where a param sets it, as a param preset (for --params)")
      ->type_name("FILE");
  eval->add_option("--max-ops", eval_args.max_ops,
                   "Refuse a cascade of more operations than this (the interpreter takes 1-2 ns per operation)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  einsim::app::ValidateArgs validate_args;
  CLI::App* validate = app.add_subcommand(
      "validate", "Check a cascade's values against the reference kernel its `kernel:` names (CPU, or CUDA on a GPU)");
  add_workload_options(validate, validate_args.workload);
  validate
      ->add_option("--backend", validate_args.backend,
                   "Where the kernels run: cpu, cuda, or auto (cuda when a GPU is present)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  validate->add_option("--seed", validate_args.seed, "Seed of the random inputs")->capture_default_str();
  validate
      ->add_option("--max-interpreter-ops", validate_args.max_interpreter_ops,
                   "Above this many operations, skip the interpreter and check sampled rows in fp64 instead")
      ->capture_default_str();
  validate
      ->add_option("--sample-rows", validate_args.sample_rows,
                   "Rows recomputed in fp64 when the interpreter is skipped")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  validate
      ->add_option("--max-ops", validate_args.max_ops,
                   "Refuse a cascade of more operations than this (the CPU kernels take about 0.3 ns per operation)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  validate->add_flag("--time", validate_args.time, "Print the wall time of each stage");

  einsim::app::ModelArgs model_args;
  CLI::App* model =
      app.add_subcommand("model", "Evaluate a mapping analytically: latency, utilization, traffic, energy and area");
  add_design_point_options(model, model_args);
  model->add_flag("--json", model_args.json, "Print the Stats as one JSON object");
  model->add_flag("--verify", model_args.verify,
                  "Also run the mapping's tile program on values, tile by tile in its loops' order, and compare "
                  "every tensor with the cascade interpreter's (exit code 1 when one differs); at small params");
  model->add_option("--seed", model_args.seed, "Seed of --verify's random inputs")->capture_default_str();

  einsim::app::ModelArgs sim_args;
  CLI::App* sim = app.add_subcommand(
      "sim", "Simulate a mapping at cycle level in SystemC: the Stats of 'model', with stalls and the gap to it");
  add_design_point_options(sim, sim_args);
  sim->add_option("--trace", sim_args.trace,
                  "Write a Chrome/Perfetto trace (one track per unit and DMA engine; open in ui.perfetto.dev)")
      ->type_name("FILE");
  sim->add_option("--vcd", sim_args.vcd,
                  "Write signal-level waves (VCD): per unit running/waiting, per DMA engine busy (FILE.vcd unless FILE "
                  "ends in .vcd)")
      ->type_name("FILE");
  sim->add_flag("--exact", sim_args.exact, "Simulate every tile (by default loops in steady state are extrapolated)");
  sim->add_flag("--json", sim_args.json, "Print the Stats as one JSON object");

  // Started by `sweep` for its cycle-level points; not for people, so not in --help.
  CLI::App* worker = app.add_subcommand("worker", "");
  worker->group("");

  einsim::app::GemmArgs gemm_args;
  CLI::App* gemm =
      app.add_subcommand("gemm", "Cycles of one GEMM (MxK).(KxN) on a systolic array, from the unit's cycle model");
  gemm->add_option("--rows", gemm_args.rows, "Array rows")->capture_default_str();
  gemm->add_option("--cols", gemm_args.cols, "Array columns")->capture_default_str();
  gemm->add_option("--dataflow", gemm_args.dataflow, "Dataflow")
      ->check(CLI::IsMember({"ws", "os", "is"}))
      ->capture_default_str();
  gemm->add_option("--fold-overlap", gemm_args.fold_overlap,
                   "none: SCALE-Sim v2's timing; pipelined: double-buffered folds")
      ->check(CLI::IsMember({"none", "pipelined"}))
      ->capture_default_str();
  gemm->add_option("--M", gemm_args.M, "Rows of the left operand and the result")->required();
  gemm->add_option("--N", gemm_args.N, "Columns of the right operand and the result")->required();
  gemm->add_option("--K", gemm_args.K, "The reduction")->required();
  gemm->add_flag("--json", gemm_args.json, "Print one JSON object");

  einsim::app::ArchArgs arch_args;
  CLI::App* arch = app.add_subcommand(
      "arch", "Check an architecture: components, ops, energy per action and area; or list the component kinds");
  arch->add_option("arch", arch_args.file, "Architecture YAML file");
  arch->add_flag("--kinds", arch_args.kinds,
                 "List the registered component kinds with their parameter tables (Markdown, or --json)");
  arch->add_option("--set", arch_args.sets,
                   "Override a field: arch.COMPONENT.KEY=VALUE, e.g. arch.glb.size=32MiB (repeatable)")
      ->type_name("PATH=VALUE")
      ->allow_extra_args(false);
  arch->add_flag("--json", arch_args.json, "Print one JSON object instead of tables");

  einsim::app::CosimArgs cosim_args;
  CLI::App* cosim = einsim::app::add_cosim_command(app, cosim_args);

  einsim::app::DramArgs dram_args;
  CLI::App* dram = einsim::app::add_dram_command(app, dram_args);

  einsim::app::CollectiveArgs collective_args;
  CLI::App* collective = einsim::app::add_collective_command(app, collective_args);

  einsim::app::MapArgs map_args;
  CLI::App* map = einsim::app::add_map_command(app, map_args);

  einsim::app::SweepArgs sweep_args;
  CLI::App* sweep = einsim::app::add_sweep_command(app, sweep_args);
  einsim::app::MergeArgs merge_args;
  CLI::App* merge = einsim::app::add_merge_command(app, merge_args);
  einsim::app::ReportArgs report_args;
  CLI::App* report = einsim::app::add_report_command(app, report_args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // Formatted as every other bad input is: one line, a long value CLI11 echoes cut to a readable length.
    std::cerr << einsim::UserError(std::string(e.what()) + " (--help lists the options)").what() << '\n';
    return 2;
  }
  try {
    if (*check) return einsim::app::run_check(check_args);
    if (*eval) return einsim::app::run_eval(eval_args);
    if (*arch) return einsim::app::run_arch(arch_args);
    if (*model) return einsim::app::run_model(model_args);
    if (*gemm) return einsim::app::run_gemm(gemm_args);
    if (*sim) return einsim::app::run_sim(sim_args);
    if (*worker) return einsim::app::run_worker();
    if (*validate) return einsim::app::run_validate(validate_args);
    if (*cosim) return einsim::app::run_cosim(cosim_args);
    if (*dram) return einsim::app::run_dram(dram_args);
    if (*collective) return einsim::app::run_collective(collective_args);
    if (*map) return einsim::app::run_map(map_args);
    if (*sweep) return einsim::app::run_sweep_command(sweep_args);
    if (*merge) return einsim::app::run_merge(merge_args);
    if (*report) return einsim::app::run_report(report_args);
  } catch (const einsim::UserError& e) {
    std::cerr << e.what() << '\n';
    return 2;
  } catch (const std::filesystem::filesystem_error& e) {  // a path it cannot read or write: the user's to fix
    std::cerr << "einsim: error: " << e.path1().string() << ": " << e.code().message() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "einsim: internal error: " << e.what() << '\n';
    return 3;
  }
  return 0;
}

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);  // keep stdout to einsim's own output
  return sc_core::sc_elab_and_sim(argc, argv);
}
