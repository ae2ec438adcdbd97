// Many-core chips (kind: noc): a group's outer loops spread over the cores, each core's transfers through its own
// port, every core's share of the backing memory, and what lowering refuses.
#include <gtest/gtest.h>

#include <filesystem>
#include <tuple>

#include "sim/analytical.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

// Four cores, each with its own buffer and 256 lanes, every port 16 B a cycle; the DRAM carries 128 B a cycle
// (1 GHz), enough for all four ports at once unless a test slows it.
std::string arch_file() {
  return test::temp_file(
      "cores-arch.yaml",
      "version: 1\nname: cores\nclock: 1 GHz\nenergy_table: " +
          std::filesystem::absolute("configs/energy/accelergy-45nm.yaml").string() +
          "\ncomponents:\n"
          "  dram: {kind: dram, bandwidth: 128 GB/s, latency_cycles: 100, access_bits: 512, read_energy: '40', "
          "write_energy: '40'}\n"
          "  noc: {kind: noc, cores: 4, per_core: [glb, vec], port_bandwidth: 16 GB/s, transfer_energy: '0.5'}\n"
          "  glb: {kind: sram, size: 1 MiB, banks: 4, row_bits: 512, read_energy: '5', write_energy: '6'}\n"
          "  shared: {kind: sram, size: 1 MiB, banks: 4, row_bits: 512, read_energy: '5', write_energy: '6'}\n"
          "  vec: {kind: vector_array, lanes: 256, ops: {mul: {energy: '1'}, add: {energy: '1'}, mac: {energy: "
          "'2'}}}\n");
}

// B rows of 1,024 fp32 values squared, and a running sum along a row's blocks (a recurrence over n1).
std::string workload_file() {
  return test::temp_file(
      "cores-workload.yaml",
      "version: 1\nname: rows\nparams: {B: 8, N: 1024, N0: 256, N1: N / N0}\n"
      "tensors:\n  X: {ranks: [B, N], dtype: fp32}\n  Y: {ranks: [B, N], dtype: fp32, output: true}\n"
      "  T: {ranks: [B], dtype: fp32, output: true}\n"
      "einsums:\n  - Y[b,n] = X[b,n] * X[b,n]\n"
      "  - P[b,n1] = X[b,n1*N0+n0]\n"
      "  - R[b,n1+1] = R[b,n1] + P[b,n1]\n"
      "  - T[b] = R[b,N1]\n"
      "init: {R: 0}\n");
}

// One group squaring rows, spread over `cores` (empty: not spread), staged in `buffer`; the row sums after.
std::string mapping(const std::string& cores, const std::string& buffer = "glb") {
  return test::temp_file("cores-mapping.yaml",
                         "version: 1\nname: m\narch: " + arch_file() + "\nworkload: " + workload_file() +
                             "\nmemory: {buffer: " + buffer + "}\ngroups:\n  - name: square\n" +
                             (cores.empty() ? "" : "    cores: " + cores + "\n") +
                             "    loops: {dram: [b]}\n    einsums: {Y: {unit: vec, spatial: {lanes: n}}}\n"
                             "  - name: sums\n    loops: {dram: [b, n1]}\n"
                             "    einsums: {P: {unit: vec, spatial: {lanes: n0}}, R: {unit: vec, spatial: {lanes: b}}, "
                             "T: {unit: vec, spatial: "
                             "{lanes: b}}}\n");
}

Stats evaluate(const std::string& mapping_file, std::vector<std::pair<std::string, std::string>> params = {},
               const std::vector<std::pair<std::string, std::string>>& arch_sets = {}) {
  const DesignPoint p = test::point(mapping_file, std::move(params), {}, arch_sets);
  return evaluate_analytical(p.cascade, p.arch, p.program);
}

// The square group's cycles alone: the whole run less the row sums' (which run on one core either way).
int64_t square_cycles(const std::string& cores, const std::string& b,
                      const std::vector<std::pair<std::string, std::string>>& arch_sets = {}) {
  const DesignPoint p = test::point(mapping(cores), {{"B", b}}, {}, arch_sets);
  TileProgram only = p.program;
  only.groups.resize(1);
  return evaluate_analytical(p.cascade, p.arch, only).cycles;
}

TEST(Cores, TheBusiestCoreRunsItsShareOfTheSpreadIterations) {
  // Eight rows on four cores: the busiest runs two, exactly as one core runs two rows; seven rows still leave a
  // core with two, five too; four rows one each.
  const int64_t two_rows = square_cycles("", "2");
  EXPECT_EQ(square_cycles("[b]", "8"), two_rows);
  EXPECT_EQ(square_cycles("[b]", "7"), two_rows);
  EXPECT_EQ(square_cycles("[b]", "5"), two_rows);
  EXPECT_EQ(square_cycles("[b]", "4"), square_cycles("", "1"));
  EXPECT_LT(square_cycles("[b]", "4"), two_rows);
  // Not spread, one core runs all eight.
  EXPECT_GT(square_cycles("", "8"), 3 * two_rows);
}

TEST(Cores, EachCoresTransfersCrossItsPortAndShareTheMemory) {
  // One row on one core: 4 KiB in at the port's 16 B a cycle (256), 100 of latency; the multiply streams its
  // operands (X twice) and its result through a buffer port, 12 KiB at 256 B a cycle (48; its lanes take 4); and
  // 4 KiB out (256, 100 of latency). The DRAM's 128 B a cycle would take 32 each way.
  EXPECT_EQ(square_cycles("", "1"), (256 + 100) + 48 + (256 + 100));
  // Eight rows over the four cores move 64 KiB; at 8 B a cycle of DRAM the cores wait for each other: the group
  // takes the 8,192 cycles all of it takes at that bandwidth.
  EXPECT_EQ(square_cycles("[b]", "8", {{"dram.bandwidth", "8 GB/s"}}), 65536 / 8);
}

TEST(Cores, CountsAreEveryCoresAndUnitsCountEveryCopy) {
  const Stats spread = evaluate(mapping("[b]"));
  const Stats one = evaluate(mapping(""));
  ASSERT_TRUE(spread.status.ok) << spread.status.reason;
  EXPECT_EQ(spread.traffic_bytes.at("dram").read, one.traffic_bytes.at("dram").read);
  EXPECT_EQ(spread.einsums.at("Y").ops, one.einsums.at("Y").ops);
  EXPECT_LT(spread.cycles, one.cycles);
  // Every byte the square group moves crosses a port (0.5 pJ each): 8 rows of 4 KiB in and out; the sums group
  // stages its tiles in the cores' buffers too (one core), so its bytes cross one: X again, and T.
  EXPECT_DOUBLE_EQ(spread.energy_by_action_pJ.at("noc").at("transfer"), 0.5 * (2 * 8 * 4096 + 8 * 4096 + 8 * 4));
  // Four copies of the lanes: utilization is of all 1,024 (every op here takes a lane one cycle).
  double work = 0;
  for (const auto& [name, e] : spread.einsums)
    for (const auto& [kind, n] : e.ops) work += static_cast<double>(n);
  EXPECT_DOUBLE_EQ(spread.utilization.at("vec"), work / (static_cast<double>(spread.cycles) * 1024));
}

TEST(Cores, WhatCannotBeSpreadIsRefused) {
  // A buffer the cores share.
  try {
    test::point(mapping("[b]", "shared"));
    ADD_FAILURE() << "a group staged in a shared buffer was spread";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("which the cores share"), std::string::npos) << e.what();
  }
  // An index whose loop is not among the outermost.
  try {
    test::point(mapping("[n]"));
    ADD_FAILURE() << "a loop that is not the outermost was spread";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("first 1 loops must be those over n"), std::string::npos) << e.what();
  }
  // A recurrence's steps.
  const std::string recurrence = test::temp_file(
      "cores-recurrence.yaml",
      "version: 1\nname: m\narch: " + arch_file() + "\nworkload: " + workload_file() +
          "\ngroups:\n  - name: square\n    loops: {dram: [b]}\n"
          "    einsums: {Y: {unit: vec, spatial: {lanes: n}}}\n"
          "  - name: sums\n    cores: [n1]\n    loops: {dram: [n1, b]}\n"
          "    einsums: {P: {unit: vec, spatial: {lanes: n0}}, R: {unit: vec, spatial: {lanes: b}}, T: {unit: vec, "
          "spatial: {lanes: b}}}\n");
  const DesignPoint p = test::point(recurrence);
  EXPECT_FALSE(p.program.status.ok);
  EXPECT_NE(p.program.status.reason.find("illegal: group 'sums' spreads the steps of"), std::string::npos)
      << p.program.status.reason;
}

}  // namespace
}  // namespace einsim

namespace einsim {
namespace {

// A NoC that multicasts (noc.multicast) reads a tile the cores running at once share once for all of them: the
// split decode's query, which the S parts of a (sequence, head) share. 32 heads in 4 parts are 128 items on 132
// cores, one wave: 32 reads of Q instead of 128. In 8 parts, 256 items in waves of 132: the first holds heads 0
// to 16, the second 16 to 31, so 17 + 16 = 33 reads. The cores' buffers still receive every copy. (Without the
// xPU's L2, which would keep the query for every wave: the next test.)
TEST(Cores, AMulticastReadsASharedTileOnceAWave) {
  auto q_reads = [](const std::string& parts, const std::string& multicast) {
    const DesignPoint p = test::point("configs/mappings/llm/decode-split-cores.yaml", {{"L", "8192"}, {"S", parts}}, {},
                                      {{"noc.multicast", multicast}, {"noc.l2_size", "0"}});
    EXPECT_TRUE(p.program.status.ok) << p.program.status.reason;
    const Stats s = evaluate_analytical(p.cascade, p.arch, p.program);
    int64_t reads = 0, delivered = 0;
    for (const TileGroup& g : p.program.groups)
      for (const TileOp& op : g.ops)
        if (op.kind == TileOp::Kind::load && op.tensor == "Q") {
          reads += op.fetched(g.executions(op));
          delivered += g.executions(op);
        }
    return std::tuple{reads, delivered, s.traffic_bytes.at("dram").read};
  };
  const auto [reads4, delivered4, dram4] = q_reads("4", "true");
  const auto [plain4, plain_delivered4, plain_dram4] = q_reads("4", "false");
  EXPECT_EQ(reads4, 32);
  EXPECT_EQ(plain4, 128);
  EXPECT_EQ(delivered4, 128);
  EXPECT_EQ(plain_dram4 - dram4, (128 - 32) * 128 * 2);  // a query row: E = 128 bf16 values
  EXPECT_EQ(std::get<0>(q_reads("8", "true")), 33);
  EXPECT_EQ(std::get<0>(q_reads("8", "false")), 256);
}

// What `tensor`'s loads read from the backing memory over the whole program, in tiles.
int64_t backing_reads(const TileProgram& program, const std::string& tensor) {
  int64_t reads = 0;
  for (const TileGroup& g : program.groups)
    for (const TileOp& op : g.ops)
      if (op.kind == TileOp::Kind::load && op.tensor == tensor) reads += op.fetched(g.executions(op));
  return reads;
}

// An L2 (noc.l2_size) keeps the tiles a group's items share while the tensors they share fit in it: the split
// decode's query (8 KiB: 32 heads of 128 bf16 values) is then read once a head however many waves its parts fall
// in, 32 reads in 8 parts (33 with multicast alone). An L2 smaller than the query still serves the cores running at
// once from one read, as multicast does: 33. Without either, every part reads it: 256.
TEST(Cores, AnL2ReadsWhatTheItemsShareOnceWhileItHoldsIt) {
  auto q_reads = [](const std::vector<std::pair<std::string, std::string>>& noc) {
    const DesignPoint p =
        test::point("configs/mappings/llm/decode-split-cores.yaml", {{"L", "8192"}, {"S", "8"}}, {}, noc);
    EXPECT_TRUE(p.program.status.ok) << p.program.status.reason;
    return backing_reads(p.program, "Q");
  };
  EXPECT_EQ(q_reads({{"noc.l2_size", "50 MiB"}}), 32);
  EXPECT_EQ(q_reads({{"noc.l2_size", "8 KiB"}}), 32);  // exactly the query
  EXPECT_EQ(q_reads({{"noc.l2_size", "4 KiB"}}), 33);
  EXPECT_EQ(q_reads({{"noc.l2_size", "4 KiB"}, {"noc.multicast", "true"}}), 33);
  EXPECT_EQ(q_reads({{"noc.multicast", "true"}, {"noc.l2_size", "0"}}), 33);
  EXPECT_EQ(q_reads({{"noc.l2_size", "0"}}), 256);
}

// FlashAttention-2's prefill on the 132 cores (attention-1pass-cores.yaml): an item per (head, block of 32 queries),
// each walking its head's keys in blocks of 64. Every block of queries of a head loads the head's K tiles again, an
// item each. With the xPU's 50 MiB L2: at 2K tokens the 32 heads' K and V (32 MiB) fit, and each K tile is read from
// the HBM once (32 heads x 32 blocks); at 4K (64 MiB) they do not, and the cores running at once share a read: a
// wave of 132 items spans the 128 blocks of queries of two heads, and reads each of their tiles once. Without an L2
// every item reads all of its head's.
TEST(Cores, AnL2KeepsAHeadsKeysAndValuesForItsBlocksOfQueries) {
  auto k_reads = [](int64_t tokens, const std::string& l2) {
    const std::string n = std::to_string(tokens);
    const DesignPoint p = test::point("configs/mappings/attention-1pass-cores.yaml",
                                      {{"H", "32"}, {"KH", "32"}, {"E", "128"}, {"F", "128"}, {"P", n}, {"M", n}}, {},
                                      {{"noc.l2_size", l2}});
    EXPECT_TRUE(p.program.status.ok) << p.program.status.reason;
    return backing_reads(p.program, "K");
  };
  EXPECT_EQ(k_reads(2048, "50 MiB"), 32 * 32);
  int64_t heads = 0;  // 4K: 32 x 128 = 4,096 items, 128 a head, in waves of 132: the heads each wave's items belong to
  for (int64_t first = 0; first < 4096; first += 132)
    heads += std::min<int64_t>(first + 131, 4095) / 128 - first / 128 + 1;
  EXPECT_EQ(heads, 63);
  EXPECT_EQ(k_reads(4096, "50 MiB"), heads * 64);
  EXPECT_EQ(k_reads(4096, "0"), 4096 * 64);
  EXPECT_EQ(k_reads(2048, "0"), 32 * 64 * 32);
}

// FlashAttention-2's decode: O = GNV / GD reads only the combine's results, which read the running numerator and
// denominator at their last block. O too waits for the last iteration of the loop over blocks (m1), though no
// computation it reads directly repeats over it; issued at the first, it divided partials not yet combined.
TEST(FireRule, AComputationWaitsForWhatItsOperandsWaitFor) {
  const DesignPoint p = test::point("configs/mappings/llm/decode-fa2-cores.yaml");
  const TileGroup& g = p.program.groups[0];
  const auto m1 = static_cast<int>(
      std::find_if(g.loops.begin(), g.loops.end(), [](const Loop& l) { return l.index == "m1"; }) - g.loops.begin());
  ASSERT_LT(m1, static_cast<int>(g.loops.size()));
  for (const TileOp& op : g.ops) {
    if (op.kind != TileOp::Kind::compute) continue;
    const std::string& name = p.cascade.einsums[op.einsum].name;
    if (name != "GNV" && name != "GD" && name != "O") continue;
    const std::vector<std::pair<int, bool>> rule = g.fire_rule(op, p.cascade);
    EXPECT_NE(std::find(rule.begin(), rule.end(), std::pair<int, bool>{m1, true}), rule.end()) << name;
  }
}

}  // namespace
}  // namespace einsim

namespace einsim {
namespace {

// Split-K on the cores: S[b] sums X[b,n]^2 over n, and the group spreads its blocks of n over the four cores, one
// block (8 rows x 256 fp32 values, 8 KiB) an item. Each item stores its partial S (8 fp32 values, 32 B) through its
// port; reducers in the NoC (noc.reduce_bandwidth) combine the four partials, and the DRAM receives S once. `loops`:
// the group's loops in the DRAM.
std::string split_k_mapping(const std::string& loops = "[{index: n, tile: 256}]") {
  const std::string workload =
      test::temp_file("cores-split-k-workload.yaml",
                      "version: 1\nname: sums\nparams: {B: 8, N: 1024}\n"
                      "tensors:\n  X: {ranks: [B, N], dtype: fp32}\n  S: {ranks: [B], dtype: fp32, output: true}\n"
                      "einsums:\n  - S[b] = X[b,n] * X[b,n]\n");
  return test::temp_file("cores-split-k.yaml", "version: 1\nname: m\narch: " + arch_file() + "\nworkload: " + workload +
                                                   "\nmemory: {buffer: glb}\ngroups:\n  - name: sums\n"
                                                   "    cores: [n]\n    loops: {dram: " +
                                                   loops +
                                                   "}\n"
                                                   "    einsums: {S: {unit: vec, spatial: {lanes: n}}}\n");
}

TEST(Cores, PartialResultsOfASplitReductionCombineInTheNetwork) {
  // Without reducers each core would store its partial over the others': refused as illegal.
  const DesignPoint refused = test::point(split_k_mapping());
  EXPECT_FALSE(refused.program.status.ok);
  EXPECT_NE(refused.program.status.reason.find("illegal: group 'sums' spreads n over the cores, and S sums over it"),
            std::string::npos)
      << refused.program.status.reason;

  auto run = [](const std::string& bandwidth) {
    const DesignPoint p =
        test::point(split_k_mapping(), {}, {}, {{"noc.reduce_bandwidth", bandwidth}, {"noc.reduce_energy", "0.25"}});
    EXPECT_TRUE(p.program.status.ok) << p.program.status.reason;
    const std::vector<TileGroup::Floor>& floors = p.program.groups[0].floors;
    EXPECT_EQ(floors.size(), 2U);
    EXPECT_EQ(floors.back().component, "noc");
    EXPECT_EQ(floors.back().cause, "reduce_bandwidth");
    return std::pair{floors.back().cycles, evaluate_analytical(p.cascade, p.arch, p.program)};
  };
  const auto [slow_cycles, slow] = run("0.1 GB/s");
  // Four partials of 32 B at 0.1 B a cycle (1 GHz): the reducers take 1,280 cycles, longer than anything else.
  EXPECT_EQ(slow_cycles, 1280);
  EXPECT_EQ(slow.cycles, 1280);
  EXPECT_EQ(slow.bound, "network (noc)");
  EXPECT_EQ(slow.traffic_bytes.at("dram").read, 8 * 1024 * 4);
  EXPECT_EQ(slow.traffic_bytes.at("dram").write, 8 * 4);  // S once
  EXPECT_DOUBLE_EQ(slow.energy_by_action_pJ.at("noc").at("reduce"), 0.25 * 4 * 32);
  // Every partial crosses its core's port (0.5 pJ a byte), as every loaded block does.
  EXPECT_DOUBLE_EQ(slow.energy_by_action_pJ.at("noc").at("transfer"), 0.5 * (8 * 1024 * 4 + 4 * 32));
  // Fast reducers: the busiest core's block decides, whatever their bandwidth; the same ops either way.
  const auto [fast_cycles, fast] = run("100 GB/s");
  EXPECT_EQ(fast_cycles, 2);
  EXPECT_EQ(fast.bound, "memory");
  EXPECT_LT(fast.cycles, 1280);
  EXPECT_EQ(run("1000 GB/s").second.cycles, fast.cycles);
  EXPECT_EQ(fast.einsums.at("S").ops, slow.einsums.at("S").ops);
  EXPECT_EQ(fast.einsums.at("S").ops.at("mac"), 8 * 1024);
}

// The same split with a loop over b inside n's: each item stores its partial S half by half (on one core, the partial
// sums would go through the DRAM at every block of n), and the halves are partials all the same, which only the
// reducers can combine: the same 128 B to combine, S stored once, refused without reducers.
TEST(Cores, AStoreInsideTheSpreadReductionLoopIsOfPartialsToo) {
  const std::string inside = "[{index: n, tile: 256}, {index: b, tile: 4}]";
  const DesignPoint refused = test::point(split_k_mapping(inside));
  EXPECT_FALSE(refused.program.status.ok);
  EXPECT_NE(refused.program.status.reason.find("illegal: group 'sums' spreads n over the cores, and S sums over it"),
            std::string::npos)
      << refused.program.status.reason;
  const DesignPoint p = test::point(split_k_mapping(inside), {}, {}, {{"noc.reduce_bandwidth", "0.1 GB/s"}});
  ASSERT_TRUE(p.program.status.ok) << p.program.status.reason;
  EXPECT_EQ(p.program.groups[0].floors.back().cause, "reduce_bandwidth");
  EXPECT_EQ(p.program.groups[0].floors.back().cycles, 1280);
  const Stats s = evaluate_analytical(p.cascade, p.arch, p.program);
  EXPECT_EQ(s.cycles, 1280);
  EXPECT_EQ(s.traffic_bytes.at("dram").write, 8 * 4);  // S once
}

}  // namespace
}  // namespace einsim

namespace einsim {
namespace {

// On a mesh (noc.mesh_rows x noc.mesh_cols, the memory's interfaces spread evenly over its nodes) a transfer takes
// the mean hops between a node and all the nodes: (n^2 - 1) / 3n along each side, 1 hop on 2 x 2, 8/9 + 15/12 on
// 3 x 4.
TEST(Cores, AMeshAddsItsMeanHopsToEveryTransfer) {
  const std::vector<std::pair<std::string, std::string>> mesh = {
      {"noc.mesh_rows", "2"}, {"noc.mesh_cols", "2"}, {"noc.hop_latency_cycles", "10"}, {"noc.hop_energy", "0.125"}};
  const DesignPoint p = test::point(mapping("[b]"), {}, {}, mesh);
  EXPECT_DOUBLE_EQ(p.arch.noc()->cores()->mean_hops(), 1.0);
  // One row on one core (TheBusiestCore... above: 356 + 48 + 356), each transfer 10 cycles later.
  EXPECT_EQ(square_cycles("", "1", mesh), (256 + 110) + 48 + (256 + 110));
  // Every byte through a port goes one hop on average (the sums group's too, on one core).
  const Stats s = evaluate_analytical(p.cascade, p.arch, p.program);
  EXPECT_DOUBLE_EQ(s.energy_by_action_pJ.at("noc").at("hops"), 0.125 * (2 * 8 * 4096 + 8 * 4096 + 8 * 4));
  const DesignPoint twelve =
      test::point(mapping("[b]"), {}, {}, {{"noc.cores", "12"}, {"noc.mesh_rows", "3"}, {"noc.mesh_cols", "4"}});
  EXPECT_DOUBLE_EQ(twelve.arch.noc()->cores()->mean_hops(), 8.0 / 9 + 15.0 / 12);
}

// All the cores' transfers, spread evenly, cross the cut through the middle of the mesh's longer side one way for a
// quarter of their pairs of ends on 2 x 2 (1 x 1 of 2 x 2), over its 2 links: at 1 B a cycle a link, the mesh carries
// 8 B a cycle. Eight rows over the four cores move 64 KiB through their ports: 8,192 cycles, at both fidelities
// (tests/sc: Cycle.AMeshsNarrowestCutBoundsWhatTheCoresMove). On 2 x 6 the middle cut is 3 x 3 of 6 x 6 over 2 links.
TEST(Cores, AMeshsNarrowestCutBoundsWhatTheCoresMove) {
  const std::vector<std::pair<std::string, std::string>> mesh = {
      {"noc.mesh_rows", "2"}, {"noc.mesh_cols", "2"}, {"noc.link_bandwidth", "1 GB/s"}};
  const DesignPoint p = test::point(mapping("[b]"), {}, {}, mesh);
  EXPECT_DOUBLE_EQ(p.arch.noc()->cores()->mesh_Bps(), 8e9);
  const TileGroup::Floor& floor = p.program.groups[0].floors.back();
  EXPECT_EQ(floor.cause, "mesh_bandwidth");
  EXPECT_EQ(floor.cycles, 65536 / 8);
  EXPECT_EQ(square_cycles("[b]", "8", mesh), 65536 / 8);
  const DesignPoint wide = test::point(
      mapping("[b]"), {}, {},
      {{"noc.cores", "12"}, {"noc.mesh_rows", "2"}, {"noc.mesh_cols", "6"}, {"noc.link_bandwidth", "1 GB/s"}});
  EXPECT_DOUBLE_EQ(wide.arch.noc()->cores()->mesh_Bps(), 2 * 1e9 / (9.0 / 36));
  // Without link_bandwidth the links do not limit.
  const DesignPoint free = test::point(mapping("[b]"), {}, {}, {{"noc.mesh_rows", "2"}, {"noc.mesh_cols", "2"}});
  EXPECT_EQ(free.program.groups[0].floors.size(), 1U);
}

}  // namespace
}  // namespace einsim
