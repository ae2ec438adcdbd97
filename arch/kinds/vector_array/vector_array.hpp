#pragma once
// kind: vector_array — a row of lanes, each one op at a time; an index reduced across lanes combines through
// an adder (or max) tree.
#include <optional>

#include "arch/component.hpp"
#include "arch/kinds/readers.hpp"
#include "workloads/dtype.hpp"

namespace einsim {

class VectorArrayComponent : public Component, public ComputeRole {
 public:
  int64_t lanes = 0;
  DType dtype = DType::bf16;
  RegisterFile regfile;
  std::map<std::string, OpSpec> op_table;
  std::optional<Cost> lane_area;

  const ComputeRole* compute() const override { return this; }
  std::optional<double> area_um2() const override;
  void describe(nlohmann::ordered_json& fields, std::string& summary) const override;

  const std::map<std::string, OpSpec>& ops() const override { return op_table; }
  int64_t parallelism() const override { return lanes; }
  int64_t regfile_entries() const override { return regfile.entries; }
  double regfile_read_pJ() const override { return regfile.read_pJ; }
  double regfile_write_pJ() const override { return regfile.write_pJ; }
  std::optional<int64_t> dimension(std::string_view name) const override;
  TileTiming tile_timing(const TileWork& work, double arch_clock_hz) const override;
  // A tile's steps are its points over the lanes its spread fills, one op a lane each cycle.
  double rate_when_spread(const std::map<std::string, int64_t>& most, double) const override {
    return static_cast<double>(spread_at_most(most, "lanes", lanes));
  }
};

ComponentKind vector_array_kind();

}  // namespace einsim
