#pragma once
// The reference interpreter: executes a cascade on concrete values, the oracle the other fidelities and the
// reference kernels are checked against.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "workloads/cascade.hpp"

namespace einsim {

struct EvalOptions {
  bool fp64 = false;   // arithmetic and accumulation in fp64 instead of fp32
  bool ideal = false;  // keep every tensor at the arithmetic precision instead of rounding it to its dtype
};

using TensorValues = std::map<std::string, std::vector<double>>;  // name -> row-major elements

// Uniform values in [-1, 1), drawn from the seed and the tensor's name alone, so that two cascades with an
// input of the same name and size receive the same values. random_inputs gives inputs of an integer type of 8
// bits or fewer every value of the type instead (int8: -128..127, uint4: 0..15).
std::vector<double> random_values(const std::string& name, int64_t elements, uint64_t seed);
TensorValues random_inputs(const Cascade& c, uint64_t seed);

// Executes the cascade. `inputs` holds every input tensor by name; returns every tensor's final values.
TensorValues evaluate(const Cascade& c, const TensorValues& inputs, const EvalOptions& options);

// The cascade's Einsums computed box by box, in whatever order the caller gives: the engine of the tile-order
// interpreter that checks a mapping's TileProgram on values (mappings/verify.hpp). In fp64, every tensor kept at full
// precision (`ideal`), so that two orders of the same sums agree to rounding.
class BoxEvaluator {
 public:
  BoxEvaluator(const Cascade& c, const TensorValues& inputs);
  ~BoxEvaluator();
  // Computes Einsum e on the box [lo, hi) of its indices (hi clamped to their extents; an empty box computes
  // nothing), a recurrence one step at a time. A reduction continues at the elements of its result an earlier box
  // of it wrote and starts from its identity at the others (the first box to reach an element need not be the one
  // at the reduced indices' first values: a where clause may skip that one).
  void compute(EinsumId e, std::vector<int64_t> lo, std::vector<int64_t> hi);
  // Every tensor's values now.
  TensorValues values() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A UserError naming the count for a cascade of more than `max_ops` operations: at 1-2 ns per operation the
// interpreter would run for minutes or hours. `eval` checks before it draws any input.
void check_ops(const Cascade& c, double max_ops);

struct ErrorStats {
  double max_abs_err = 0;
  double max_rel_err = 0;   // max |a-b| / max(|b|, smallest normal fp32)
  double mean_rel_err = 0;  // mean |a-b| / mean |b|: relative L1 error, robust to outputs near zero
  double snr_db = 0;        // 10 log10(sum b^2 / sum (a-b)^2); infinite when equal
};
ErrorStats compare_values(const std::vector<double>& a, const std::vector<double>& reference);

}  // namespace einsim
