#include "arch/kinds/pe_array/pe_array.hpp"

#include <fmt/format.h>

#include "arch/kinds/readers.hpp"

namespace einsim {

std::optional<double> PeArrayComponent::area_um2() const {
  if (pe_area && pe_area->area_um2) return *pe_area->area_um2 * static_cast<double>(rows * cols);
  return std::nullopt;
}

void PeArrayComponent::describe(nlohmann::ordered_json& fields, std::string& summary) const {
  fields["rows"] = rows;
  fields["cols"] = cols;
  fields["dataflow"] = dataflow_name(dataflow);
  fields["dtype"] = dtype_name(dtype);
  fields["ops_per_cycle"] = ops_per_cycle;
  summary = fmt::format("{}x{} {}, {}", rows, cols, dataflow_name(dataflow), dtype_name(dtype));
  if (ops_per_cycle > 1) summary += fmt::format(", {} ops/PE/cycle", ops_per_cycle);
}

std::optional<int64_t> PeArrayComponent::dimension(std::string_view name) const {
  if (name == "rows") return rows;
  if (name == "cols") return cols;
  return std::nullopt;
}

TileTiming PeArrayComponent::tile_timing(const TileWork& work, double) const {
  const std::map<std::string, int64_t> sizes{{"rows", rows}, {"cols", cols}};
  TileTiming t;
  t.cycles = ceil_div(spatial_steps(work, sizes) * work.cycles_per_point, ops_per_cycle);
  if (!fold_overlap) {
    // An index reduced across PEs combines through an adder (or max) tree: its levels delay the result but,
    // pipelined, do not hold the array.
    t.result_latency = reduction_levels(work, sizes);
    return t;
  }
  // A systolic array reduces as data flows, inside its fill and drain: the unit's cycle model, with the tile's
  // spatial extents and its streaming steps.
  int64_t sr = 1, sc = 1;
  for (const auto& [dim, extent] : work.spread) (dim == "rows" ? sr : sc) = extent;
  t.cycles = systolic_tile_cycles(rows, cols, dataflow, *fold_overlap, sr, sc,
                                  ceil_div(work.points / (sr * sc) * work.cycles_per_point, ops_per_cycle));
  return t;
}

namespace {

// Ops per PE per cycle: a number, or a map by dtype for PEs that do several narrow ops in the time of one wide
// one ({bf16: 1, int8: 2, int4: 4}); the array's dtype picks the entry, and every key must be a dtype.
int64_t ops_per_cycle(const YNode& node, DType dtype) {
  if (!node.is_map()) return read_count(node, "ops_per_cycle");
  MapReader m(node);
  std::optional<int64_t> chosen;
  for (const auto& [key, value] : m.entries()) {
    const auto t = parse_dtype(key);
    if (!t) value.fail(fmt::format("unknown dtype '{}' (known: {})", key, dtype_names()));
    const int64_t n = read_count(value, "ops_per_cycle");
    if (*t == dtype) chosen = n;
  }
  if (!chosen) node.fail(fmt::format("ops_per_cycle has no entry for the array's dtype {}", dtype_name(dtype)));
  return *chosen;
}

std::shared_ptr<const Component> build(const ParamValues& p, const BuildContext& context) {
  auto a = std::make_shared<PeArrayComponent>();
  a->rows = p.count("rows");
  a->cols = p.count("cols");
  const std::string& d = p.text("dataflow");
  a->dataflow = d == "ws" ? Dataflow::ws : d == "os" ? Dataflow::os : Dataflow::is;
  a->dtype = dtype_param(p, "dtype");
  if (p.has("fold_overlap"))
    a->fold_overlap = p.text("fold_overlap") == "none" ? FoldOverlap::none : FoldOverlap::pipelined;
  a->regfile = regfile_params(p, context.table, a->dtype);
  if (const auto o = p.node_if("ops_per_cycle")) a->ops_per_cycle = ops_per_cycle(*o, a->dtype);
  a->op_table = read_ops(context.table, p.node("ops"), a->dtype);
  a->pe_area = area_param(p, "pe_area", context.table, a->dtype);
  return a;
}

}  // namespace

ComponentKind pe_array_kind() {
  ParamTable params = {
      {"rows", ParamType::count, true, "", "PE rows"},
      {"cols", ParamType::count, true, "", "PE columns"},
      {"dataflow",
       ParamType::choice,
       true,
       "",
       "which operand stays in the PEs: weights, outputs or inputs",
       {"ws", "os", "is"}},
      {"dtype", ParamType::dtype, false, "bf16", "the PEs' datatype ({dtype} in its costs)"},
      {"fold_overlap",
       ParamType::choice,
       false,
       "",
       "set for a systolic array: none (SCALE-Sim's timing) or pipelined (double-buffered folds)",
       {"none", "pipelined"}},
      {"ops_per_cycle", ParamType::per_dtype, false, "", "ops per PE per cycle, or a map by dtype (default 1)"},
      {"ops", ParamType::ops, true, "",
       "the op kinds it computes: {kind: {latency_cycles, interval_cycles, function_unit, reduce, energy}}"},
      {"pe_area", ParamType::cost, false, "", "area of one PE"},
  };
  const ParamTable rf = regfile_param_defs("PE");
  params.insert(params.end() - 3, rf.begin(), rf.end());
  return {"pe_array", "a 2D array of PEs (rows x cols), broadcast-fed or systolic", std::move(params),
          R"({kind: pe_array, rows: 8, cols: 8, dataflow: ws, ops: {mac: {energy: "1"}}})", &build};
}

}  // namespace einsim
