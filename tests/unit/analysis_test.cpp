#include <gtest/gtest.h>

#include "tests/unit/test_util.hpp"
#include "workloads/analysis.hpp"

namespace einsim {
namespace {

// Distinct values so that a count using the wrong rank cannot pass by accident.
const std::vector<std::pair<std::string, std::string>> kAttention = {
    {"B", "2"}, {"H", "6"}, {"KH", "2"}, {"M", "512"}, {"P", "64"}, {"E", "32"}, {"F", "16"}};
constexpr int64_t B = 2, H = 6, KH = 2, M = 512, P = 64, E = 32, F = 16, M0 = 256, M1 = M / M0;

Analysis analyze_file(const std::string& name, std::vector<std::pair<std::string, std::string>> params = kAttention) {
  return analyze(test::load("configs/workloads/" + name + ".yaml", std::move(params)));
}

int passes(const Analysis& a, const std::string& rank) {
  for (const auto& [r, n] : a.passes)
    if (r == rank) return n;
  return -1;
}

const EinsumAnalysis& einsum(const Analysis& a, const std::string& name) {
  for (const EinsumAnalysis& e : a.einsums)
    if (e.name == name) return e;
  throw std::runtime_error("no einsum " + name);
}

TEST(Analysis, ThreePassOpCountsMatchClosedForms) {
  const Analysis a = analyze_file("attention-3pass");
  EXPECT_EQ(einsum(a, "QK").ops, (OpCounts{{"mac", B * H * P * M * E}}));
  EXPECT_EQ(einsum(a, "GM").ops, (OpCounts{{"max", B * H * M * P}}));
  EXPECT_EQ(einsum(a, "SN").ops, (OpCounts{{"add", B * H * M * P}, {"exp", B * H * M * P}}));
  EXPECT_EQ(einsum(a, "SD").ops, (OpCounts{{"add", B * H * M * P}}));
  EXPECT_EQ(einsum(a, "A").ops, (OpCounts{{"div", B * H * M * P}}));
  EXPECT_EQ(einsum(a, "AV").ops, (OpCounts{{"mac", B * H * F * M * P}}));
  EXPECT_EQ(a.ops.at("mac"), B * H * M * P * (E + F));
  // bf16 inputs and output, each moved once.
  EXPECT_EQ(a.compulsory_bytes, 2 * (B * H * E * P + B * KH * E * M + B * KH * F * M + B * H * F * P));
}

TEST(Analysis, DivisionDeferralDividesFTimesPInsteadOfMTimesP) {
  const Analysis a = analyze_file("attention-3pass-deferred");
  EXPECT_EQ(a.ops.at("div"), B * H * F * P);
  EXPECT_EQ(a.ops.at("mac"), B * H * M * P * (E + F));
}

TEST(Analysis, OnePassCountsTheRunningCorrections) {
  const Analysis a = analyze_file("attention-1pass");
  EXPECT_EQ(a.ops.at("mac"), B * H * M * P * (E + F));
  EXPECT_EQ(einsum(a, "PRM").ops, (OpCounts{{"add", B * H * M1 * P}, {"exp", B * H * M1 * P}}));
  EXPECT_EQ(einsum(a, "SPNV").ops, (OpCounts{{"mul", B * H * F * M1 * P}}));
  EXPECT_EQ(einsum(a, "BK").ops, OpCounts{});  // a split moves data, computes nothing
  EXPECT_EQ(a.ops.at("exp"), B * H * M * P + B * H * M1 * P);
  EXPECT_EQ(a.ops.at("div"), B * H * F * P);
}

// Query p sees keys m <= p + M - P (the last P of M positions): P(P+1)/2 + P(M-P) of the M·P pairs, and
// (p + M - P) / M0 + 1 key tiles.
constexpr int64_t kVisible = P * (P + 1) / 2 + P * (M - P);
int64_t visible_tiles() {
  int64_t n = 0;
  for (int64_t p = 0; p < P; ++p) n += (p + M - P) / M0 + 1;
  return n;
}

TEST(Analysis, CausalAttentionCountsOnlyTheVisiblePairs) {
  const Analysis three = analyze_file("attention-causal-3pass");
  EXPECT_EQ(einsum(three, "QK").ops, (OpCounts{{"mac", B * H * kVisible * E}}));
  EXPECT_EQ(einsum(three, "GM").ops, (OpCounts{{"max", B * H * kVisible}}));
  EXPECT_EQ(einsum(three, "SN").ops, (OpCounts{{"add", B * H * kVisible}, {"exp", B * H * kVisible}}));
  EXPECT_EQ(einsum(three, "AV").ops, (OpCounts{{"mac", B * H * F * kVisible}}));
  EXPECT_EQ(passes(three, "M"), 3);
  const Analysis two = analyze_file("attention-causal-2pass");
  EXPECT_EQ(einsum(two, "BQK").ops, (OpCounts{{"mac", B * H * kVisible * E}}));
  EXPECT_EQ(einsum(two, "SLNV").ops, (OpCounts{{"mac", B * H * F * kVisible}}));
  EXPECT_EQ(einsum(two, "PRM").ops, (OpCounts{{"add", B * H * visible_tiles()}, {"exp", B * H * visible_tiles()}}));
  EXPECT_EQ(einsum(two, "GM").ops, (OpCounts{{"max", B * H * M1 * P}}));  // unmasked: -inf tiles lose
  EXPECT_EQ(passes(two, "M"), 2);
  const Analysis one = analyze_file("attention-causal-1pass");
  EXPECT_EQ(one.ops.at("mac"), B * H * kVisible * (E + F));
  EXPECT_EQ(einsum(one, "SPNV").ops, (OpCounts{{"mul", B * H * F * visible_tiles()}}));
  EXPECT_EQ(einsum(one, "RD").ops, (OpCounts{{"add", B * H * visible_tiles()}}));
  EXPECT_EQ(passes(one, "M"), 1);
  // A prefill (M = P) computes exactly half the scores and the diagonal.
  const Analysis prefill =
      analyze_file("attention-causal-3pass", {{"B", "1"}, {"H", "1"}, {"KH", "1"}, {"P", "1000"}, {"E", "1"}});
  EXPECT_EQ(einsum(prefill, "QK").ops, (OpCounts{{"mac", 1000 * 1000 / 2 + 1000 / 2}}));
}

TEST(Analysis, MambaScansCountTheWorkOfTheirAlgorithms) {
  constexpr int64_t Bs = 2, T = 256, D = 48, N = 16, T0 = 32, C = T / T0;
  const std::vector<std::pair<std::string, std::string>> p = {
      {"B", "2"}, {"T", "256"}, {"D", "48"}, {"N", "16"}, {"T0", "32"}};
  const Analysis rec = analyze(test::load("configs/workloads/ssm/mamba-s6-recurrent.yaml", {p.begin(), p.end() - 1}));
  const Analysis chunked = analyze(test::load("configs/workloads/ssm/mamba-s6-chunked.yaml", p));
  constexpr int64_t steps = Bs * T * D * N;  // (b, t, d, n) points
  EXPECT_EQ(einsum(rec, "H").ops, (OpCounts{{"add", steps}, {"mul", steps}}));
  EXPECT_EQ(einsum(rec, "YS").ops, (OpCounts{{"mac", steps}}));
  // The chunked scan: the same local scan, the decay PA, the fix-up H, and the scan over chunks.
  EXPECT_EQ(einsum(chunked, "PA").ops, (OpCounts{{"mul", steps}}));
  EXPECT_EQ(einsum(chunked, "H").ops, (OpCounts{{"add", steps}, {"mul", steps}}));
  EXPECT_EQ(einsum(chunked, "HC").ops, (OpCounts{{"add", Bs * C * D * N}, {"mul", Bs * C * D * N}}));
  EXPECT_EQ(chunked.ops.at("mul") - rec.ops.at("mul"), 2 * steps + Bs * C * D * N);
  EXPECT_EQ(chunked.ops.at("add") - rec.ops.at("add"), steps + Bs * C * D * N);
  EXPECT_EQ(chunked.ops.at("exp"), rec.ops.at("exp"));
  // One pass over the sequence, or two: the local scans, then the fix-up that needs the chunks' carries.
  EXPECT_EQ(passes(rec, "T"), 1);
  EXPECT_EQ(passes(chunked, "T"), 2);
}

TEST(Analysis, KimiDeltaAttentionCountsItsStateUpdates) {
  constexpr int64_t Bs = 2, Hs = 3, T = 100, Ek = 32, Fv = 24;
  const Analysis a = analyze(test::load("configs/workloads/linear/kda-recurrent.yaml",
                                        {{"B", "2"}, {"H", "3"}, {"T", "100"}, {"E", "32"}, {"F", "24"}}));
  constexpr int64_t state = Bs * Hs * T * Ek * Fv;  // state elements over all steps
  EXPECT_EQ(einsum(a, "SA").ops, (OpCounts{{"mul", state}}));
  EXPECT_EQ(einsum(a, "KS").ops, (OpCounts{{"mac", state}}));
  EXPECT_EQ(einsum(a, "S").ops, (OpCounts{{"add", state}, {"mul", state}}));
  EXPECT_EQ(einsum(a, "O").ops, (OpCounts{{"mac", state}}));
  EXPECT_EQ(einsum(a, "KR").ops, (OpCounts{{"rsqrt", Bs * Hs * T}}));  // once per step, not per channel
  EXPECT_EQ(passes(a, "T"), 1);
}

TEST(Analysis, ChunkwiseKimiDeltaAttentionCountsTheUtTransform) {
  constexpr int64_t Bs = 2, Hs = 3, T = 128, Ek = 32, Fv = 24, T0 = 16, C = T / T0, BHC = Bs * Hs * C;
  const Analysis a =
      analyze(test::load("configs/workloads/linear/kda-chunkwise.yaml",
                         {{"B", "2"}, {"H", "3"}, {"T", "128"}, {"E", "32"}, {"F", "24"}, {"T0", "16"}}));
  constexpr int64_t lower = T0 * (T0 - 1) / 2, causal = T0 * (T0 + 1) / 2;  // pairs s < r, s <= r in a chunk
  // The forward substitution: (r, j, s) with s < j < r, one MAC each; then L's rows.
  EXPECT_EQ(einsum(a, "LZ").ops, (OpCounts{{"mac", BHC * T0 * (T0 - 1) * (T0 - 2) / 6}}));
  EXPECT_EQ(einsum(a, "L").ops, (OpCounts{{"add", BHC * lower}, {"neg", BHC * lower}}));
  EXPECT_EQ(einsum(a, "KK").ops.at("exp"), BHC * lower * Ek);
  EXPECT_EQ(einsum(a, "QK").ops.at("mac"), BHC * causal * Ek);
  EXPECT_EQ(einsum(a, "WL").ops, (OpCounts{{"mac", BHC * lower * Ek}}));
  EXPECT_EQ(einsum(a, "UL").ops, (OpCounts{{"mac", BHC * lower * Fv}}));
  EXPECT_EQ(einsum(a, "OI").ops, (OpCounts{{"mac", BHC * causal * Fv}}));
  // The state's products: per step, E x F MACs each for W S, the update and the output.
  for (const char* e : {"WS", "SK", "OS"}) EXPECT_EQ(einsum(a, e).ops, (OpCounts{{"mac", Bs * Hs * T * Ek * Fv}})) << e;
  // Two passes over the sequence: the chunks' own work, then the recurrence over chunks that needs it whole.
  EXPECT_EQ(passes(a, "T"), 2);
}

TEST(Analysis, LatentAttentionCachesALatentVectorPerToken) {
  const Cascade c = test::load("configs/workloads/linear/mla-decode.yaml");
  const Analysis a = analyze(c);
  constexpr int64_t Bs = 16, Hs = 128, Mt = 4096, DC = 512, DR = 64, DN = 128, DV = 128;
  // (DC + DR) bf16 values a token, whatever the heads: 1,152 bytes (MHA with 128 heads of 128: 65,536).
  EXPECT_EQ((c.tensor("C").bytes() + c.tensor("KR").bytes()) / (Bs * Mt), 1152);
  EXPECT_EQ(einsum(a, "SC").ops, (OpCounts{{"mac", Bs * Hs * Mt * DC}}));
  EXPECT_EQ(einsum(a, "SLNC").ops, (OpCounts{{"mac", Bs * Hs * Mt * DC}}));  // the weighted latent
  EXPECT_EQ(einsum(a, "QL").ops, (OpCounts{{"mac", Bs * Hs * DN * DC}}));
  EXPECT_EQ(einsum(a, "O").ops, (OpCounts{{"mac", Bs * Hs * DC * DV}}));
  EXPECT_EQ(einsum(a, "SR").ops, (OpCounts{{"mac", Bs * Hs * Mt * DR}}));
  EXPECT_EQ(passes(a, "M"), 1);  // the 1-pass softmax reads the cache once
}

TEST(Analysis, SelfAttentionKeepsItsKeyAndQueryIndicesApart) {
  // Keys m and queries p both run along the one rank P: the key index is walked three times (the max, the
  // exponentials and their sum, the weighted values after the sum), the query index streams through once.
  const Cascade c = load_cascade(test::temp_file("self-attention.yaml", R"(version: 1
name: self-attention
params: {P: 8, E: 4}
tensors:
  X: {ranks: [P, E]}
  Y: {ranks: [P, E], output: true}
einsums:
  - S[m,p] = X[m,e] * X[p,e]
  - GM[p] = max(m) S[m,p]
  - SE[m,p] = exp(S[m,p] - GM[p])
  - SD[p] = SE[m,p]
  - Y[p,e] = SE[m,p] * X[m,e] / SD[p]
)"));
  EXPECT_EQ(passes(analyze(c), "P"), 3);
  EXPECT_EQ(passes(analyze(test::load("configs/workloads/linear/mla-prefill.yaml",
                                      {{"P", "64"}, {"D", "32"}, {"H", "2"}, {"DC", "16"}})),
                   "P"),
            3);
}

TEST(Analysis, LatentAttentionPrefillExpandsKeysAndCountsHalfTheScores) {
  constexpr int64_t Pt = 64, D = 32, Hs = 2, DN = 128, DR = 64, DC = 16, DV = 128;
  const Analysis a = analyze(
      test::load("configs/workloads/linear/mla-prefill.yaml", {{"P", "64"}, {"D", "32"}, {"H", "2"}, {"DC", "16"}}));
  constexpr int64_t pairs = Pt * (Pt + 1) / 2;                            // causal: m <= p
  EXPECT_EQ(einsum(a, "K").ops, (OpCounts{{"mac", Hs * Pt * DN * DC}}));  // keys expanded from the latent
  EXPECT_EQ(einsum(a, "SN").ops, (OpCounts{{"mac", Hs * pairs * DN}}));
  EXPECT_EQ(einsum(a, "SR").ops, (OpCounts{{"mac", Hs * pairs * DR}}));
  EXPECT_EQ(einsum(a, "OV").ops, (OpCounts{{"mac", Hs * pairs * DV}}));
  EXPECT_EQ(einsum(a, "C").ops, (OpCounts{{"mac", Pt * D * DC}}));
}

TEST(Analysis, AKimiLinearBlockCountsThreeStateUpdatesAndOneCacheRead) {
  constexpr int64_t Hs = 32, Ek = 128, Fv = 128, DC = 512, T = 4, Mc = 8;
  const Analysis a = analyze(test::load("configs/workloads/linear/kimi-linear-layers.yaml", {{"T", "4"}, {"M", "8"}}));
  for (const char* i : {"1", "2", "3"}) {
    // Each KDA layer's state: per new token and head, E x F MACs for the read-out, the update and the output.
    EXPECT_EQ(einsum(a, std::string("KS") + i).ops, (OpCounts{{"mac", T * Hs * Ek * Fv}})) << i;
    EXPECT_EQ(einsum(a, std::string("O") + i).ops, (OpCounts{{"mac", T * Hs * Ek * Fv}})) << i;
  }
  // New token t sees the M cached tokens and the new ones up to itself.
  constexpr int64_t seen = T * Mc + T * (T + 1) / 2;
  EXPECT_EQ(einsum(a, "SC").ops, (OpCounts{{"mac", Hs * seen * DC}}));
  EXPECT_EQ(einsum(a, "OL").ops, (OpCounts{{"mac", Hs * seen * DC}}));
  // Appending the new latent entries to the cache is a copy.
  EXPECT_TRUE(einsum(a, "KC.2").ops.empty());
}

TEST(Analysis, PreRmsNormDropsTheMeansAndTheFirstAffine) {
  constexpr int64_t N = 16, D = 48;
  const std::vector<std::pair<std::string, std::string>> p = {{"N", "16"}, {"D", "48"}, {"FF", "64"}};
  const Analysis ln = analyze(test::load("configs/workloads/prenorm/pre-ln-ffn.yaml", p));
  const Analysis rms = analyze(test::load("configs/workloads/prenorm/pre-rmsnorm-ffn.yaml", p));
  auto sum = [](const Analysis& a, std::vector<std::string> names) {
    OpCounts total;
    for (const std::string& n : names)
      for (const auto& [kind, count] : einsum(a, n).ops) total[kind] += count;
    return total;
  };
  // The first norm: LayerNorm's mean, centering, gain and shift against RMSNorm alone (gain and shift folded
  // into W1G and BB by the conversion).
  EXPECT_EQ(sum(ln, {"SX", "MX", "XC", "VX", "RX", "H"}),
            (OpCounts{{"add", 3 * N * D + N}, {"div", 2 * N}, {"mac", N * D}, {"mul", 2 * N * D}, {"rsqrt", N}}));
  EXPECT_EQ(sum(rms, {"VX", "RX", "H"}),
            (OpCounts{{"add", N}, {"div", N}, {"mac", N * D}, {"mul", N * D}, {"rsqrt", N}}));
}

TEST(Analysis, PassesOverTheSequenceRank) {
  EXPECT_EQ(passes(analyze_file("attention-3pass"), "M"), 3);
  EXPECT_EQ(passes(analyze_file("attention-3pass-deferred"), "M"), 2);
  EXPECT_EQ(passes(analyze_file("attention-2pass"), "M"), 2);
  EXPECT_EQ(passes(analyze_file("attention-1pass"), "M"), 1);
  EXPECT_EQ(passes(analyze(test::load("tests/data/fusemax-cascade5.yaml")), "M"), 1);
  for (const std::string w : {"attention-3pass", "attention-2pass", "attention-1pass"}) {
    const Analysis a = analyze_file(w);
    for (const std::string r : {"B", "H", "KH", "E", "F", "P"}) EXPECT_EQ(passes(a, r), 1) << w << " rank " << r;
  }
}

// A recurrence's reads of its own earlier steps never start a pass: a scan along t that needs each row's max
// over d before its weighted sum over d takes two passes over every row, however many steps it runs. (The
// analysis used to climb one pass per round here and report its round limit, 6.)
TEST(Analysis, PassesAreExactOnRecurrences) {
  const std::string text = R"yaml(version: 1
name: scan
params: {T: 8, D: 16}
tensors:
  X: {ranks: [T, D]}
  Y: {ranks: [T], output: true}
einsums:
  - M[t] = max(d) X[t,d]
  - S[t+1] = S[t] + M[t] * X[t,d]
  - Y[t] = S[t]
init: {S: 0}
)yaml";
  const Analysis a = analyze(test::load(test::temp_file("scan.yaml", text)));
  EXPECT_EQ(passes(a, "D"), 2);
  EXPECT_EQ(passes(a, "T"), 1);
  // Within a step, a reduction its consumer needs complete is a pass all the same.
  std::string within = text;
  within.replace(within.find("  - S[t+1] = S[t] + M[t] * X[t,d]"), 33,
                 "  - N[t] = M[t] * X[t,d]\n  - Q[t] = exp(X[t,d] - N[t])\n  - S[t+1] = S[t] + Q[t]");
  EXPECT_EQ(passes(analyze(test::load(test::temp_file("scan-within.yaml", within))), "D"), 3);
}

// An index summed over a rank the output indexes with an index no operand reads is probably a typo: check warns,
// and the cascade runs as written. The intended Einsum gets no warning, nor does any shipped workload (a config
// test checks them all).
TEST(Analysis, AMistypedIndexIsWarnedAbout) {
  const std::string text = R"yaml(version: 1
name: typo
params: {N: 4, H1: 8, H2: 512}
tensors:
  H: {ranks: [N, H1]}
  W2: {ranks: [H1, H2]}
  Y: {ranks: [N, H2], output: true}
einsums:
  - Y[n,h2] = H[n,h1] * W2[h1,h3]
)yaml";
  const Analysis typo = analyze(test::load(test::temp_file("typo.yaml", text)));
  ASSERT_EQ(typo.warnings.size(), 1u);
  EXPECT_EQ(typo.warnings[0],
            "Einsum Y: 'h3' runs over rank H2 of W2 and is summed, while 'h2' runs over rank H2 of Y and no operand "
            "reads it: is 'h3' meant to be 'h2'?");
  std::string fixed = text;
  fixed.replace(fixed.find("W2[h1,h3]"), 9, "W2[h1,h2]");
  EXPECT_TRUE(analyze(test::load(test::temp_file("fixed.yaml", fixed))).warnings.empty());
  for (const std::string w : {"attention-3pass", "attention-1pass", "ffn-gelu", "layernorm"})
    EXPECT_TRUE(analyze_file(w, {}).warnings.empty()) << w;
}

TEST(Analysis, GemmAndNorms) {
  const Analysis g = analyze_file("gemm", {{"M", "3"}, {"N", "5"}, {"K", "7"}});
  EXPECT_EQ(g.ops, (OpCounts{{"mac", 3 * 5 * 7}}));
  EXPECT_EQ(passes(g, "K"), 1);
  // Layer norm: the mean must be complete before centring, the variance before scaling.
  EXPECT_EQ(passes(analyze_file("layernorm", {}), "D"), 3);
}

TEST(Analysis, ModelPresetsScaleTheCounts) {
  WorkloadOverrides o;
  o.param_files = {"configs/workloads/models/bert.yaml"};
  const Analysis a = analyze(load_cascade("configs/workloads/attention-3pass.yaml", o));
  const int64_t b = 1, h = 12, m = 1024, p = 1024, e = 64;
  EXPECT_EQ(einsum(a, "QK").ops.at("mac"), b * h * m * p * e);
}

TEST(Analysis, LlmDecodeAttentionCountsProjectionsCacheAndOutput) {
  // Distinct sizes; G = 3 query heads per KV head, F = E.
  const Analysis a = analyze_file("llm/decode-attention",
                                  {{"B", "2"}, {"D", "40"}, {"H", "6"}, {"KH", "2"}, {"E", "16"}, {"L", "96"}});
  const int64_t b = 2, d = 40, h = 6, kh = 2, e = 16, l = 96;
  EXPECT_EQ(a.ops.at("mac"), b * d * h * e + 2 * b * d * kh * e  // Q, K and V projections
                                 + 2 * b * h * l * e             // scores and the weighted sum over the cache
                                 + b * h * e * d);               // output projection
  EXPECT_EQ(a.ops.at("exp"), b * h * l);
  // Weights, the cache and the new tokens in; the new K, V and the residual out; all bf16.
  EXPECT_EQ(a.compulsory_bytes,
            2 * ((d * h * e + 2 * d * kh * e + h * e * d) + 2 * b * kh * e * l + b * d + 2 * b * kh * e + b * d));
}

TEST(Analysis, MoeExpertWorkIsTheSameUniformOrSkewed) {
  // 32 tokens x top-2 = 64 expert slots: 8 each, or 20 for each of 2 hot experts and 4 for the 6 others.
  const int64_t t = 32, d = 48, ff = 80, nx = 8, topk = 2;
  const std::vector<std::pair<std::string, std::string>> base = {
      {"T", "32"}, {"D", "48"}, {"FF", "80"}, {"NX", "8"}, {"TOPK", "2"}};
  auto skewed = base;
  skewed.emplace_back("TH", "20");
  for (const auto& params : {base, skewed}) {
    const Analysis a = analyze_file("llm/moe-ffn", params);
    EXPECT_EQ(a.ops.at("mac"), t * d * nx + 3 * t * topk * d * ff);  // router, then gate, up and down per slot
    EXPECT_EQ(a.ops.at("silu"), t * topk * ff);
  }
}

}  // namespace
}  // namespace einsim
