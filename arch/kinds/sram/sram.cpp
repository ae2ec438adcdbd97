#include "arch/kinds/sram/sram.hpp"

#include <fmt/format.h>

#include "arch/kinds/readers.hpp"
#include "common/units.hpp"

namespace einsim {

void SramComponent::describe(nlohmann::ordered_json& fields, std::string& summary) const {
  fields["size_bytes"] = size_bytes;
  fields["banks"] = banks;
  fields["row_bits"] = row_bits;
  summary = fmt::format("{}, {} banks x {}-bit rows", format_bytes(size_bytes), banks, row_bits);
}

void SramComponent::charge_run(const RunTraffic& traffic, ActionEnergy& energy) const {
  const double rows_read = static_cast<double>(traffic.read) * 8 / static_cast<double>(row_bits);
  const double rows_written = static_cast<double>(traffic.written) * 8 / static_cast<double>(row_bits);
  energy["read"] = rows_read * read.energy_pJ;
  energy["write"] = rows_written * write.energy_pJ;
}

namespace {

std::shared_ptr<const Component> build(const ParamValues& p, const BuildContext& context) {
  auto s = std::make_shared<SramComponent>();
  s->size_bytes = p.real("size");
  s->banks = p.count("banks");
  s->row_bits = p.count("row_bits");
  if (s->row_bits % 8 != 0) p.node("row_bits").fail("row_bits must be a whole number of bytes");
  s->port_count = p.count("ports");
  if (s->size_bytes < static_cast<double>(s->row_bits / 8 * s->banks))
    p.node("size").fail(fmt::format("{} is smaller than one row in each of its {} banks ({} bytes)",
                                    format_bytes(s->size_bytes), s->banks, s->row_bits / 8 * s->banks));
  s->read = access_cost(context.table, p.node("read_energy"), s->row_bits, "row_bits");
  s->write = access_cost(context.table, p.node("write_energy"), s->row_bits, "row_bits");
  if (const auto a = p.node_if("area")) s->area = evaluate_cost(context.table, *a);
  return s;
}

}  // namespace

ComponentKind sram_kind() {
  return {"sram",
          "a buffer that stages tiles: banks of rows behind a number of ports",
          {
              {"size", ParamType::bytes, true, "", "capacity"},
              {"banks", ParamType::count, true, "", "banks, each reading or writing one row per cycle"},
              {"row_bits", ParamType::count, true, "", "bits of one row (the unit of read_energy and write_energy)"},
              {"ports", ParamType::count, false, "1", "accessors at a time (units and DMA engines)"},
              {"read_energy", ParamType::cost, true, "", "energy of one row read"},
              {"write_energy", ParamType::cost, true, "", "energy of one row written"},
              {"area", ParamType::cost, false, "", "area of the whole buffer"},
          },
          R"({kind: sram, size: 1 MiB, banks: 4, row_bits: 512, read_energy: "5", write_energy: "6"})",
          &build};
}

}  // namespace einsim
