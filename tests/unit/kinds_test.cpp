// Every registered component kind builds from its own minimal example and does what each role it claims says.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "arch/spec.hpp"
#include "arch/transfers.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

std::string head() {
  return "version: 1\nname: kinds\nclock: 1 GHz\nenergy_table: " +
         std::filesystem::absolute("configs/energy/accelergy-45nm.yaml").string() + "\ncomponents:\n";
}

// An architecture with a dram and an sram (what a PIM's memory and a mapping need) and the kind's example.
ArchSpec with_example(const ComponentKind& kind) {
  const ComponentKind& dram = *find_kind("dram");
  const ComponentKind& sram = *find_kind("sram");
  std::string yaml = head();
  yaml += "  dram: " + dram.example + "\n  glb: " + sram.example + "\n";
  if (kind.name != "dram" && kind.name != "sram") yaml += "  unit: " + kind.example + "\n";
  return load_arch(test::temp_file("kinds-arch.yaml", yaml));
}

TEST(Kinds, EveryKindBuildsFromItsExampleAndPlaysTheRolesItClaims) {
  // dram, interconnect, noc, pe_array, pim, sram, topk_engine, vector_array
  ASSERT_EQ(component_kinds().size(), 8u);
  for (const auto& [name, kind] : component_kinds()) {
    SCOPED_TRACE(name);
    const ArchSpec a = with_example(kind);
    const ComponentSpec& c = name == "dram" ? *a.find("dram") : name == "sram" ? *a.find("glb") : *a.find("unit");
    EXPECT_EQ(c.kind(), name);
    nlohmann::ordered_json fields;
    std::string summary;
    c.model->describe(fields, summary);
    EXPECT_FALSE(fields.empty());
    EXPECT_FALSE(summary.empty());
    EXPECT_TRUE(c.compute() || c.memory() || c.path() || c.cores() || c.devices())
        << "a kind with no role does nothing";
    for (const ParamDef& p : kind.params) EXPECT_FALSE(p.description.empty()) << p.name;
    if (const ComputeRole* compute = c.compute()) {
      EXPECT_FALSE(compute->ops().empty());
      EXPECT_GT(compute->parallelism(), 0);
      EXPECT_GE(compute->op_slots(), compute->parallelism());
      EXPECT_GT(compute->op_rate(a.clock_hz), 0);
      // A tile of 4,096 points of one op each, spread over the first dimension it has, if any.
      TileWork work{4096, 1, {}, {}};
      for (const char* dim : {"rows", "lanes"})
        if (compute->maps_spatially() && compute->dimension(dim)) work.spread[dim] = *compute->dimension(dim);
      const TileTiming t = compute->tile_timing(work, a.clock_hz);
      EXPECT_GT(t.cycles, 0);
      // No unit does more than its op rate allows.
      EXPECT_GE(static_cast<double>(t.cycles) * compute->op_rate(a.clock_hz), 4096.0 * (1 - 1e-12));
    }
    if (const CoresRole* cores = c.cores()) {
      EXPECT_GT(cores->count(), 0);
      EXPECT_GT(cores->port_Bps(), 0);
      EXPECT_GE(cores->port_latency_cycles(), 0);
      for (const std::string& each : cores->per_core()) EXPECT_EQ(a.copies(each), cores->count()) << each;
      EXPECT_EQ(a.copies("dram"), 1);
    }
    if (const DevicesRole* devices = c.devices()) {
      EXPECT_GT(devices->count(), 0);
      EXPECT_GT(devices->link_Bps(), 0);
      EXPECT_GE(devices->link_latency_s(), 0);
      EXPECT_EQ(a.devices(), devices);
    }
    if (const MemoryRole* memory = c.memory()) {
      EXPECT_GT(memory->capacity_bytes(), 0);
      EXPECT_GE(memory->ports(), 1);
      EXPECT_GT(memory->bytes_per_port_cycle(), 0);
    }
    if (const PathRole* path = c.path()) {
      EXPECT_GT(path->bandwidth_Bps(), 0);
      EXPECT_GE(path->latency_cycles(a.clock_hz), 0);
      EXPECT_GE(path->dma_engines(a), 1);
      // It carries a transfer between the DRAM and a buffer, or between its own memory and itself.
      const std::string to = path->inside().empty() ? "glb" : c.name;
      EXPECT_EQ(&a.path("dram", to), &c);
      EXPECT_EQ(&a.path(to, "dram"), &c);
      BankTransfers memo;
      ActionEnergy energy;
      path->charge_transfers(4096, 3, false, memo, energy);
      path->charge_transfers(4096, 3, true, memo, energy);
      for (const auto& [action, pj] : energy) EXPECT_GE(pj, 0) << action;
    }
  }
}

TEST(Kinds, UnknownKindsAndKeysAreRefusedWithTheKnownOnes) {
  try {
    load_arch(test::temp_file("kinds-nic.yaml", head() + "  nic: {kind: nic}\n"));
    ADD_FAILURE() << "a kind nothing implements was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "unknown component kind 'nic' (known: dram, interconnect, noc, pe_array, pim, sram, topk_engine, "
                  "vector_array)"),
              std::string::npos)
        << e.what();
  }
  try {
    load_arch(test::temp_file("kinds-key.yaml",
                              head() + "  glb: {kind: sram, size: 1 MiB, banks: 4, row_bits: 512, read_energy: '1', "
                                       "write_energy: '1', port: 2}\n"));
    ADD_FAILURE() << "an unknown key was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("components.glb.port: unknown key (expected one of: kind, size, banks, "
                                         "row_bits, ports, read_energy, write_energy, area)"),
              std::string::npos)
        << e.what();
  }
}

TEST(Kinds, DefaultsComeFromTheParameterTable) {
  const ArchSpec a = with_example(*find_kind("pim"));
  EXPECT_EQ(a.find("dram")->path()->dma_engines(a), 1);  // dma_engines: 1
  EXPECT_EQ(a.find("glb")->memory()->ports(), 1);        // ports: 1
  EXPECT_EQ(a.find("unit")->parallelism(), 4 * 16);      // stacks: 1
}

// docs/model.md's reference of the kinds is `einsim arch --kinds`, verbatim, between its markers.
TEST(Kinds, TheDocsKeyReferenceIsTheRegistrysOwn) {
  std::ifstream in("docs/model.md");
  std::stringstream doc;
  doc << in.rdbuf();
  const std::string text = doc.str();
  const std::string begin = "<!-- einsim arch --kinds: begin -->\n", end = "<!-- einsim arch --kinds: end -->";
  const size_t from = text.find(begin), to = text.find(end);
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  const std::string documented = text.substr(from + begin.size(), to - from - begin.size());
  for (const auto& [name, kind] : component_kinds()) {
    EXPECT_NE(documented.find("#### `" + name + "`: " + kind.description), std::string::npos) << name;
    for (const ParamDef& p : kind.params)
      EXPECT_NE(documented.find("| `" + p.name + "` |"), std::string::npos) << name << "." << p.name;
  }
}

}  // namespace
}  // namespace einsim
