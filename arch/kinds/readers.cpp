#include "arch/kinds/readers.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>

#include "workloads/cascade.hpp"

namespace einsim {

std::map<std::string, OpSpec> read_ops(const EnergyTable& table, const YNode& node, DType dtype) {
  std::map<std::string, OpSpec> ops;
  MapReader reader(node);
  for (const auto& [kind, value] : reader.entries()) {
    if (std::find(op_kinds().begin(), op_kinds().end(), kind) == op_kinds().end())
      value.fail(fmt::format("unknown op '{}' (known: {})", kind, fmt::join(op_kinds(), ", ")));
    MapReader f(value);
    OpSpec op;
    if (auto l = f.optional("latency_cycles")) op.latency_cycles = read_count(*l, "latency_cycles");
    if (auto i = f.optional("interval_cycles")) op.interval_cycles = read_count(*i, "interval_cycles");
    if (auto u = f.optional("function_unit")) op.function_unit = u->as_string();
    if (auto r = f.optional("reduce")) {
      const std::string how = r->as_string();
      if (how != "tree" && how != "chain")
        r->fail(
            fmt::format("unknown reduce '{}' (known: tree: partials combine up a tree, log2(width) levels; "
                        "chain: passed along the PEs, width cycles)",
                        how));
      op.chain_reduction = how == "chain";
    }
    op.cost = evaluate_cost(table, f.required("energy"), dtype_name(dtype));
    f.finish();
    ops[kind] = op;
  }
  if (ops.empty()) node.fail("a compute unit needs at least one op");
  return ops;
}

Cost access_cost(const EnergyTable& table, const YNode& node, int64_t access_bits, const char* size_key) {
  Cost c = evaluate_cost(table, node);
  if (c.bits && *c.bits != access_bits)
    node.fail(
        fmt::format("'{}' is a figure for {}-bit accesses, but {} is {}", c.text, *c.bits, size_key, access_bits));
  return c;
}

dram::DramPreset dram_preset(const YNode& preset) {
  const std::filesystem::path dir = std::filesystem::path(preset.file()).parent_path();
  return dram::load_dram_preset(dram::find_dram_preset(preset.as_string(), dir.string(),
                                                       {(dir / ".." / "dram").string()}, preset.loc(), preset.path()));
}

DType dtype_param(const ParamValues& p, const std::string& name) { return *parse_dtype(p.text(name)); }

RegisterFile regfile_params(const ParamValues& p, const EnergyTable& table, DType dtype) {
  RegisterFile rf;
  if (p.has("regfile_entries")) rf.entries = p.count("regfile_entries");
  if (const auto n = p.node_if("regfile_read_energy"))
    rf.read_pJ = evaluate_cost(table, *n, dtype_name(dtype)).energy_pJ;
  if (const auto n = p.node_if("regfile_write_energy"))
    rf.write_pJ = evaluate_cost(table, *n, dtype_name(dtype)).energy_pJ;
  return rf;
}

std::vector<ParamDef> regfile_param_defs(const char* per) {
  return {{"regfile_entries", ParamType::count, false, "",
           fmt::format("register file entries per {}: for tensors kept in registers, and on a 2D array what a tile wider than it uses again fold after fold (none when absent)", per)},
          {"regfile_read_energy", ParamType::cost, false, "",
           "energy of one register-file read: each op reads its operands there"},
          {"regfile_write_energy", ParamType::cost, false, "",
           "energy of one register-file write: each op updates its result there"}};
}

std::optional<Cost> area_param(const ParamValues& p, const std::string& name, const EnergyTable& table, DType dtype) {
  if (const auto n = p.node_if(name)) return evaluate_cost(table, *n, dtype_name(dtype));
  return std::nullopt;
}

}  // namespace einsim
