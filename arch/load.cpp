// Architecture YAML -> ArchSpec, with cross-field validation.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>

#include "arch/dram/pim.hpp"
#include "arch/spec.hpp"
#include "arch/units/systolic.hpp"
#include "common/units.hpp"
#include "common/yaml.hpp"
#include "workloads/cascade.hpp"

namespace einsim {
namespace {

// Sizes and counts of hardware: at least 1, and at most 2^40 so that products of a few stay exact.
int64_t positive(const YNode& n, const char* what) {
  const int64_t v = n.as_int();
  if (v < 1 || v > (int64_t{1} << 40)) n.fail(fmt::format("{} must be between 1 and 2^40, got {}", what, v));
  return v;
}

DType dtype_of(const YNode& n) {
  const auto t = parse_dtype(n.as_string());
  if (!t) n.fail(fmt::format("unknown dtype '{}' (known: {})", n.as_string(), dtype_names()));
  return *t;
}

// Ops per PE per cycle: a number, or a map by dtype for PEs that do several narrow ops in the time of one wide
// one ({bf16: 1, int8: 2, int4: 4}); the array's dtype picks the entry, and every key must be a dtype.
int64_t ops_per_cycle(const YNode& node, DType dtype) {
  if (!node.is_map()) return positive(node, "ops_per_cycle");
  MapReader m(node);
  std::optional<int64_t> chosen;
  for (const auto& [key, value] : m.entries()) {
    const auto t = parse_dtype(key);
    if (!t) value.fail(fmt::format("unknown dtype '{}' (known: {})", key, dtype_names()));
    const int64_t n = positive(value, "ops_per_cycle");
    if (*t == dtype) chosen = n;
  }
  if (!chosen) node.fail(fmt::format("ops_per_cycle has no entry for the array's dtype {}", dtype_name(dtype)));
  return *chosen;
}

// An access energy whose table figures say how many bits they move must be for this memory's access size.
Cost access_cost(const EnergyTable& table, const YNode& node, int64_t access_bits, const char* size_key) {
  Cost c = evaluate_cost(table, node);
  if (c.bits && *c.bits != access_bits)
    node.fail(fmt::format("'{}' is a figure for {}-bit accesses, but {} is {}", c.text, *c.bits, size_key, access_bits));
  return c;
}

// A name is a preset in configs/dram/ beside the arch's folder; a path is relative to the arch file.
dram::DramPreset dram_preset(const YNode& preset) {
  const std::string name = preset.as_string();
  const std::filesystem::path dir = std::filesystem::path(preset.file()).parent_path();
  const std::filesystem::path path = name.ends_with(".yaml") ? dir / name : dir / ".." / "dram" / (name + ".yaml");
  if (!std::filesystem::exists(path)) preset.fail(fmt::format("DRAM preset {} not found", path.string()));
  return dram::load_dram_preset(path.string());
}

std::map<std::string, OpSpec> read_ops(const EnergyTable& table, const YNode& node, DType dtype) {
  std::map<std::string, OpSpec> ops;
  MapReader reader(node);
  for (const auto& [kind, value] : reader.entries()) {
    if (std::find(op_kinds().begin(), op_kinds().end(), kind) == op_kinds().end())
      value.fail(fmt::format("unknown op '{}' (known: {})", kind, fmt::join(op_kinds(), ", ")));
    MapReader f(value);
    OpSpec op;
    if (auto l = f.optional("latency_cycles")) op.latency_cycles = positive(*l, "latency_cycles");
    op.cost = evaluate_cost(table, f.required("energy"), dtype_name(dtype));
    f.finish();
    ops[kind] = op;
  }
  if (ops.empty()) node.fail("a compute unit needs at least one op");
  return ops;
}

PimSpec read_pim(MapReader& f, const YNode& node, const EnergyTable& table) {
  PimSpec p;
  const YNode level = f.required("level");
  const std::string l = level.as_string();
  if (l == "bank") p.level = PimLevel::bank;
  else if (l == "bankgroup") p.level = PimLevel::bankgroup;
  else if (l == "logic") p.level = PimLevel::logic;
  else level.fail(fmt::format("unknown PIM level '{}' (known: bank, bankgroup, logic)", l));
  const YNode memory = f.required("memory");
  p.memory = memory.as_string();
  p.memory_loc = memory.loc();
  if (auto s = f.optional("stacks")) p.stacks = positive(*s, "stacks");
  p.lanes = positive(f.required("lanes"), "lanes");
  if (auto t = f.optional("dtype")) p.dtype = dtype_of(*t);
  const YNode clock = f.required("clock");
  p.clock_hz = parse_frequency(clock);
  if (p.clock_hz <= 0) clock.fail("the clock must be positive");
  p.buffer_bytes = parse_bytes(f.required("buffer")) * static_cast<double>(p.stacks);
  p.access = evaluate_cost(table, f.required("access_energy"));
  if (p.access.bits) f.required("access_energy").fail("access_energy is per bit: name a per-bit figure, not an access of several bits");
  const auto units = f.optional("units");
  const auto bandwidth = f.optional("bandwidth");
  const auto device = f.optional("device");
  const auto per_unit = f.optional("banks_per_unit");
  const auto latency = f.optional("latency");
  if (p.level == PimLevel::logic) {
    // The logic die's units and its TSVs to the banks are the design's own figures, per stack.
    if (!units) node.fail("a logic-die PIM needs units (per stack)");
    if (!bandwidth) node.fail("a logic-die PIM needs bandwidth (per stack, banks to the logic die)");
    if (device) device->fail("device is for bank and bankgroup PIM, which the DRAM's timing rules pace");
    if (per_unit) per_unit->fail("banks_per_unit is for bank-level PIM");
    p.units = positive(*units, "units") * p.stacks;
    if (!latency) node.fail("a logic-die PIM needs latency (from a transfer's start to its first data)");
    p.latency_s = parse_duration(*latency);
    if (p.latency_s <= 0) latency->fail("latency must be positive");
    p.bandwidth_Bps = parse_bandwidth(*bandwidth) * static_cast<double>(p.stacks);
    if (p.bandwidth_Bps <= 0) bandwidth->fail("bandwidth must be positive");
  } else {
    // Bank and bank-group units come with the device's organization, and its timing rules set their bandwidth.
    if (!device) node.fail(fmt::format("a {}-level PIM needs device: the DRAM preset of its stacks (configs/dram/NAME)", l));
    if (units) units->fail("a bank or bankgroup PIM has a unit per bank (or banks_per_unit banks) or per bank group: the device sets their number");
    if (bandwidth) bandwidth->fail("a bank or bankgroup PIM's bandwidth follows from its device's timing rules");
    if (latency) latency->fail("a bank or bankgroup PIM's latency follows from its device's timing (nRCD + nCL)");
    p.device = dram_preset(*device);
    const dram::DramOrg& o = p.device->org;
    if (per_unit) {
      if (p.level != PimLevel::bank) per_unit->fail("banks_per_unit is for bank-level PIM");
      p.banks_per_unit = positive(*per_unit, "banks_per_unit");
      if (o.banks_per_controller() % p.banks_per_unit != 0)
        per_unit->fail(fmt::format("{} banks per pseudo-channel do not split into units of {}", o.banks_per_controller(), p.banks_per_unit));
    }
    const dram::PimLevel at = p.level == PimLevel::bank ? dram::PimLevel::bank : dram::PimLevel::bankgroup;
    p.units = o.controllers() * dram::pim_units_per_controller(o, at, p.banks_per_unit) * p.stacks;
    p.bandwidth_Bps = dram::pim_internal_Bps(*p.device, at, p.banks_per_unit) * static_cast<double>(p.stacks);
    // A row's first data reaches the units nRCD + nCL after its activation.
    const dram::DramTiming& t = p.device->timing;
    p.latency_s = static_cast<double>(t.nRCDRD + t.nCL) * t.tCK_ps * 1e-12;
  }
  p.ops = read_ops(table, f.required("ops"), p.dtype);
  if (auto a = f.optional("lane_area")) p.lane_area = evaluate_cost(table, *a, dtype_name(p.dtype));
  return p;
}

ComponentSpec read_component(const std::string& name, const YNode& node, const EnergyTable& table) {
  MapReader f(node);
  ComponentSpec c;
  c.name = name;
  c.loc = node.loc();
  const YNode kind = f.required("kind");
  const std::string k = kind.as_string();
  if (k == "dram") {
    DramSpec d;
    d.bandwidth_Bps = parse_bandwidth(f.required("bandwidth"));
    if (d.bandwidth_Bps <= 0) node.fail("bandwidth must be positive");
    d.latency_cycles = positive(f.required("latency_cycles"), "latency_cycles");
    if (auto e = f.optional("dma_engines")) d.dma_engines = positive(*e, "dma_engines");
    d.access_bits = positive(f.required("access_bits"), "access_bits");
    d.read = access_cost(table, f.required("read_energy"), d.access_bits, "access_bits");
    d.write = access_cost(table, f.required("write_energy"), d.access_bits, "access_bits");
    const auto model = f.optional("model");
    const auto preset = f.optional("preset");
    const std::string m = model ? model->as_string() : "bandwidth";
    if (m != "bandwidth" && m != "bank") model->fail(fmt::format("unknown model '{}' (known: bandwidth, bank)", m));
    if (m == "bank" && !preset) model->fail("model: bank needs a preset (configs/dram/NAME.yaml, or a file)");
    if (m != "bank" && preset) preset->fail("a preset is for model: bank");
    if (preset) d.bank = dram_preset(*preset);
    c.spec = d;
  } else if (k == "sram") {
    SramSpec s;
    const YNode size = f.required("size");
    s.size_bytes = parse_bytes(size);
    s.banks = positive(f.required("banks"), "banks");
    const YNode row = f.required("row_bits");
    s.row_bits = positive(row, "row_bits");
    if (s.row_bits % 8 != 0) row.fail("row_bits must be a whole number of bytes");
    s.ports = positive(f.optional("ports").value_or(YNode(YAML::Node(1), node.file(), "")), "ports");
    if (s.size_bytes < static_cast<double>(s.row_bits / 8 * s.banks))
      size.fail(fmt::format("{} is smaller than one row in each of its {} banks ({} bytes)", format_bytes(s.size_bytes), s.banks, s.row_bits / 8 * s.banks));
    s.read = access_cost(table, f.required("read_energy"), s.row_bits, "row_bits");
    s.write = access_cost(table, f.required("write_energy"), s.row_bits, "row_bits");
    if (auto a = f.optional("area")) s.area = evaluate_cost(table, *a);
    c.spec = s;
  } else if (k == "pe_array") {
    PeArraySpec p;
    p.rows = positive(f.required("rows"), "rows");
    p.cols = positive(f.required("cols"), "cols");
    const YNode df = f.required("dataflow");
    const std::string d = df.as_string();
    if (d == "ws") p.dataflow = Dataflow::ws;
    else if (d == "os") p.dataflow = Dataflow::os;
    else if (d == "is") p.dataflow = Dataflow::is;
    else df.fail(fmt::format("unknown dataflow '{}' (known: ws, os, is)", d));
    if (auto t = f.optional("dtype")) p.dtype = dtype_of(*t);
    if (auto fo = f.optional("fold_overlap")) {
      const std::string v = fo->as_string();
      if (v == "none") p.fold_overlap = FoldOverlap::none;
      else if (v == "pipelined") p.fold_overlap = FoldOverlap::pipelined;
      else fo->fail(fmt::format("unknown fold_overlap '{}' (none: SCALE-Sim's timing; pipelined: double-buffered folds)", v));
    }
    if (auto r = f.optional("regfile_entries")) p.regfile_entries = positive(*r, "regfile_entries");
    if (auto o = f.optional("ops_per_cycle")) p.ops_per_cycle = ops_per_cycle(*o, p.dtype);
    p.ops = read_ops(table, f.required("ops"), p.dtype);
    if (auto a = f.optional("pe_area")) p.pe_area = evaluate_cost(table, *a, dtype_name(p.dtype));
    c.spec = p;
  } else if (k == "vector_array") {
    VectorArraySpec v;
    v.lanes = positive(f.required("lanes"), "lanes");
    if (auto t = f.optional("dtype")) v.dtype = dtype_of(*t);
    if (auto r = f.optional("regfile_entries")) v.regfile_entries = positive(*r, "regfile_entries");
    v.ops = read_ops(table, f.required("ops"), v.dtype);
    if (auto a = f.optional("lane_area")) v.lane_area = evaluate_cost(table, *a, dtype_name(v.dtype));
    c.spec = v;
  } else if (k == "pim") {
    c.spec = read_pim(f, node, table);
  } else if (k == "noc") {
    NocSpec n;
    if (auto m = f.optional("multicast")) n.multicast = m->as_bool();
    if (auto r = f.optional("reduction")) n.reduction = r->as_bool();
    c.spec = n;
  } else {
    kind.fail(fmt::format("unknown component kind '{}' (known: dram, sram, pe_array, vector_array, noc, pim)", k));
  }
  f.finish();
  return c;
}

}  // namespace

std::string_view dataflow_name(Dataflow d) { return d == Dataflow::ws ? "ws" : d == Dataflow::os ? "os" : "is"; }

std::string_view ComponentSpec::kind() const {
  static constexpr std::string_view names[] = {"dram", "sram", "pe_array", "vector_array", "noc", "pim"};
  return names[spec.index()];
}

const std::map<std::string, OpSpec>* ComponentSpec::ops() const {
  if (auto* p = std::get_if<PeArraySpec>(&spec)) return &p->ops;
  if (auto* v = std::get_if<VectorArraySpec>(&spec)) return &v->ops;
  if (auto* p = std::get_if<PimSpec>(&spec)) return &p->ops;
  return nullptr;
}

int64_t ComponentSpec::parallelism() const {
  if (auto* p = std::get_if<PeArraySpec>(&spec)) return p->rows * p->cols;
  if (auto* v = std::get_if<VectorArraySpec>(&spec)) return v->lanes;
  if (auto* p = std::get_if<PimSpec>(&spec)) return p->units * p->lanes;
  return 0;
}

int64_t ComponentSpec::op_slots() const {
  if (auto* p = std::get_if<PeArraySpec>(&spec)) return p->rows * p->cols * p->ops_per_cycle;
  return parallelism();
}

double ComponentSpec::op_rate(double arch_clock_hz) const {
  const double slots = static_cast<double>(op_slots());
  if (auto* p = std::get_if<PimSpec>(&spec)) return slots * p->clock_hz / arch_clock_hz;
  return slots;
}

std::string_view pim_level_name(PimLevel l) { return l == PimLevel::bank ? "bank" : l == PimLevel::bankgroup ? "bankgroup" : "logic"; }

std::optional<double> ComponentSpec::area_um2() const {
  if (auto* p = std::get_if<PeArraySpec>(&spec); p && p->pe_area && p->pe_area->area_um2)
    return *p->pe_area->area_um2 * static_cast<double>(p->rows * p->cols);
  if (auto* v = std::get_if<VectorArraySpec>(&spec); v && v->lane_area && v->lane_area->area_um2)
    return *v->lane_area->area_um2 * static_cast<double>(v->lanes);
  if (auto* s = std::get_if<SramSpec>(&spec); s && s->area) return s->area->area_um2;
  if (auto* p = std::get_if<PimSpec>(&spec); p && p->lane_area && p->lane_area->area_um2)
    return *p->lane_area->area_um2 * static_cast<double>(p->units * p->lanes);
  return std::nullopt;
}

const ComponentSpec* ArchSpec::find(const std::string& component) const {
  for (const ComponentSpec& c : components)
    if (c.name == component) return &c;
  return nullptr;
}

const ComponentSpec& ArchSpec::path(const std::string& from, const std::string& to) const {
  const ComponentSpec* a = find(from);
  const ComponentSpec* b = find(to);
  if (!a || !b) throw InternalError(fmt::format("no path between '{}' and '{}'", from, to));
  if (std::holds_alternative<PimSpec>(b->spec)) return *b;
  if (std::holds_alternative<PimSpec>(a->spec)) return *a;
  return std::holds_alternative<DramSpec>(a->spec) ? *a : *b;
}

double ComponentSpec::path_Bps() const {
  if (auto* p = std::get_if<PimSpec>(&spec)) return p->bandwidth_Bps;
  if (auto* d = std::get_if<DramSpec>(&spec)) return d->bandwidth_Bps;
  return 0;
}

ArchSpec load_arch(const std::string& file, const std::vector<std::pair<std::string, std::string>>& sets) {
  const YNode root = YNode::load_file(file);
  for (const auto& [path, value] : sets) {
    std::vector<std::string> keys = split_path(path);
    const YAML::Node& components = root.raw()["components"];
    if (keys.size() > 1 && components && components.IsMap() && components[keys[0]]) keys.insert(keys.begin(), "components");
    set_path(root, keys, value, "--set arch." + path);
  }
  MapReader top(root);
  ArchSpec a;
  a.file = file;
  read_version(top);
  const YNode name = top.required("name");
  const auto description = top.optional("description");
  const YNode clock = top.required("clock");
  const YNode table = top.required("energy_table");
  const YNode components = top.required("components");
  top.finish();
  a.name = name.as_string();
  if (description) a.description = description->as_string();
  a.clock_hz = parse_frequency(clock);
  if (a.clock_hz <= 0) clock.fail("the clock must be positive");
  // The table path is relative to the arch file, so configs move together.
  const std::filesystem::path table_path = std::filesystem::path(file).parent_path() / table.as_string();
  try {
    a.table = load_energy_table(table_path.string());
  } catch (const UserError& e) {
    if (!std::filesystem::exists(table_path)) table.fail(fmt::format("energy table {} not found", table_path.string()));
    throw;
  }
  MapReader comps(components);
  for (const auto& [cname, value] : comps.entries()) a.components.push_back(read_component(cname, value, a.table));
  if (a.components.empty()) components.fail("an architecture needs at least one component");
  for (const ComponentSpec& c : a.components)
    if (auto* p = std::get_if<PimSpec>(&c.spec); p && (!a.find(p->memory) || a.find(p->memory)->kind() != "dram"))
      throw UserError(p->memory_loc, "components." + c.name + ".memory", fmt::format("{} has no dram named '{}'", file, p->memory));
  return a;
}

}  // namespace einsim
