#pragma once
// kind: topk_engine — a selection unit over a stream of scores (SpAtten's top-k engine): it takes `throughput`
// scores a cycle, whatever is kept, and the kept indices leave `latency_cycles` after the last score enters. It
// does one op, topk (I[b,k] = topk(m) S[b,m]), and spreads its stream by itself: a mapping's spatial ranks do not
// apply to it.
#include <optional>

#include "arch/component.hpp"

namespace einsim {

class TopkEngineComponent : public Component, public ComputeRole {
 public:
  int64_t throughput = 1;  // scores a cycle
  int64_t latency = 0;     // cycles from the last score in to the result out
  std::map<std::string, OpSpec> op_table;
  std::optional<Cost> area;

  const ComputeRole* compute() const override { return this; }
  std::optional<double> area_um2() const override { return area ? area->area_um2 : std::nullopt; }
  void describe(nlohmann::ordered_json& fields, std::string& summary) const override;

  const std::map<std::string, OpSpec>& ops() const override { return op_table; }
  int64_t parallelism() const override { return throughput; }
  bool maps_spatially() const override { return false; }
  TileTiming tile_timing(const TileWork& work, double arch_clock_hz) const override;
};

ComponentKind topk_engine_kind();

}  // namespace einsim
