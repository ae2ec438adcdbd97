// The Stats schema: JSON both ways, result columns, repeats and parts all follow one field list.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "sim/stats.hpp"

namespace einsim {
namespace {

// Every field set to something distinct from its default.
Stats full(int64_t cycles, double scale = 1) {
  Stats s;
  s.fidelity = Fidelity::cycle;
  s.cycles = cycles;
  s.latency_s = 1e-9 * static_cast<double>(cycles);
  s.energy_pJ = 100 * scale;
  s.area_mm2 = 2 * scale;
  s.bound = "memory";
  s.footprint_bytes = 3 * cycles;
  s.utilization = {{"pe2d", 0.5 * scale}};
  s.busy_cycles = {{"pe2d", cycles / 2}};
  s.traffic_bytes = {{"dram", Traffic{64, 32}}, {"glb", Traffic{128, 16}}};
  s.einsums = {{"QK", EinsumStats{"pe2d", cycles / 2, 0.25, {{"mac", 1000}}}}};
  s.groups = {{"attention", GroupStats{cycles, 4, 2}}};
  s.placements = {{"attention", PlacementStats{"pim", 4, {{"pim", {8, 2e-6}}, {"tensor+cuda", {295, 5e-6}}}}}};
  s.energy_breakdown_pJ = {{"dram", 60 * scale}, {"glb", 40 * scale}};
  s.energy_by_action_pJ = {{"dram", {{"read", 50 * scale}, {"write", 10 * scale}}}, {"glb", {{"read", 40 * scale}}}};
  s.area_breakdown_mm2 = {{"glb", 1.5 * scale}, {"pe2d", 0.5 * scale}};
  s.roofline_compute_cycles = cycles / 4;
  s.roofline_memory_cycles = cycles / 3;
  s.stall_cycles = {{"pe2d", {{"data", 7}, {"dependency", 3}}}};
  s.gap_vs_analytical = 0.25;
  s.buffer_conflict_cycles = 11;
  return s;
}

TEST(StatsSchema, JsonRoundTripsEveryField) {
  const Stats s = full(1200);
  const nlohmann::ordered_json j = to_json(s);
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"fidelity",
                                            "status",
                                            "cycles",
                                            "latency_s",
                                            "energy_pJ",
                                            "area_mm2",
                                            "bound",
                                            "footprint_bytes",
                                            "utilization",
                                            "busy_cycles",
                                            "traffic_bytes",
                                            "einsums",
                                            "groups",
                                            "placements",
                                            "energy_breakdown_pJ",
                                            "energy_by_action_pJ",
                                            "area_breakdown_mm2",
                                            "roofline_cycles",
                                            "stall_cycles",
                                            "gap_vs_analytical",
                                            "buffer_conflict_cycles"}));
  EXPECT_EQ(j.at("roofline_cycles"), (nlohmann::ordered_json{{"compute", 300}, {"memory", 400}}));
  EXPECT_EQ(j.at("einsums").at("QK").dump(), R"({"unit":"pe2d","cycles":600,"utilization":0.25,"ops":{"mac":1000}})");
  EXPECT_EQ(to_json(stats_from_json(j)), j);
  Stats analytical;  // unset optionals are null and come back unset
  EXPECT_TRUE(to_json(analytical).at("gap_vs_analytical").is_null());
  EXPECT_FALSE(stats_from_json(to_json(analytical)).buffer_conflict_cycles.has_value());
}

TEST(StatsSchema, ColumnsNameEveryLeaf) {
  Row columns = flatten(full(1200));
  std::map<std::string, Cell> by_name(columns.begin(), columns.end());
  EXPECT_EQ(by_name.size(), columns.size());  // no name twice
  EXPECT_EQ(by_name.at("cycles"), Cell(int64_t{1200}));
  EXPECT_EQ(by_name.at("bound"), Cell(std::string("memory")));
  EXPECT_EQ(by_name.at("traffic_glb_write"), Cell(int64_t{16}));
  EXPECT_EQ(by_name.at("energy_dram_pJ"), Cell(60.0));
  EXPECT_EQ(by_name.at("energy_dram_write_pJ"), Cell(10.0));
  EXPECT_EQ(by_name.at("area_glb_mm2"), Cell(1.5));
  EXPECT_EQ(by_name.at("roofline_memory_cycles"), Cell(int64_t{400}));
  EXPECT_EQ(by_name.at("stall_pe2d_dependency"), Cell(int64_t{3}));
  EXPECT_EQ(by_name.at("einsum_QK_ops_mac"), Cell(int64_t{1000}));
  EXPECT_EQ(by_name.at("group_attention_cores"), Cell(int64_t{4}));
  EXPECT_EQ(by_name.at("group_attention_devices"), Cell(int64_t{2}));
  EXPECT_EQ(by_name.at("footprint_bytes"), Cell(int64_t{3600}));
  EXPECT_EQ(by_name.at("place_attention"), Cell(std::string("pim")));
  EXPECT_EQ(by_name.at("place_attention_tensor_cuda_roofline_s"), Cell(5e-6));
  EXPECT_EQ(by_name.at("gap_vs_analytical"), Cell(0.25));
  EXPECT_EQ(by_name.count("fidelity") + by_name.count("status") + by_name.count("reason"),
            0u);                           // the sweep's own columns
  EXPECT_EQ(flatten(Stats{}).size(), 10u);  // the scalars; an unset optional is an empty cell
  EXPECT_EQ(flatten(Stats{})[9], (std::pair<std::string, Cell>{"buffer_conflict_cycles", Cell{}}));
}

// What `einsim model` and `sim` print comes from the same field list: every result column but the placements
// (printed with their explanation) has its cell, in the table its map's keys make.
TEST(StatsSchema, PrintedCellsCoverEveryColumnButPlacements) {
  const Stats s = full(1200);
  const std::vector<PrintedCell> cells = printed_cells(s);
  size_t columns = 0;
  for (const auto& [name, value] : flatten(s)) columns += name.rfind("place_", 0) != 0;
  EXPECT_EQ(cells.size(), columns);  // an Einsum's ops: a PrintedCell per kind, joined in one printed cell
  auto find = [&](StatsTable t, const std::string& row, const std::string& column) -> const PrintedCell& {
    const auto it = std::find_if(cells.begin(), cells.end(), [&](const PrintedCell& c) {
      return c.table == t && c.row == row && c.column == column;
    });
    if (it == cells.end()) throw std::runtime_error("no cell " + row + " " + column);
    return *it;
  };
  EXPECT_EQ(find(StatsTable::headline, "", "cycles").value, Cell(int64_t{1200}));
  EXPECT_EQ(find(StatsTable::headline, "", "against the analytical model").show, Show::signed_percent);
  EXPECT_EQ(find(StatsTable::unit, "pe2d", "stalled on dependency").value, Cell(int64_t{3}));
  EXPECT_EQ(find(StatsTable::component, "glb", "written bytes").value, Cell(int64_t{16}));
  EXPECT_EQ(find(StatsTable::component, "dram", "write (pJ)").value, Cell(10.0));
  EXPECT_EQ(find(StatsTable::component, "pe2d", "area (mm2)").value, Cell(0.5));
  const PrintedCell& mac = find(StatsTable::einsum, "QK", "ops");
  EXPECT_EQ(mac.kind, "mac");
  EXPECT_EQ(mac.value, Cell(int64_t{1000}));
}

TEST(StatsSchema, RepeatsScaleCountsAndKeepRatios) {
  const Stats s = full(1200);
  const Stats r = repeated(s, 3);
  EXPECT_EQ(r.cycles, 3600);
  EXPECT_EQ(r.traffic_bytes.at("dram").read, 192);
  EXPECT_EQ(r.einsums.at("QK").cycles, 1800);
  EXPECT_EQ(r.einsums.at("QK").ops.at("mac"), 3000);
  EXPECT_EQ(r.einsums.at("QK").utilization, 0.25);
  EXPECT_EQ(r.groups.at("attention").cycles, 3600);  // a group's time runs three times, on as many cores
  EXPECT_EQ(r.groups.at("attention").cores, 4);
  EXPECT_EQ(r.energy_by_action_pJ.at("dram").at("read"), 150.0);
  EXPECT_EQ(r.stall_cycles.at("pe2d").at("data"), 21);
  EXPECT_EQ(*r.buffer_conflict_cycles, 33);
  EXPECT_EQ(r.utilization, s.utilization);
  EXPECT_EQ(r.area_mm2, s.area_mm2);
  EXPECT_EQ(r.area_breakdown_mm2, s.area_breakdown_mm2);
  EXPECT_EQ(r.gap_vs_analytical, s.gap_vs_analytical);
  EXPECT_EQ(to_json(r).at("placements"), to_json(s).at("placements"));
}

TEST(StatsSchema, PartsAddCountsWeighUtilizationAndKeepTheLargestArea) {
  Stats a = full(1200), b = full(3600, 2);
  b.bound = "compute (pe2d)";
  b.area_breakdown_mm2 = {{"glb", 1.0}, {"pe1d", 0.25}};
  const Stats s = add_parts({{"attention", a}, {"gemms", b}});
  EXPECT_EQ(s.cycles, 4800);
  EXPECT_EQ(s.energy_pJ, 300.0);
  EXPECT_EQ(s.traffic_bytes.at("glb").read, 256);
  EXPECT_EQ(*s.buffer_conflict_cycles, 22);  // once per part
  EXPECT_EQ(s.stall_cycles.at("pe2d").at("data"), 14);
  EXPECT_DOUBLE_EQ(s.utilization.at("pe2d"), (0.5 * 1200 + 1.0 * 3600) / 4800);
  // Both ran on one chip: the largest of each area, component by component.
  EXPECT_EQ(s.area_mm2, 4.0);
  EXPECT_EQ(s.area_breakdown_mm2, (std::map<std::string, double>{{"glb", 1.5}, {"pe1d", 0.25}, {"pe2d", 0.5}}));
  EXPECT_EQ(s.bound, "gemms: compute (pe2d)");
  EXPECT_EQ(s.fidelity, Fidelity::cycle);
  // 1200 / 1.25 + 3600 / 1.25 analytical cycles against 4800 simulated.
  EXPECT_DOUBLE_EQ(*s.gap_vs_analytical, 4800 / (1200 / 1.25 + 3600 / 1.25) - 1);
  EXPECT_EQ(s.einsums.size(), 2u);
  EXPECT_EQ(s.einsums.at("gemms.QK").cycles, 1800);
  EXPECT_EQ(s.groups.at("gemms.attention").cycles, 3600);  // each part's groups, named by the part
  EXPECT_EQ(s.placements.count("attention.attention"), 1u);
}

TEST(StatsSchema, AnInfeasiblePartMakesThePointInfeasibleWithItsOwnStats) {
  Stats bad;
  bad.status = EvalStatus{false, "the tile does not fit"};
  bad.area_mm2 = 3;
  const Stats s = add_parts({{"attention", full(1200)}, {"gemms", bad}});
  EXPECT_FALSE(s.status.ok);
  EXPECT_EQ(s.status.reason, "gemms: the tile does not fit");
  EXPECT_EQ(s.cycles, 0);  // nothing of the feasible part's counts
  EXPECT_EQ(s.area_mm2, 3.0);
}

}  // namespace
}  // namespace einsim
