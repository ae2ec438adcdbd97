#include <gtest/gtest.h>

#include "arch/kinds/dram/dram.hpp"
#include "arch/kinds/sram/sram.hpp"
#include "arch/kinds/pe_array/pe_array.hpp"
#include "arch/kinds/vector_array/vector_array.hpp"
#include "arch/spec.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

TEST(Arch, FuseMaxConfigAsInThePaper) {
  const ArchSpec a = load_arch("configs/arch/fusemax.yaml");
  EXPECT_EQ(a.clock_hz, 940e6);
  const auto& dram = a.find("dram")->as<DramComponent>();
  EXPECT_EQ(dram.bandwidth, 400.0 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(dram.read.energy_pJ, 249.6);
  const auto& glb = a.find("glb")->as<SramComponent>();
  EXPECT_EQ(glb.size_bytes, 16.0 * 1024 * 1024);
  EXPECT_EQ(glb.banks, 32);
  EXPECT_EQ(glb.row_bits, 4096);
  EXPECT_EQ(glb.read.energy_pJ, 12512.7);  // CACTI 7: a 4096-bit row of a 16 MiB SRAM
  const ComponentSpec& pe2d = *a.find("pe2d");
  EXPECT_EQ(pe2d.parallelism(), 256 * 256);
  const auto& ops = *pe2d.ops();
  EXPECT_EQ(ops.at("exp").latency_cycles, 7);
  EXPECT_DOUBLE_EQ(ops.at("exp").cost.energy_pJ, 6 * 17.16 + 8.34);  // 6 MACs + an add
  EXPECT_EQ(a.find("pe1d")->parallelism(), 256);
  EXPECT_EQ(a.find("pe1d")->as<VectorArrayComponent>().regfile.entries, 32);
  // The artifact's register-file figures, per access of one entry.
  EXPECT_DOUBLE_EQ(pe2d.compute()->regfile_read_pJ(), 0.653);
  EXPECT_DOUBLE_EQ(a.find("pe1d")->compute()->regfile_write_pJ(), 0.57);
  // Area: (MAC 3,000 + max 67 um2) per PE.
  EXPECT_DOUBLE_EQ(*pe2d.area_um2(), 256.0 * 256 * 3067);
  EXPECT_FALSE(a.find("glb")->area_um2().has_value());  // no public SRAM area figure in the table
}

TEST(Arch, FlatAndUnfusedHaveTheLargerBufferAndMacOnlyPes) {
  for (const std::string f : {"configs/arch/flat.yaml", "configs/arch/unfused.yaml"}) {
    const ArchSpec a = load_arch(f);
    EXPECT_EQ(a.find("glb")->as<SramComponent>().size_bytes, 32.0 * 1024 * 1024) << f;
    EXPECT_EQ(a.find("pe2d")->ops()->size(), 1u) << f;
    EXPECT_EQ(a.find("pe2d")->as<PeArrayComponent>().regfile.entries, 4) << f;
  }
  const ArchSpec edge = load_arch("configs/arch/flat-edge.yaml");
  EXPECT_EQ(edge.find("pe2d")->parallelism(), 32 * 32);
  EXPECT_EQ(edge.find("glb")->as<SramComponent>().size_bytes, 512.0 * 1024);
  EXPECT_EQ(edge.find("dram")->as<DramComponent>().bandwidth, 50.0 * 1024 * 1024 * 1024);
}

TEST(Arch, SetOverridesAnyField) {
  const ArchSpec a =
      load_arch("configs/arch/systolic.yaml",
                {{"array.rows", "128"}, {"array.dataflow", "os"}, {"glb.size", "4 MiB"}, {"clock", "2 GHz"}});
  const auto& array = a.find("array")->as<PeArrayComponent>();
  EXPECT_EQ(array.rows, 128);
  EXPECT_EQ(array.cols, 32);
  EXPECT_EQ(array.dataflow, Dataflow::os);
  EXPECT_EQ(a.find("glb")->as<SramComponent>().size_bytes, 4.0 * 1024 * 1024);
  EXPECT_EQ(a.clock_hz, 2e9);
  EXPECT_THROW(load_arch("configs/arch/systolic.yaml", {{"array.rowz", "128"}}), UserError);  // unknown key
  EXPECT_THROW(load_arch("configs/arch/systolic.yaml", {{"nothing.rows", "1"}}), UserError);
}

// Overrides go through the kinds' parameter tables, on a copy of the architecture: inside a parameter's map too,
// and a component is rebuilt once after all of its overrides, so their order does not matter.
TEST(Arch, OverridesAreTypedEditsOfACopy) {
  const ArchSpec base = load_arch("configs/arch/fusemax.yaml");
  const ArchSpec a =
      override_arch(base, {{"dram.preset", "hbm3-5.2"}, {"dram.model", "bank"}, {"pe2d.ops.exp.latency_cycles", "3"}});
  EXPECT_EQ(a.find("dram")->as<DramComponent>().bank->name, "hbm3-5.2");
  EXPECT_EQ(a.find("pe2d")->ops()->at("exp").latency_cycles, 3);
  EXPECT_EQ(a.find("pe2d")->ops()->at("exp").cost.energy_pJ, base.find("pe2d")->ops()->at("exp").cost.energy_pJ);
  EXPECT_FALSE(base.find("dram")->as<DramComponent>().bank.has_value());  // the base is untouched
  EXPECT_EQ(base.find("pe2d")->ops()->at("exp").latency_cycles, 7);
  auto error = [&](const std::string& path, const std::string& value) {
    try {
      override_arch(base, {{path, value}});
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(
      error("glb.bank", "2"),
      "einsim: error: --set arch.glb.bank: unknown key (expected one of: size, banks, row_bits, ports, read_energy, "
      "write_energy, area)");
  EXPECT_EQ(error("glb.kind", "dram"), "einsim: error: --set arch.glb.kind: a component's kind cannot be overridden");
  EXPECT_NE(error("pe2d.rows", "0").find("components.pe2d.rows: rows must be between 1 and 2^40, got 0"),
            std::string::npos);
  EXPECT_EQ(error("clock", "0 GHz").find("the clock must be positive") != std::string::npos, true);
}

TEST(Arch, MisspeltKeysAreNamed) {
  const std::string table = std::filesystem::absolute("configs/energy/accelergy-45nm.yaml").string();
  const std::string f = test::temp_file(
      "arch.yaml", "version: 1\nname: a\nclock: 1 GHz\nenergy_table: " + table +
                       "\ncomponents:\n  x: {kind: vector_array, lane: 4, ops: {add: {energy: fp16_add}}}\n");
  try {
    load_arch(f);
    FAIL() << "loaded";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()), f + ":6:27: error: components.x.lane: unknown key (did you mean 'lanes'?)");
  }
}

}  // namespace
}  // namespace einsim
