#include "arch/kinds/pim/pim.hpp"

#include <fmt/format.h>

#include <cmath>

#include "arch/kinds/readers.hpp"
#include "arch/spec.hpp"
#include "arch/transfers.hpp"
#include "common/units.hpp"

namespace einsim {

namespace {

std::string_view level_name(PimComponent::Level l) {
  return l == PimComponent::Level::bank ? "bank" : l == PimComponent::Level::bankgroup ? "bankgroup" : "logic";
}

}  // namespace

std::optional<double> PimComponent::area_um2() const {
  if (lane_area && lane_area->area_um2) return *lane_area->area_um2 * static_cast<double>(units * lanes);
  return std::nullopt;
}

void PimComponent::describe(nlohmann::ordered_json& fields, std::string& summary) const {
  fields["level"] = level_name(level);
  fields["memory"] = memory_name;
  fields["stacks"] = stacks;
  fields["units"] = units;
  fields["lanes"] = lanes;
  fields["dtype"] = dtype_name(dtype);
  fields["clock_hz"] = clock_hz;
  fields["bandwidth_Bps"] = bandwidth;
  fields["buffer_bytes"] = buffer_bytes;
  summary =
      fmt::format("{}-level beside {}: {} units x {} lanes, {}, {:g} MHz; {:g} GiB/s from the banks, {} of buffers",
                  level_name(level), memory_name, units, lanes, dtype_name(dtype), clock_hz / 1e6,
                  bandwidth / (1024.0 * 1024 * 1024), format_bytes(buffer_bytes));
}

void PimComponent::check(const ArchSpec& arch, const std::string& self) const {
  const ComponentSpec* m = arch.find(memory_name);
  if (!m || !m->path() || !m->path()->holds_tensors())
    throw UserError(memory_loc, "components." + self + ".memory",
                    fmt::format("{} has no dram named '{}'", arch.file, memory_name));
}

TileTiming PimComponent::tile_timing(const TileWork& work, double arch_clock_hz) const {
  // The tile's points over all lanes, in the PIM's clock, converted to the architecture's.
  const int64_t pim_cycles = ceil_div(work.points * work.cycles_per_point, op_slots());
  return {static_cast<int64_t>(std::ceil(static_cast<double>(pim_cycles) * arch_clock_hz / clock_hz)), 0};
}

int64_t PimComponent::latency_cycles(double arch_clock_hz) const {
  return static_cast<int64_t>(std::ceil(latency_s * arch_clock_hz));
}

int64_t PimComponent::dma_engines(const ArchSpec& arch) const {
  return arch.find(memory_name)->path()->dma_engines(arch);
}

bool PimComponent::dma_ready_first(const ArchSpec& arch) const {
  return arch.find(memory_name)->path()->dma_ready_first(arch);
}

std::optional<int64_t> PimComponent::timed_cycles(int64_t bytes, bool write, BankTransfers& memo,
                                                  double arch_clock_hz) const {
  // Loads take as long as every unit streaming its share of the tile from its own banks under the device's
  // rules (dram::pim_stream); stores move at the path's bandwidth.
  if (!device || write) return std::nullopt;
  const double engine_cycles_per_ps = arch_clock_hz * 1e-12;
  return static_cast<int64_t>(
      std::ceil(static_cast<double>(memo.pim(*this, bytes).cycles) * device->timing.tCK_ps * engine_cycles_per_ps));
}

void PimComponent::charge_transfers(int64_t bytes, int64_t count, bool write, BankTransfers& memo,
                                    ActionEnergy& energy) const {
  // The units read (or write) the banks directly: for loads on a device, the rows the all-bank commands open and
  // each access read into a unit.
  const double times = static_cast<double>(count);
  if (!write && device) {
    const dram::PimStream& r = memo.pim(*this, bytes);
    energy["bank_activate"] += times * static_cast<double>(r.activates) * device->energy.activate.energy_pJ;
    energy["bank_read"] +=
        times * static_cast<double>(r.column_reads * device->org.access_bytes() * 8) * access.energy_pJ;
  } else {
    energy[write ? "bank_write" : "bank_read"] += static_cast<double>(bytes * count) * 8 * access.energy_pJ;
  }
}

namespace {

std::shared_ptr<const Component> build(const ParamValues& p, const BuildContext& context) {
  auto c = std::make_shared<PimComponent>();
  const std::string& l = p.text("level");
  c->level = l == "bank"        ? PimComponent::Level::bank
             : l == "bankgroup" ? PimComponent::Level::bankgroup
                                : PimComponent::Level::logic;
  c->memory_name = p.text("memory");
  c->memory_loc = p.node("memory").loc();
  c->stacks = p.count("stacks");
  c->lanes = p.count("lanes");
  c->dtype = dtype_param(p, "dtype");
  c->clock_hz = p.real("clock");
  if (c->clock_hz <= 0) p.node("clock").fail("the clock must be positive");
  c->buffer_bytes = p.real("buffer") * static_cast<double>(c->stacks);
  c->access = evaluate_cost(context.table, p.node("access_energy"));
  if (c->access.bits)
    p.node("access_energy").fail("access_energy is per bit: name a per-bit figure, not an access of several bits");
  const auto units = p.node_if("units");
  const auto bandwidth = p.node_if("bandwidth");
  const auto device = p.node_if("device");
  const auto per_unit = p.node_if("banks_per_unit");
  const auto latency = p.node_if("latency");
  const YNode& node = p.component();
  if (c->level == PimComponent::Level::logic) {
    // The logic die's units and its TSVs to the banks are the design's own figures, per stack.
    if (!units) node.fail("a logic-die PIM needs units (per stack)");
    if (!bandwidth) node.fail("a logic-die PIM needs bandwidth (per stack, banks to the logic die)");
    if (device) device->fail("device is for bank and bankgroup PIM, which the DRAM's timing rules pace");
    if (per_unit) per_unit->fail("banks_per_unit is for bank-level PIM");
    c->units = p.count("units") * c->stacks;
    if (!latency) node.fail("a logic-die PIM needs latency (from a transfer's start to its first data)");
    c->latency_s = p.real("latency");
    if (c->latency_s <= 0) latency->fail("latency must be positive");
    c->bandwidth = p.real("bandwidth") * static_cast<double>(c->stacks);
    if (c->bandwidth <= 0) bandwidth->fail("bandwidth must be positive");
  } else {
    // Bank and bank-group units come with the device's organization, and its timing rules set their bandwidth.
    if (!device)
      node.fail(fmt::format("a {}-level PIM needs device: the DRAM preset of its stacks (configs/dram/NAME)", l));
    if (units)
      units->fail(
          "a bank or bankgroup PIM has a unit per bank (or banks_per_unit banks) or per bank group: the device sets "
          "their number");
    if (bandwidth) bandwidth->fail("a bank or bankgroup PIM's bandwidth follows from its device's timing rules");
    if (latency) latency->fail("a bank or bankgroup PIM's latency follows from its device's timing (nRCD + nCL)");
    c->device = dram_preset(*device);
    const dram::DramOrg& o = c->device->org;
    if (per_unit) {
      if (c->level != PimComponent::Level::bank) per_unit->fail("banks_per_unit is for bank-level PIM");
      c->banks_per_unit = p.count("banks_per_unit");
      if (o.banks_per_controller() % c->banks_per_unit != 0)
        per_unit->fail(fmt::format("{} banks per pseudo-channel do not split into units of {}",
                                   o.banks_per_controller(), c->banks_per_unit));
    }
    c->units = o.controllers() * dram::pim_units_per_controller(o, c->dram_level(), c->banks_per_unit) * c->stacks;
    c->bandwidth =
        dram::pim_internal_Bps(*c->device, c->dram_level(), c->banks_per_unit) * static_cast<double>(c->stacks);
    // A row's first data reaches the units nRCD + nCL after its activation.
    const dram::DramTiming& t = c->device->timing;
    c->latency_s = static_cast<double>(t.nRCDRD + t.nCL) * t.tCK_ps * 1e-12;
  }
  c->op_table = read_ops(context.table, p.node("ops"), c->dtype);
  c->lane_area = area_param(p, "lane_area", context.table, c->dtype);
  return c;
}

}  // namespace

ComponentKind pim_kind() {
  return {"pim",
          "compute beside a DRAM's banks (bank, bankgroup) or on its logic die, fed from the banks",
          {
              {"level", ParamType::choice, true, "", "where the units sit", {"bank", "bankgroup", "logic"}},
              {"memory", ParamType::text, true, "", "the dram component whose banks hold its operands"},
              {"stacks", ParamType::count, false, "1", "devices it spans (a preset describes one)"},
              {"lanes", ParamType::count, true, "", "MAC lanes per unit"},
              {"dtype", ParamType::dtype, false, "fp16", "the lanes' datatype ({dtype} in its costs)"},
              {"clock", ParamType::frequency, true, "", "its own clock"},
              {"buffer", ParamType::bytes, true, "", "the units' buffers, per stack"},
              {"access_energy", ParamType::cost, true, "", "energy per bit brought from the banks to a unit"},
              {"units", ParamType::count, false, "", "logic level: units per stack (bank levels: from the device)"},
              {"bandwidth", ParamType::bandwidth, false, "", "logic level: banks to the logic die, per stack"},
              {"device", ParamType::preset, false, "", "bank levels: the DRAM preset of its stacks"},
              {"banks_per_unit", ParamType::count, false, "", "bank level: banks sharing one unit (default 1)"},
              {"latency", ParamType::duration, false, "", "logic level: from a transfer's start to its first data"},
              {"ops", ParamType::ops, true, "",
               "the op kinds it computes: {kind: {latency_cycles, interval_cycles, function_unit, reduce, energy}}"},
              {"lane_area", ParamType::cost, false, "", "area of one lane"},
          },
          R"({kind: pim, level: logic, memory: dram, units: 4, lanes: 16, clock: 500 MHz, bandwidth: 200 GB/s, )"
          R"(latency: 50 ns, buffer: 256 KiB, access_energy: "0.5", ops: {mac: {energy: "1"}}})",
          &build};
}

}  // namespace einsim
