#pragma once
// `einsim validate`: a cascade's values against the reference kernel its `kernel:` key names, on the same
// inputs. The interpreter's outputs are the oracle where it is affordable; above a work budget (long sequences)
// the kernels are checked against outputs recomputed in fp64 for a sample of rows, and against each other.
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "workloads/cascade.hpp"
#include "workloads/reference/kernels.hpp"

namespace einsim {

struct ValidateOptions {
  std::string backend = "auto";  // cpu, cuda, or auto (cuda when a GPU is present)
  uint64_t seed = 1;
  double max_interpreter_ops = 2e9;  // above this many operations the interpreter is skipped
  int64_t sample_rows = 64;          // rows recomputed in fp64 when it is
  double max_ops = INFINITY;         // a cascade of more operations is refused (a UserError) before any kernel runs
};

struct ValidateCheck {
  std::string kernel;    // "attention_tiled (cuda)"
  std::string against;   // "interpreter", "fp64 rows", or another kernel
  int64_t compared = 0;  // values compared
  double max_abs_err = 0;
  double norm_rel_err = 0;  // max |a - b| / max |b| over the values compared (b: the oracle)
  double tolerance = 0;
  bool ok() const { return norm_rel_err <= tolerance; }
};

struct ValidateReport {
  std::string workload;
  std::string kernel;
  std::string backend;      // the one used
  std::string device;       // the GPU's name, for cuda
  std::string output;       // the output tensor checked
  std::string interpreter;  // "run", or why it was skipped
  std::vector<ValidateCheck> checks;
  std::vector<std::pair<std::string, double>> seconds;  // wall time per stage
  bool ok() const;
};

// Throws UserError when the cascade names no kernel, its tensors do not fit the kernel's shapes, or the
// backend asked for is not there.
ValidateReport validate(const Cascade& c, const ValidateOptions& options);

// The tolerance on norm_rel_err for an output of `out` dtype computed with fp32 sums of `reduction` terms:
// one unit in the last place of the output format plus 2 * reduction fp32 roundings (docs/reference-kernels.md).
double validate_tolerance(DType out, int64_t reduction);

}  // namespace einsim
