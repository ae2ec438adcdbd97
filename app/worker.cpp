// einsim worker: the cycle-level evaluation of one sweep point, in its own process (SystemC elaborates once per
// process). It reads the design point as JSON on its standard input and prints its Stats as JSON; the sweep
// starts it, so it is not in --help.
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "app/options.hpp"
#include "explore/mapper.hpp"
#include "mappings/design_point.hpp"
#include "mappings/spec_cache.hpp"
#include "sim/cycle/engine.hpp"

namespace einsim::app {

int run_worker() {
  const std::string input{std::istreambuf_iterator<char>(std::cin), {}};
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(input);
  } catch (const nlohmann::json::exception& e) {
    throw UserError(SourceLoc{}, "design point", std::string("not JSON: ") + e.what());
  }
  const SpecInputs in = spec_inputs_from_json(j);
  DesignPoint p;
  if (in.map) {  // constraints: what the sweep chose for them, or the mapper's choice
    SpecCache specs;
    const SpecInputs chosen = in.choice.empty() ? choose_mapping(in, specs, 1).inputs : in;
    const ResolvedSpecs r = specs.resolve(chosen);
    p.cascade = *r.cascade;
    p.arch = *r.arch;
    p.mapping = with_choice(*r.mapping, chosen.choice);
    p.program = lower(p.cascade, p.arch, p.mapping);
  } else {
    p = load_design_point(in.mapping, in.workload_overrides, in.arch_sets, in.arch, in.workload);
  }
  CycleEvaluator cycle;
  std::cout << to_json(cycle.evaluate(p.cascade, p.arch, p.program)).dump(2) << '\n';
  return 0;
}

}  // namespace einsim::app
