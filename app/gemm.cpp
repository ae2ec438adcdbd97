// einsim gemm: the systolic array's cycle model for one GEMM.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "app/options.hpp"
#include "app/text.hpp"
#include "arch/units/systolic.hpp"

namespace einsim::app {

using Json = nlohmann::ordered_json;

int run_gemm(const GemmArgs& args) {
  for (const auto& [name, v] : {std::pair<const char*, int64_t>{"--rows", args.rows},
                                {"--cols", args.cols},
                                {"--M", args.M},
                                {"--N", args.N},
                                {"--K", args.K}})
    if (v < 1 || v > (int64_t{1} << 40))
      throw UserError(SourceLoc{}, name, fmt::format("must be between 1 and 2^40, got {}", v));
  const Dataflow df = args.dataflow == "os" ? Dataflow::os : args.dataflow == "is" ? Dataflow::is : Dataflow::ws;
  const FoldOverlap overlap = args.fold_overlap == "pipelined" ? FoldOverlap::pipelined : FoldOverlap::none;
  const SystolicTiming t = systolic_gemm(args.rows, args.cols, df, overlap, GemmShape{args.M, args.N, args.K});
  if (args.json) {
    Json j{{"rows", args.rows},
           {"cols", args.cols},
           {"dataflow", args.dataflow},
           {"fold_overlap", args.fold_overlap},
           {"M", args.M},
           {"N", args.N},
           {"K", args.K},
           {"cycles", t.cycles},
           {"folds", t.folds},
           {"utilization", t.utilization},
           {"mapping_efficiency", t.mapping_efficiency}};
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  std::cout << fmt::format("GEMM {}x{}x{} (MxNxK) on a {}x{} {} array, fold overlap {}\n", args.M, args.N, args.K,
                           args.rows, args.cols, args.dataflow, args.fold_overlap)
            << table({{"cycles", grouped(t.cycles)},
                      {"folds", fmt::format("{} x {} cycles each", grouped(t.folds), grouped(t.fold_latency))},
                      {"utilization", fmt::format("{:.2f}%", 100 * t.utilization)},
                      {"mapping efficiency", fmt::format("{:.2f}%", 100 * t.mapping_efficiency)}},
                     "");
  return 0;
}

}  // namespace einsim::app
