#include "app/verify.hpp"

#include <fmt/format.h>

#include "workloads/analysis.hpp"

namespace einsim::app {

// The interpreter runs 1-2 ns an operation, and the check runs the cascade twice (whole, then tile by tile, one
// call per tile): about half a minute at this size.
constexpr double kMaxVerifyOps = 2e9;

TileCheck verify_program(const Cascade& cascade, const TileProgram& program, uint64_t seed) {
  if (!program.status.ok)
    throw UserError(SourceLoc{cascade.file}, "",
                    fmt::format("--verify: the mapping is infeasible at these params ({}), so there is no tile "
                                "program to run",
                                program.status.reason));
  const double ops = total_ops(cascade);
  if (ops > kMaxVerifyOps)
    throw UserError(SourceLoc{cascade.file}, "",
                    fmt::format("--verify runs the cascade on values twice, and at these params it takes {:.3g} "
                                "operations (at most {:.3g}): verify at smaller params",
                                ops, kMaxVerifyOps));
  return verify_values(cascade, program, seed);
}

nlohmann::ordered_json to_json(const TileCheck& check) {
  nlohmann::ordered_json j{
      {"ok", check.ok}, {"seed", check.seed}, {"computations", check.computations}, {"tensors", check.tensors}};
  if (!check.ok) {
    j["tensor"] = check.tensor;
    j["wrong_elements"] = check.wrong;
    j["first"] = check.element;
    j["got"] = check.got;
    j["expected"] = check.expected;
  }
  j["summary"] = check.summary();
  return j;
}

}  // namespace einsim::app
