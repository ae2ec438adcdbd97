// Groups with several passes: intermediates spilled to memory between the passes (FLAT's scores at long
// sequences), and the time a pipelined group's passes take in every iteration of the group's own loops (the
// unfused softmax over blocks of query rows).
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "sim/analytical.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

const std::vector<std::pair<std::string, std::string>> kOneHead = {{"B", "1"}, {"H", "1"}, {"KH", "1"}};

std::vector<std::pair<std::string, std::string>> one_head(const std::string& m, const std::string& p) {
  auto params = kOneHead;
  params.emplace_back("M", m);
  params.emplace_back("P", p);
  return params;
}

// Bytes each tensor's stores write over a whole program.
std::map<std::string, int64_t> stored_bytes(const TileProgram& program) {
  std::map<std::string, int64_t> out;
  for (const TileGroup& g : program.groups)
    for (const TileOp& op : g.ops)
      if (op.kind == TileOp::Kind::store) out[op.tensor] += op.bytes * g.executions(op);
  return out;
}

// FLAT with its scores spilled: pass 1 stores every score once and pass 2 loads it back once; pass 2 stores every
// exponential and pass 3 loads it back; nothing else changes, and the buffer no longer holds a block of either.
TEST(Passes, SpilledScoresGoThroughMemoryOnceEachWay) {
  const DesignPoint spilled = test::point("configs/mappings/attention-flat-spilled.yaml", one_head("2048", "1024"));
  const DesignPoint kept = test::point("configs/mappings/attention-flat.yaml", one_head("2048", "1024"));
  ASSERT_TRUE(spilled.program.status.ok) << spilled.program.status.reason;
  ASSERT_TRUE(kept.program.status.ok) << kept.program.status.reason;
  const int64_t scores = int64_t{2048} * 1024 * 4;  // fp32 intermediates by default
  const auto loads = test::loaded_bytes(spilled.program), stores = stored_bytes(spilled.program);
  EXPECT_EQ(loads.at("QK"), scores);
  EXPECT_EQ(loads.at("SN"), scores);
  EXPECT_EQ(stores.at("QK"), scores);
  EXPECT_EQ(stores.at("SN"), scores);
  // The same block of 1,024 query rows in both (P = 1,024), so K, V, Q and the output move alike.
  const auto kept_loads = test::loaded_bytes(kept.program);
  for (const char* t : {"Q", "K", "V"}) EXPECT_EQ(loads.at(t), kept_loads.at(t)) << t;
  EXPECT_EQ(stores.at("AV"), stored_bytes(kept.program).at("AV"));
  EXPECT_EQ(stores.size(), 3u);
  // Kept, the block's scores stay in the buffer (and its exponentials take their place: the next test); spilled,
  // only tiles of them do: the buffer the group needs does not grow with the sequence.
  EXPECT_GE(kept.program.groups[0].buffer_bytes, scores);
  const DesignPoint longer = test::point("configs/mappings/attention-flat-spilled.yaml", one_head("8192", "1024"));
  EXPECT_EQ(longer.program.groups[0].buffer_bytes, spilled.program.groups[0].buffer_bytes);
}

// An elementwise result kept for a later pass takes the place of a kept input nothing reads after it: FLAT's
// exponentials (SN = exp(QK - GM), read by pass 3) overwrite its scores (read last by SN), so the block of rows
// needs the space of one of them. A result whose input is still read later gets its own block.
TEST(Passes, AnElementwiseResultOverwritesTheKeptInputItReadsLast) {
  const DesignPoint d = test::point("configs/mappings/attention-flat.yaml", one_head("2048", "1024"));
  ASSERT_TRUE(d.program.status.ok) << d.program.status.reason;
  const int64_t block = int64_t{2048} * 1024 * 4;  // a block's scores: 1,024 rows (P) of 2,048, fp32
  const int64_t with_exponentials = d.program.groups[0].buffer_bytes;
  EXPECT_GE(with_exponentials, block);
  EXPECT_LT(with_exponentials, 2 * block);
}

// Only when nothing reads the input after it: a pass 3 that reads the squares X as well as the exponentials S
// keeps both blocks.
TEST(Passes, AResultWhoseInputIsReadLaterGetsItsOwnBlock) {
  auto buffer = [](const std::string& out) {
    const std::string workload = test::temp_file("inplace.yaml", R"yaml(version: 1
name: inplace
params: {R: 64, C: 1024}
tensors:
  A: {ranks: [R, C]}
  O: {ranks: [R, C], output: true}
einsums:
  - X[r,c] = A[r,c] * A[r,c]
  - MX[r] = max(c) X[r,c]
  - S[r,c] = exp(X[r,c] - MX[r])
  - SS[r] = S[r,c]
)yaml" + out);
    const std::string mapping = test::temp_file("inplace-mapping.yaml", R"yaml(version: 1
name: inplace
arch: )yaml" + std::filesystem::absolute("configs/arch/flat.yaml").string() +
                                                                            R"yaml(
workload: )yaml" + workload + R"yaml(
groups:
  - name: rows
    pipeline: true
    loops:
      dram: [{index: r, tile: 64}]
    passes:
      - loops: {glb: [{index: c, tile: 256}]}
        einsums:
          X: {unit: pe1d, spatial: {lanes: c}}
          MX: {unit: pe1d, spatial: {lanes: c}}
      - loops: {glb: [{index: c, tile: 256}]}
        einsums:
          S: {unit: pe1d, spatial: {lanes: c}}
          SS: {unit: pe1d, spatial: {lanes: c}}
      - loops: {glb: [{index: c, tile: 256}]}
        einsums:
          O: {unit: pe1d, spatial: {lanes: c}}
)yaml");
    const DesignPoint d = test::point(mapping);
    EXPECT_TRUE(d.program.status.ok) << d.program.status.reason;
    return d.program.groups[0].buffer_bytes;
  };
  const int64_t block = int64_t{64} * 1024 * 4;
  EXPECT_EQ(buffer("  - O[r,c] = S[r,c] / SS[r] + X[r,c]\n") - buffer("  - O[r,c] = S[r,c] / SS[r]\n"), block);
}

// A pass that loads back what the pass before it stored waits, in every block, for the last tile to be stored and
// the first to come back: both with the DRAM's latency. Memory-bound, the path idles through the two latencies.
TEST(Passes, EachReloadWaitsForTheStoreAndTheLoadInEveryBlock) {
  auto cycles = [](const std::string& p) {
    const DesignPoint d = test::point("configs/mappings/attention-flat-spilled.yaml", one_head("1024", p));
    return evaluate_analytical(d.cascade, d.arch, d.program).groups.at("attention").cycles;
  };
  // One block more (P = 2,048: two blocks of 1,024 rows) costs one block's work and its two turnarounds. The work
  // is DRAM-bound: per block its bytes (Q, K, V, both spills each way, the output) at the DRAM's bandwidth.
  const DesignPoint d = test::point("configs/mappings/attention-flat-spilled.yaml", one_head("1024", "1024"));
  const double bpc = d.arch.find("dram")->path_Bps() / d.arch.clock_hz;
  double block = 0, ends = 0;  // a block's bytes; the first tile of each load and the last of each store
  for (const TileOp& op : d.program.groups[0].ops)
    if (op.kind != TileOp::Kind::compute) {
      block += static_cast<double>(op.bytes * d.program.groups[0].executions(op));
      ends += static_cast<double>(op.bytes);
    }
  const int64_t latency = d.arch.find("dram")->path()->latency_cycles(d.arch.clock_hz);
  const int64_t one = cycles("1024"), two = cycles("2048");
  // The steady stream between the first loads and the last stores grows by a block's bytes at the DRAM's
  // bandwidth, and by the two turnarounds' latencies (a store's and a load's each).
  const auto steady = [&](double bytes) { return static_cast<int64_t>(std::ceil((bytes - ends) / bpc)); };
  EXPECT_EQ(two - one, steady(2 * block) - steady(block) + 4 * latency) << one << " " << two;
}

// The unfused softmax over blocks of rows: each block's three passes follow each other, and a pass whose result
// the next reads (the max, the sum, reduced across the lanes) ends when that result is ready. One block more costs
// its work on the 1D array and the two reductions' latencies.
TEST(Passes, PipelinedPassesPayTheirReductionsInEveryIteration) {
  auto point = [](const std::string& p) {
    return test::point("configs/mappings/attention-unfused.yaml", one_head("4096", p));
  };
  auto softmax = [](const DesignPoint& d) {
    return evaluate_analytical(d.cascade, d.arch, d.program).groups.at("softmax").cycles;
  };
  const DesignPoint one = point("256"), two = point("512");  // a block holds 2^20 / M = 256 rows
  ASSERT_TRUE(one.program.status.ok) << one.program.status.reason;
  const TileGroup& g = one.program.groups[1];
  ASSERT_EQ(g.name, "softmax");
  ASSERT_EQ(g.pass_loops.size(), 3u);
  int64_t work = 0, latencies = 0;
  for (const TileOp& op : g.ops)
    if (op.kind == TileOp::Kind::compute) {
      work += op.cycles * g.executions(op);
      const std::string& name = one.cascade.einsums[op.einsum].name;
      if (name == "GM" || name == "SD") latencies += op.result_latency;  // read by the next pass
    }
  EXPECT_EQ(work, 4 * 4096 * 256 / 256);  // 4 lane-cycles a score on 256 lanes
  EXPECT_GT(latencies, 0);
  EXPECT_EQ(softmax(two) - softmax(one), work + latencies);
}

std::string spill_error(const std::string& tensors, const std::string& pass2_level = "dram") {
  std::string text = R"yaml(version: 1
name: spill
arch: ARCH
workload: WORKLOAD
groups:
  - name: attention
    pipeline: true
    tensors: TENSORS
    loops:
      dram: [b, kh, g, {index: p, tile: "min(P, 1024)"}]
    passes:
      - loops:
          LEVEL1: [{index: m, tile: 256}]
        einsums:
          QK: {unit: pe2d, spatial: {rows: m, cols: p}}
          GM: {unit: pe1d, spatial: {lanes: m}}
      - loops:
          dram: [{index: m, tile: 256}]
        einsums:
          SN: {unit: pe1d, spatial: {lanes: m}}
          SD: {unit: pe1d, spatial: {lanes: m}}
      - loops:
          dram: [{index: m, tile: 256}]
        einsums:
          A: {unit: pe1d, spatial: {lanes: m}}
          AV: {unit: pe2d, spatial: {rows: m, cols: p}}
)yaml";
  const std::string configs = std::filesystem::absolute("configs").string();
  text = std::regex_replace(text, std::regex("ARCH"), configs + "/arch/flat.yaml");
  text = std::regex_replace(text, std::regex("WORKLOAD"), configs + "/workloads/attention-3pass.yaml");
  text = std::regex_replace(text, std::regex("TENSORS"), tensors);
  text = std::regex_replace(text, std::regex("LEVEL1"), pass2_level);
  try {
    const DesignPoint d = test::point(test::temp_file("spill.yaml", text));
    return d.program.status.ok ? "" : d.program.status.reason;
  } catch (const UserError& e) {
    return e.what();
  }
}

TEST(Passes, OnlyWhatALaterPassReadsCanSpillAndItSpillsTileByTile) {
  EXPECT_EQ(spill_error("{QK: {spill: true}, SN: {spill: true}}"), "");
  // A is read only in its own pass, and K comes from outside the group.
  EXPECT_NE(spill_error("{A: {spill: true}}")
                .find("spills only what one of its passes computes and a later pass "
                      "reads; A is not such a tensor"),
            std::string::npos)
      << spill_error("{A: {spill: true}}");
  EXPECT_NE(spill_error("{K: {spill: true}}").find("K is not such a tensor"), std::string::npos);
  EXPECT_NE(spill_error("{XX: {spill: true}}").find("has no tensor 'XX'"), std::string::npos);
  // Pass 1 walking its tiles in the buffer would store the block's scores once it is complete: refused.
  const std::string whole = spill_error("{QK: {spill: true}}", "glb");
  EXPECT_NE(whole.find("stored tile by tile"), std::string::npos) << whole;
  EXPECT_NE(whole.find("tensors.QK.spill"), std::string::npos) << whole;
  EXPECT_EQ(spill_error("{QK: {spill: false}}", "glb"), "");  // an explicit false spills nothing
}

}  // namespace
}  // namespace einsim
