#pragma once
// kind: pe_array — a 2D array of PEs (rows x cols): operands reach the PEs by broadcast, or flow through them
// as in a systolic array (fold_overlap set), whose tiles then pay fill and drain (arch/units/systolic).
#include <optional>

#include "arch/component.hpp"
#include "arch/kinds/readers.hpp"
#include "arch/units/systolic.hpp"
#include "workloads/dtype.hpp"

namespace einsim {

class PeArrayComponent : public Component, public ComputeRole {
 public:
  int64_t rows = 0;
  int64_t cols = 0;
  Dataflow dataflow = Dataflow::ws;
  std::optional<FoldOverlap> fold_overlap;
  DType dtype = DType::bf16;
  RegisterFile regfile;
  int64_t ops_per_cycle = 1;  // per PE, at the array's dtype
  std::map<std::string, OpSpec> op_table;
  std::optional<Cost> pe_area;

  const ComputeRole* compute() const override { return this; }
  std::optional<double> area_um2() const override;
  void describe(nlohmann::ordered_json& fields, std::string& summary) const override;

  const std::map<std::string, OpSpec>& ops() const override { return op_table; }
  int64_t parallelism() const override { return rows * cols; }
  int64_t op_slots() const override { return rows * cols * ops_per_cycle; }
  int64_t regfile_entries() const override { return regfile.entries; }
  double regfile_read_pJ() const override { return regfile.read_pJ; }
  double regfile_write_pJ() const override { return regfile.write_pJ; }
  std::optional<int64_t> dimension(std::string_view name) const override;
  bool folds_in_passes() const override { return true; }
  TileTiming tile_timing(const TileWork& work, double arch_clock_hz) const override;
  // A tile's steps are its points over the PEs its spread fills (ceil(spread / size) folds of each dimension), each
  // step ops_per_cycle ops a PE; a systolic tile's fill, drain and folds only add to that.
  double rate_when_spread(const std::map<std::string, int64_t>& most, double) const override {
    return static_cast<double>(ops_per_cycle * spread_at_most(most, "rows", rows) * spread_at_most(most, "cols", cols));
  }
};

ComponentKind pe_array_kind();

}  // namespace einsim
