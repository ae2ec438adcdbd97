// Analytical evaluations per second for one design point (lowering + evaluation; specs parsed once, as a
// sweep over mappings would). Run by scripts/bench; figures go to docs/benchmarks.md.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>

#include "mappings/design_point.hpp"
#include "sim/analytical.hpp"

int main(int argc, char** argv) {
  using namespace einsim;
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  WorkloadOverrides o;
  o.param_files = {"configs/workloads/models/bert.yaml"};
  o.params = {{"M", "65536"}, {"P", "65536"}};
  const DesignPoint p = load_design_point("configs/mappings/attention-fusemax.yaml", o);
  int64_t checksum = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i)
    checksum += evaluate_analytical(p.cascade, p.arch, lower(p.cascade, p.arch, p.mapping)).cycles;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("FuseMax BERT M=P=65536: {} evaluations in {:.3f} s = {:.0f} per second on one core (cycles {})\n", n, s,
             n / s, checksum / n);
}
