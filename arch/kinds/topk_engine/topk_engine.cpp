#include "arch/kinds/topk_engine/topk_engine.hpp"

#include <fmt/format.h>

#include "arch/kinds/readers.hpp"

namespace einsim {

void TopkEngineComponent::describe(nlohmann::ordered_json& fields, std::string& summary) const {
  fields["throughput"] = throughput;
  fields["latency_cycles"] = latency;
  summary = fmt::format("{} scores a cycle, {} cycles to the result", throughput, latency);
}

// A tile's scores stream through at the engine's throughput (a point is one score); its kept indices follow the
// last score by the engine's latency.
TileTiming TopkEngineComponent::tile_timing(const TileWork& work, double) const {
  return {ceil_div(work.points * work.cycles_per_point, throughput), latency};
}

namespace {

std::shared_ptr<const Component> build(const ParamValues& p, const BuildContext& context) {
  auto t = std::make_shared<TopkEngineComponent>();
  t->throughput = p.count("throughput");
  t->latency = p.has("latency_cycles") ? p.count("latency_cycles") : 0;
  OpSpec topk;
  topk.latency_cycles = 1;  // one score a cycle per comparator lane; the pipeline's depth is latency_cycles
  topk.cost = evaluate_cost(context.table, p.node("energy"));
  t->op_table["topk"] = topk;
  if (const auto a = p.node_if("area")) t->area = evaluate_cost(context.table, *a);
  return t;
}

}  // namespace

ComponentKind topk_engine_kind() {
  return {"topk_engine",
          "a selection unit: ranks a stream of scores and returns the indices of the largest (topk)",
          {
              {"throughput", ParamType::count, true, "", "scores it takes a cycle"},
              {"latency_cycles", ParamType::count, false, "",
               "cycles from the last score in to the kept indices out (default 0)"},
              {"energy", ParamType::cost, true, "", "energy of one score ranked"},
              {"area", ParamType::cost, false, "", "area of the whole engine"},
          },
          R"({kind: topk_engine, throughput: 16, latency_cycles: 8, energy: "1"})",
          &build};
}

}  // namespace einsim
