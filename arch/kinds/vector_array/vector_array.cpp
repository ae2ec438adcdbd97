#include "arch/kinds/vector_array/vector_array.hpp"

#include <fmt/format.h>

#include "arch/kinds/readers.hpp"

namespace einsim {

std::optional<double> VectorArrayComponent::area_um2() const {
  if (lane_area && lane_area->area_um2) return *lane_area->area_um2 * static_cast<double>(lanes);
  return std::nullopt;
}

void VectorArrayComponent::describe(nlohmann::ordered_json& fields, std::string& summary) const {
  fields["lanes"] = lanes;
  fields["dtype"] = dtype_name(dtype);
  summary = fmt::format("{} lanes, {}", lanes, dtype_name(dtype));
}

std::optional<int64_t> VectorArrayComponent::dimension(std::string_view name) const {
  if (name == "lanes") return lanes;
  return std::nullopt;
}

TileTiming VectorArrayComponent::tile_timing(const TileWork& work, double) const {
  const std::map<std::string, int64_t> sizes{{"lanes", lanes}};
  return {spatial_steps(work, sizes) * work.cycles_per_point, reduction_levels(work, sizes)};
}

namespace {

std::shared_ptr<const Component> build(const ParamValues& p, const BuildContext& context) {
  auto v = std::make_shared<VectorArrayComponent>();
  v->lanes = p.count("lanes");
  v->dtype = dtype_param(p, "dtype");
  v->regfile = regfile_params(p, context.table, v->dtype);
  v->op_table = read_ops(context.table, p.node("ops"), v->dtype);
  v->lane_area = area_param(p, "lane_area", context.table, v->dtype);
  return v;
}

}  // namespace

ComponentKind vector_array_kind() {
  ParamTable params = {
      {"lanes", ParamType::count, true, "", "lanes"},
      {"dtype", ParamType::dtype, false, "bf16", "the lanes' datatype ({dtype} in its costs)"},
      {"ops", ParamType::ops, true, "",
       "the op kinds it computes: {kind: {latency_cycles, interval_cycles, function_unit, reduce, energy}}"},
      {"lane_area", ParamType::cost, false, "", "area of one lane"},
  };
  const ParamTable rf = regfile_param_defs("lane");
  params.insert(params.begin() + 2, rf.begin(), rf.end());
  return {"vector_array", "a row of lanes (softmax, norms, element-wise work)", std::move(params),
          R"({kind: vector_array, lanes: 8, ops: {exp: {latency_cycles: 4, energy: "2"}}})", &build};
}

}  // namespace einsim
