#include "arch/kinds/dram/dram.hpp"

#include <fmt/format.h>

#include <cmath>

#include "arch/kinds/readers.hpp"
#include "arch/transfers.hpp"

namespace einsim {

void DramComponent::describe(nlohmann::ordered_json& fields, std::string& summary) const {
  fields["bandwidth_Bps"] = bandwidth;
  fields["latency_cycles"] = latency;
  summary = fmt::format("{:g} GiB/s, {} cycles", bandwidth / (1024.0 * 1024 * 1024), latency);
  if (capacity > 0) {
    fields["capacity_bytes"] = capacity;
    summary += fmt::format(", {:g} GB", capacity / 1e9);
  }
}

void DramComponent::charge_run(const RunTraffic& traffic, ActionEnergy& energy) const {
  if (bank) {  // refresh runs whoever reads: a REF of each rank of each controller every nREFI over the run
    const dram::DramPreset& p = *bank;
    if (p.controller.refresh) {
      const double refreshes =
          std::floor(traffic.seconds / (static_cast<double>(p.timing.nREFI) * p.timing.tCK_ps * 1e-12));
      energy["refresh"] = refreshes * static_cast<double>(p.org.ranks * p.org.controllers() * traffic.devices) *
                          p.energy.refresh.energy_pJ;
    }
    return;
  }
  energy["read"] = static_cast<double>(traffic.external_read) * 8 / static_cast<double>(access_bits) * read.energy_pJ;
  energy["write"] =
      static_cast<double>(traffic.external_written) * 8 / static_cast<double>(access_bits) * write.energy_pJ;
}

std::optional<int64_t> DramComponent::timed_cycles(int64_t bytes, bool is_write, BankTransfers& memo,
                                                   double arch_clock_hz) const {
  if (!bank) return std::nullopt;
  const double engine_cycles_per_ps = arch_clock_hz * 1e-12;
  return static_cast<int64_t>(std::ceil(static_cast<double>(memo.dram(*bank, bytes, is_write).cycles) *
                                        bank->timing.tCK_ps * engine_cycles_per_ps));
}

void DramComponent::charge_transfers(int64_t bytes, int64_t count, bool is_write, BankTransfers& memo,
                                     ActionEnergy& energy) const {
  if (!bank) return;  // charged per access at the end of the run
  const double times = static_cast<double>(count);
  const dram::EnergyBreakdown& e = memo.dram(*bank, bytes, is_write).energy;
  energy["activate"] += times * e.activate_pJ;
  energy[is_write ? "write" : "read"] += times * (e.read_array_pJ + e.read_movement_pJ + e.read_io_pJ +
                                                  e.write_array_pJ + e.write_movement_pJ + e.write_io_pJ);
}

namespace {

std::shared_ptr<const Component> build(const ParamValues& p, const BuildContext& context) {
  auto d = std::make_shared<DramComponent>();
  d->bandwidth = p.real("bandwidth");
  if (d->bandwidth <= 0) p.component().fail("bandwidth must be positive");
  d->latency = p.count("latency_cycles");
  d->engines = p.count("dma_engines");
  // Each engine is a thread of the cycle engine, with its own stack; a DMA controller has a handful.
  if (d->engines > 1024)
    p.node("dma_engines").fail(fmt::format("dma_engines must be at most 1,024, got {}", d->engines));
  d->ready_first = p.text("dma_order") == "ready_first";
  d->access_bits = p.count("access_bits");
  d->read = access_cost(context.table, p.node("read_energy"), d->access_bits, "access_bits");
  d->write = access_cost(context.table, p.node("write_energy"), d->access_bits, "access_bits");
  const auto preset = p.node_if("preset");
  if (p.text("model") == "bank" && !preset)
    p.node("model").fail("model: bank needs a preset (configs/dram/NAME.yaml, or a file)");
  if (p.text("model") != "bank" && preset) preset->fail("a preset is for model: bank");
  if (preset) d->bank = dram_preset(*preset);
  if (p.has("capacity")) d->capacity = p.real("capacity");
  return d;
}

}  // namespace

ComponentKind dram_kind() {
  return {"dram",
          "a memory's interface: holds the tensors and carries tiles to and from the buffer",
          {
              {"bandwidth", ParamType::bandwidth, true, "", "peak bandwidth of its interface"},
              {"latency_cycles", ParamType::count, true, "", "cycles from a transfer's start to its first data"},
              {"dma_engines", ParamType::count, false, "1", "DMA engines moving tiles at once, sharing the bandwidth"},
              {"dma_order",
               ParamType::choice,
               false,
               "ready_first",
               "which request a free DMA engine takes: the oldest, or the oldest whose tile may move now",
               {"in_order", "ready_first"}},
              {"access_bits", ParamType::count, true, "",
               "bits one access moves (the unit of read_energy and write_energy)"},
              {"read_energy", ParamType::cost, true, "", "energy of one access read"},
              {"write_energy", ParamType::cost, true, "", "energy of one access written"},
              {"model",
               ParamType::choice,
               false,
               "bandwidth",
               "timing: bandwidth and latency, or per command by the bank-level model",
               {"bandwidth", "bank"}},
              {"preset", ParamType::preset, false, "", "model: bank's device: a name in configs/dram/, or a file"},
              {"capacity", ParamType::bytes, false, "",
               "what it holds, on each device: a design point whose tensors need more is refused (default: not "
               "checked)"},
          },
          R"({kind: dram, bandwidth: 100 GB/s, latency_cycles: 100, access_bits: 512, read_energy: "40", )"
          R"(write_energy: "40"})",
          &build};
}

}  // namespace einsim
