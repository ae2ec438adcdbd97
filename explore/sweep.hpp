#pragma once
// Sweeps (configs/sweeps/*.yaml): axes over names and numbers, combined by product (and zip), substituted into
// the parts of a base experiment; each point is evaluated at one or two fidelities and written, in batches,
// to DIR/results.sqlite, then DIR/results.csv.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "explore/pipeline.hpp"
#include "sim/stats.hpp"
#include "workloads/expr.hpp"

namespace einsim {

struct SweepAxis {
  std::string name;
  std::vector<std::string> values;
  std::vector<std::map<std::string, std::string>> vars;  // per value: variables it defines ({arch} of a config)
};

// One evaluation of a point: a mapping with its arch, workload, presets and overrides, after substitution.
struct SweepPart {
  std::string name;
  std::map<std::string, std::string> when;  // axis -> value: the part runs only at points with these values
  std::string mapping, arch, workload;      // arch and workload empty: the mapping's
  bool map = false;                         // `mapping` is constraints (the part's `constraints:`): mapped per point
  bool ragged = false;                      // and the mapper searches tiles that do not divide their index too
  int rerank_cycle = 0;                     // and of its best this many are simulated, the fewest cycles kept
  int fuse = 1;                             // the mapper searches fusion of up to this many consecutive groups too
  std::vector<std::string> params;          // param preset files
  std::vector<std::pair<std::string, std::string>> sets;  // NAME / workload.NAME / arch.PATH -> value
  std::string count =
      "1";  // times the part runs per point, 0 for none (an integer expression after substitution: "{layers}")
  // How many copies of the part's footprint (its tensors in the backing memory, on each device) a point keeps at
  // once, "{layers}": the point is infeasible when its parts' copies together exceed the memory's capacity.
  // Empty: not counted (a part whose tensors another part's copies already hold).
  std::string resident;
  std::map<std::string, SourceLoc> locs;  // of its keys: mapping, arch, workload, params, count, resident
};

// A comparison the report draws: every other value of `axis` (or those `values` lists) against `baseline`, at
// equal values of the rest.
struct SweepComparison {
  std::string name;
  std::string axis;
  std::string baseline;
  std::vector<std::string> values;  // the values set against the baseline; empty: every other one
};

// A published figure to set beside einsim's: the average of `metric` ("speedup", "energy_ratio", or a derived
// column's name: its value over the baseline's) over the points of `comparison` whose axes match `where`, for
// `value` against the comparison's baseline.
struct PublishedFigure {
  std::string comparison;
  std::string value;
  std::map<std::string, std::string> where;
  std::string metric;
  double figure = 0;
  std::string source;
  std::string explain;  // why einsim's figure differs, shown when it does
};

// A result column computed from a point's axes (and their variables) and its headline results:
// tokens_per_s = "batch * lout / latency_s".
struct DerivedColumn {
  std::string name;
  std::string expression;
  Expr parsed;  // of `expression`, parsed once when the sweep loads
  SourceLoc loc;
};
// The results a derived column may use besides axes and their variables (and each part's, below).
const std::vector<std::string>& derived_inputs();
// A part's own figures in a point's row, and for derived columns: part_NAME_cycles, part_NAME_latency_s and
// part_NAME_energy_pJ (NAME the part's name in lower case, any other character than a letter or digit '_'); 0 at
// points where the part does not run. The parts' figures add to the point's (but with `pipeline:`, where they
// are one micro-batch's through all their layers).
std::string part_column(const std::string& part, const std::string& figure);
const std::vector<std::string>& part_figures();

// `fit: AXIS`: each point's row gains fit_AXIS, the largest value of that axis (a number of sequences, say) whose
// parts' resident footprints fit their memory, the other axes as the point's (explore/evaluate.cpp).
struct FitSpec {
  std::string axis;
  SourceLoc loc;
};

struct SweepSpec {
  std::string name, description, file;
  std::vector<SweepAxis> axes;
  std::vector<std::vector<std::string>> zips;  // axes that advance together
  std::vector<Fidelity> fidelities;
  std::vector<SweepPart> parts;
  std::vector<SweepComparison> comparisons;
  std::vector<PublishedFigure> published;
  std::vector<std::map<std::string, std::string>> notes;  // where einsim's model differs from a paper's, and why
  std::vector<DerivedColumn> columns;
  // Pipeline parallelism (`pipeline:`): the parts' layers (their `count`) split over a chain of stages, the batch
  // into micro-batches; a point is then a pass or a step of the pipeline (explore/pipeline.hpp).
  std::optional<PipelineSpec> pipeline;
  std::optional<FitSpec> fit;
};

SweepSpec load_sweep(const std::string& file);

struct SweepPoint {
  int64_t index = 0;                                      // position in the sweep's order: stable across runs
  std::vector<std::pair<std::string, std::string>> axes;  // axis -> value, in the sweep's axis order
  std::map<std::string, std::string> vars;                // the axes' values and the variables they define
  Fidelity fidelity = Fidelity::analytical;
  std::vector<SweepPart> parts;  // substituted, only those that run here
  std::optional<PipelineSpec> pipeline;  // substituted
  // With `fit:`, its axis, and the parts that run here as the sweep wrote them: substituted anew at other values of
  // the axis.
  std::string fit;
  std::vector<SweepPart> part_templates;
};

// A part with the placeholders in its files, sets, count and resident filled in from `vars`.
SweepPart substituted(SweepPart part, const std::map<std::string, std::string>& vars);

// Every point, in a fixed order (axes vary last-fastest; fidelity fastest of all).
std::vector<SweepPoint> enumerate_points(const SweepSpec& spec);

struct SweepOptions {
  std::string out_dir;
  int jobs = 1;
  int shard = 1, shards = 1;  // run points with index % shards == shard - 1
  bool resume = false;
  std::string self_exe;  // the einsim binary, for cycle-level workers
  std::string version;   // einsim's, recorded with every row
  // After each point: points done and to do in this run, errors so far, estimated seconds left.
  std::function<void(int64_t done, int64_t total, int64_t failed, double eta_s)> progress;
};

struct SweepSummary {
  int64_t points = 0;   // in this shard
  int64_t skipped = 0;  // already in the results (--resume)
  int64_t ran = 0;
  int64_t failed = 0;  // errors (not infeasible points, which are results)
  bool interrupted = false;
};

SweepSummary run_sweep(const SweepSpec& spec, const SweepOptions& options);

// Combines result directories (shards) into one; a point in several keeps the first one's row.
void merge_results(const std::vector<std::string>& dirs, const std::string& out_dir);

}  // namespace einsim
