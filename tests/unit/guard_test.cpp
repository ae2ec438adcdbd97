// Guarded Einsums (`... when G[b,j]`): the interpreter computes only the guarded elements, and every count the
// model makes charges the guard's density over its elements, the same share in the analysis, the tile program and
// both evaluators (SpAtten's progressive quantization: the LSB planes fetched only for flat heads).
#include <gtest/gtest.h>

#include <algorithm>

#include "sim/analytical.hpp"
#include "tests/unit/test_util.hpp"
#include "workloads/analysis.hpp"
#include "workloads/interpreter.hpp"

namespace einsim {
namespace {

const char* kGuarded = R"(version: 1
name: guarded
params: {B: 6, M: 8, E: 4, FR: 0.5}
tensors:
  Q: {ranks: [B, E]}
  K: {ranks: [B, E, M]}
  G: {ranks: [B], density: FR}
  S: {ranks: [B, M], output: true}
  U: {ranks: [B, M], output: true}
einsums:
  - R[b] = max(e) Q[b,e]
  - G[b] = gt(R[b], 0.5)
  - S[b,m] = Q[b,e] * K[b,e,m] when G[b]
  - U[b,m] = Q[b,e] * K[b,e,m]
)";

// The guarded elements hold what the unguarded Einsum computes, the others 0.
TEST(Guard, TheInterpreterComputesOnlyTheGuardedElements) {
  const Cascade c = load_cascade(test::temp_file("guarded.yaml", kGuarded));
  const TensorValues v = evaluate(c, random_inputs(c, 7), EvalOptions{});
  int on = 0;
  for (int b = 0; b < 6; ++b) {
    on += v.at("G")[static_cast<size_t>(b)] != 0;
    for (int m = 0; m < 8; ++m) {
      const size_t i = static_cast<size_t>(b * 8 + m);
      EXPECT_EQ(v.at("S")[i], v.at("G")[static_cast<size_t>(b)] != 0 ? v.at("U")[i] : 0.0) << b << " " << m;
    }
  }
  EXPECT_GT(on, 0);  // seed 7 flags some rows and not others, so both branches are checked
  EXPECT_LT(on, 6);
}

// The analysis charges the density over the guard's elements, rounded to whole elements: 3 of 6 rows at 0.5, 1
// at 0.25 (1.5 rounds to 2: halves up), and only that share of K's bytes is compulsory for a tensor only guarded
// Einsums read.
TEST(Guard, TheAnalysisChargesTheGuardsShareOfItsElements) {
  const std::string file = test::temp_file("guarded.yaml", kGuarded);
  for (const auto& [density, rows] : std::vector<std::pair<std::string, int64_t>>{{"0.5", 3}, {"0.25", 2}, {"1", 6}}) {
    const Cascade c = test::load(file, {{"FR", density}});
    const Analysis a = analyze(c);
    const auto s = std::find_if(a.einsums.begin(), a.einsums.end(), [](const auto& e) { return e.name == "S"; });
    EXPECT_EQ(s->points, rows * 8 * 4) << density;
    EXPECT_EQ(s->ops.at("mac"), rows * 8 * 4) << density;
  }
  // K read by the guarded S alone: half of its 6 x 4 x 8 fp32 values are compulsory (U gone); read by U too, all.
  std::string text = kGuarded;
  text = text.substr(0, text.find("  U: {")) + text.substr(text.find("einsums:"));
  text = text.substr(0, text.find("  - U[b,m]"));
  EXPECT_EQ(analyze(test::load(test::temp_file("only-guarded.yaml", text))).compulsory_bytes,
            (6 * 4 + 6 * 4 * 8 / 2 + 6 * 8) * 4);
  EXPECT_EQ(analyze(test::load(file)).compulsory_bytes, (6 * 4 + 6 * 4 * 8 + 2 * 6 * 8) * 4);
}

// The tile program and both evaluators run the guarded Einsums, their loads of the LSB planes and their stores on
// the guard's share of the kept heads, spread evenly: FLATR 0.5 of 12 heads is 6, 0.059 rounds to 1.
TEST(Guard, LsbPlanesAreLoadedForTheGuardsShareOfTheHeads) {
  for (const auto& [density, heads] :
       std::vector<std::pair<std::string, int64_t>>{{"0.5", 6}, {"0.059", 1}, {"1", 12}}) {
    const DesignPoint p = test::point("configs/mappings/llm/decode-attention-spatten.yaml", {{"FLATR", density}});
    ASSERT_TRUE(p.program.status.ok) << p.program.status.reason;
    const std::map<std::string, int64_t> loaded = test::loaded_bytes(p.program);
    EXPECT_EQ(loaded.at("KH"), 12 * 64 * 256) << density;         // every kept head's MSB rows of its kept tokens
    EXPECT_EQ(loaded.at("KL"), heads * 64 * 256 / 2) << density;  // the LSB rows (4 bits) of the flat heads only
    const Stats s = evaluate_analytical(p.cascade, p.arch, p.program);
    EXPECT_EQ(s.einsums.at("QKL").ops.at("mac"), heads * 256 * 64) << density;
    EXPECT_EQ(s.einsums.at("QK1").ops.at("mac"), 12 * 256 * 64) << density;
  }
}

// A tile holding several elements of the guard cannot run for some and not others: refused, with the indices
// to tile by 1.
TEST(Guard, ATileMustHoldOneElementOfTheGuard) {
  DesignPoint p = test::point("configs/mappings/llm/decode-attention-spatten.yaml");
  MappingSpec m = p.mapping;
  for (LoopSpec& l : m.groups[1].loops)
    if (l.index == "j") l.tile = "2";
  const TileProgram program = lower(p.cascade, p.arch, m);
  EXPECT_FALSE(program.status.ok);
  EXPECT_NE(program.status.reason.find("each of its tiles must hold one element of the guard (tile b, j by 1)"),
            std::string::npos)
      << program.status.reason;
}

}  // namespace
}  // namespace einsim
