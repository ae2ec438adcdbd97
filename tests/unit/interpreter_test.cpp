#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "tests/unit/test_util.hpp"
#include "workloads/analysis.hpp"
#include "workloads/interpreter.hpp"
#include "workloads/npy.hpp"

namespace einsim {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

EvalOptions exact() {
  EvalOptions o;
  o.fp64 = true;
  o.ideal = true;
  return o;
}

std::vector<double> run(const std::string& file, const Params& params, const TensorValues& inputs,
                        const EvalOptions& o = exact()) {
  return evaluate(test::load(file, params), inputs, o).at("AV");
}

TEST(Interpreter, HandComputedAttention) {
  // One query against two keys: scores 0 and ln 2, so the softmax weights are 1/3 and 2/3,
  // and with values 3 and 6 the output is 3/3 + 12/3 = 5.
  const Params p = {{"B", "1"}, {"H", "1"}, {"KH", "1"}, {"M", "2"}, {"P", "1"}, {"E", "1"}, {"F", "1"}};
  Params tiled = p;
  tiled.emplace_back("M0", "1");
  const TensorValues in = {{"Q", {1.0}}, {"K", {0.0, std::log(2.0)}}, {"V", {3.0, 6.0}}};
  for (const std::string w : {"attention-3pass", "attention-3pass-deferred"})
    EXPECT_NEAR(run("configs/workloads/" + w + ".yaml", p, in)[0], 5.0, 1e-14) << w;
  for (const std::string w : {"attention-2pass", "attention-1pass"})
    EXPECT_NEAR(run("configs/workloads/" + w + ".yaml", tiled, in)[0], 5.0, 1e-14) << w;
}

TEST(Interpreter, HandComputedGemm) {
  const TensorValues in = {{"A", {1, 2, 3, 4, 5, 6}}, {"B", {1, 0, -1, 2, 0.5, 0.25}}};  // 2x3 times 3x2
  const TensorValues out =
      evaluate(test::load("configs/workloads/gemm.yaml", {{"M", "2"}, {"K", "3"}, {"N", "2"}}), in, exact());
  EXPECT_EQ(out.at("Z"), (std::vector<double>{1 - 2 + 1.5, 0 + 4 + 0.75, 4 - 5 + 3, 0 + 10 + 1.5}));
}

TEST(Interpreter, AllAttentionCascadesAgreeWithNaiveAttention) {
  const uint64_t seed = test::seed();
  const Params p = {{"B", "2"}, {"H", "2"}, {"KH", "2"}, {"M", "256"}, {"P", "48"}, {"E", "16"}, {"F", "8"}};
  Params naive_p = p;
  naive_p.erase(naive_p.begin() + 2);  // no KH
  const Cascade naive = test::load("tests/data/mha-naive.yaml", naive_p);
  const TensorValues in = random_inputs(naive, seed);
  const std::vector<double> reference = evaluate(naive, in, exact()).at("AV");
  for (const std::string w : {"attention-3pass", "attention-3pass-deferred", "attention-2pass", "attention-1pass"}) {
    Params wp = p;
    if (w == "attention-2pass" || w == "attention-1pass") wp.emplace_back("M0", "64");
    const ErrorStats s = compare_values(run("configs/workloads/" + w + ".yaml", wp, in), reference);
    EXPECT_LE(s.max_abs_err, 1e-9) << w << " seed " << seed;
  }
}

TEST(Interpreter, GroupedQueryAttentionEqualsMhaWithSharedKeys) {
  const uint64_t seed = test::seed();
  constexpr int64_t H = 4, KH = 2, G = H / KH, M = 64, E = 8, F = 8;  // P = 16
  const Params gqa = {{"H", "4"}, {"KH", "2"}, {"M", "64"}, {"P", "16"}, {"E", "8"}, {"F", "8"}, {"M0", "16"}};
  const Cascade c = test::load("configs/workloads/attention-1pass.yaml", gqa);
  const TensorValues in = random_inputs(c, seed);
  // MHA with every query head given its group's K and V.
  TensorValues mha = {{"Q", in.at("Q")}, {"K", {}}, {"V", {}}};
  for (int64_t h = 0; h < H; ++h) {
    const auto k0 = in.at("K").begin() + (h / G) * E * M, v0 = in.at("V").begin() + (h / G) * F * M;
    mha["K"].insert(mha["K"].end(), k0, k0 + E * M);
    mha["V"].insert(mha["V"].end(), v0, v0 + F * M);
  }
  const std::vector<double> want =
      run("tests/data/mha-naive.yaml", {{"H", "4"}, {"M", "64"}, {"P", "16"}, {"E", "8"}, {"F", "8"}}, mha);
  EXPECT_LE(compare_values(evaluate(c, in, exact()).at("AV"), want).max_abs_err, 1e-9) << "seed " << seed;
  // One query head per kv head is MHA itself.
  const Params one = {{"H", "2"}, {"KH", "2"}, {"M", "64"}, {"P", "16"}, {"E", "8"}, {"F", "8"}, {"M0", "16"}};
  const Cascade c1 = test::load("configs/workloads/attention-1pass.yaml", one);
  const TensorValues in1 = random_inputs(c1, seed);
  const std::vector<double> mha1 =
      run("tests/data/mha-naive.yaml", {{"H", "2"}, {"M", "64"}, {"P", "16"}, {"E", "8"}, {"F", "8"}}, in1);
  EXPECT_LE(compare_values(evaluate(c1, in1, exact()).at("AV"), mha1).max_abs_err, 1e-9) << "seed " << seed;
}

TEST(Interpreter, ScalarOperatorsAtKnownPoints) {
  const std::string f = test::temp_file("ops.yaml", R"(version: 1
name: ops
params: {N: 4}
tensors:
  X: {ranks: [N]}
  C: {ranks: [N]}
  LOG: {output: true}
  SIG: {output: true}
  SP: {output: true}
  SIN: {output: true}
  COS: {output: true}
  FL: {output: true}
  SEL: {output: true}
  FOLD: {output: true}
einsums:
  - LOG[n] = log(X[n])
  - SIG[n] = sigmoid(X[n])
  - SP[n] = softplus(X[n])
  - SIN[n] = sin(X[n])
  - COS[n] = cos(X[n])
  - FL[n] = floor(X[n])
  - SEL[n] = select(C[n], X[n], -X[n])
  - FOLD[n] = select(0, 7, X[n]) + select(2, 1, 5)
)");
  const double e = std::exp(1.0), pi = std::acos(-1.0);
  const TensorValues out =
      evaluate(test::load(f), {{"X", {e, 0.0, -1.5, 100.0}}, {"C", {1.0, 0.0, -2.0, 0.0}}}, exact());
  EXPECT_NEAR(out.at("LOG")[0], 1.0, 1e-15);
  EXPECT_EQ(out.at("SIG")[1], 0.5);
  EXPECT_NEAR(out.at("SP")[1], std::log(2.0), 1e-15);
  EXPECT_EQ(out.at("SP")[3], 100.0);  // no overflow through e^100
  EXPECT_EQ(out.at("FL")[2], -2.0);
  EXPECT_EQ(out.at("COS")[1], 1.0);
  EXPECT_EQ(out.at("SEL"), (std::vector<double>{e, -0.0, -1.5, -100.0}));
  EXPECT_EQ(out.at("FOLD"), (std::vector<double>{e + 1, 1.0, -0.5, 101.0}));
  const TensorValues trig = evaluate(test::load(f), {{"X", {pi / 2, pi, 0.0, 0.0}}, {"C", {0, 0, 0, 0}}}, exact());
  EXPECT_EQ(trig.at("SIN")[0], 1.0);
  EXPECT_EQ(trig.at("COS")[1], -1.0);
  // Each is one operation of its own kind per point; a select of constants folds away.
  const Cascade c = test::load(f);
  const std::map<std::string, OpCounts> want = {
      {"LOG", {{"log", 4}}}, {"SIG", {{"sigmoid", 4}}}, {"SP", {{"softplus", 4}}}, {"SIN", {{"sin", 4}}},
      {"COS", {{"cos", 4}}}, {"FL", {{"floor", 4}}},     {"SEL", {{"neg", 4}, {"select", 4}}},
      {"FOLD", {{"add", 4}, {"select", 4}}}};
  for (const Einsum& x : c.einsums) {
    EXPECT_EQ(einsum_ops(x), want.at(x.name)) << x.name;
  }
}

TEST(Interpreter, WhereClausesComputeOnlyTheKeptPoints) {
  const std::string f = test::temp_file("where.yaml", R"(version: 1
name: where
params: {M: 4, P: 4}
tensors:
  X: {ranks: [M]}
  L: {output: true}
  MX: {output: true}
  S: {output: true}
  R: {output: true}
  D: {output: true}
einsums:
  - L[m, p] = X[m] + 10 where m <= p
  - MX[p] = max(m) X[m] where m > p
  - S[p] = X[m] where m <= p and m >= p - 1
  - R[t+1] = R[t] + X[t] where t <= 1
  - D[m, p] = X[m] where m == p
init: {R: 5}
)");
  const double inf = std::numeric_limits<double>::infinity();
  const TensorValues out = evaluate(test::load(f), {{"X", {1, 2, 4, 8}}}, exact());
  // Masked elements hold 0; a max over no point its identity; a band sums two neighbours.
  EXPECT_EQ(out.at("L"), (std::vector<double>{11, 11, 11, 11, 0, 12, 12, 12, 0, 0, 14, 14, 0, 0, 0, 18}));
  EXPECT_EQ(out.at("MX"), (std::vector<double>{8, 8, 8, -inf}));
  EXPECT_EQ(out.at("S"), (std::vector<double>{1, 3, 6, 12}));
  // A recurrence's masked steps carry its state.
  EXPECT_EQ(out.at("R"), (std::vector<double>{5, 6, 8, 8, 8}));
  EXPECT_EQ(out.at("D"), (std::vector<double>{1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 4, 0, 0, 0, 0, 8}));
  const Cascade c = test::load(f);
  const std::map<std::string, int64_t> points = {{"L", 10}, {"MX", 6}, {"S", 7}, {"R", 2}, {"D", 4}};
  for (const Einsum& e : c.einsums) EXPECT_EQ(e.points(), points.at(e.name)) << e.name;
}

TEST(Interpreter, ACausalConvolutionReadsOnlyWhereItsMaskKeeps) {
  // Y[t] = sum_k W[k] X[t + k - 3]: the taps before the sequence's start are masked, not read (no padding).
  const std::string conv = R"(version: 1
name: conv
params: {T: 5, K: 4}
tensors:
  X: {ranks: [T]}
  W: {ranks: [K]}
  Y: {ranks: [T], output: true}
einsums:
  - Y[t] = W[k] * X[t + k - 3] where t + k >= 3
)";
  const std::string f = test::temp_file("conv.yaml", conv);
  const TensorValues out = evaluate(test::load(f), {{"X", {1, 2, 3, 4, 5}}, {"W", {1, 10, 100, 1000}}}, exact());
  EXPECT_EQ(out.at("Y"), (std::vector<double>{1000, 2100, 3210, 4321, 5432}));
  EXPECT_EQ(test::load(f).einsums.begin()->points(), 20 - 6);  // 3 + 2 + 1 masked taps
  // A mask that keeps one tap too many reads outside the tensor.
  std::string unmasked = conv;
  unmasked.replace(unmasked.find(">= 3"), 4, ">= 2");
  EXPECT_NE(test::load_error(unmasked).find("spans [-1, 4] but rank T of 'X' has extent 5"), std::string::npos)
      << test::load_error(unmasked);
}

TEST(Interpreter, ChunkedAndRecurrentMambaScansAgree) {
  const uint64_t seed = test::seed();
  const Params p = {{"B", "2"}, {"T", "96"}, {"D", "8"}, {"N", "4"}, {"T0", "16"}};
  Params recurrent_p(p.begin(), p.end() - 1);
  const Cascade recurrent = test::load("configs/workloads/ssm/mamba-s6-recurrent.yaml", recurrent_p);
  const TensorValues in = random_inputs(recurrent, seed);
  const std::vector<double> want = evaluate(recurrent, in, exact()).at("Y");
  const std::vector<double> got =
      evaluate(test::load("configs/workloads/ssm/mamba-s6-chunked.yaml", p), in, exact()).at("Y");
  EXPECT_LE(compare_values(got, want).max_abs_err, 1e-12) << "seed " << seed;
  // In fp32, with the outputs rounded to bf16: at most one bf16 step apart.
  const std::vector<double> want32 = evaluate(recurrent, in, EvalOptions{}).at("Y");
  const std::vector<double> got32 =
      evaluate(test::load("configs/workloads/ssm/mamba-s6-chunked.yaml", p), in, EvalOptions{}).at("Y");
  double largest = 0;
  for (double w : want32) largest = std::max(largest, std::abs(w));
  for (size_t i = 0; i < want32.size(); ++i)
    EXPECT_LE(std::abs(got32[i] - want32[i]), std::abs(want32[i]) * 0x1p-7 + 1e-30)
        << i << " seed " << seed << " largest " << largest;
}

TEST(Interpreter, ForwardSubstitutionSolvesAUnitLowerTriangularSystem) {
  // (I + A) X = B with A strictly lower triangular, one row of X per step: X[i] = B[i] - sum_{j<i} A[i,j] X[j].
  const Cascade c = load_cascade(test::temp_file("forward-substitution.yaml", R"(version: 1
name: forward-substitution
params: {N: 5, F: 2}
tensors:
  A: {ranks: [N, N]}
  B: {ranks: [N, F]}
  X: {ranks: [N, F], output: true}
einsums:
  - Z[i,f] = A[i,j] * X[j,f] where j < i
  - X[i,f] = B[i,f] - Z[i,f]
)"));
  ASSERT_EQ(c.schedule.size(), 1u);
  EXPECT_EQ(c.schedule[0].step_var, "i");
  const uint64_t seed = test::seed();
  const TensorValues in = random_inputs(c, seed);
  const std::vector<double>& a = in.at("A");
  const std::vector<double>& b = in.at("B");
  std::vector<double> want(10);
  for (int i = 0; i < 5; ++i)
    for (int f = 0; f < 2; ++f) {
      double z = 0;
      for (int j = 0; j < i; ++j) z += a[static_cast<size_t>(i * 5 + j)] * want[static_cast<size_t>(j * 2 + f)];
      want[static_cast<size_t>(i * 2 + f)] = b[static_cast<size_t>(i * 2 + f)] - z;
    }
  EXPECT_EQ(evaluate(c, in, exact()).at("X"), want) << "seed " << seed;  // the same operations in the same order
}

TEST(Interpreter, ChunkwiseAndRecurrentKimiDeltaAttentionAgree) {
  const uint64_t seed = test::seed();
  const Params p = {{"B", "2"}, {"H", "2"}, {"T", "96"}, {"E", "8"}, {"F", "6"}, {"T0", "16"}};
  const Cascade recurrent = test::load("configs/workloads/linear/kda-recurrent.yaml", {p.begin(), p.end() - 1});
  const Cascade chunkwise = test::load("configs/workloads/linear/kda-chunkwise.yaml", p);
  const TensorValues in = random_inputs(recurrent, seed);
  const std::vector<double> want = evaluate(recurrent, in, exact()).at("O");
  EXPECT_LE(compare_values(evaluate(chunkwise, in, exact()).at("O"), want).max_abs_err, 1e-12) << "seed " << seed;
  // In fp32, with the outputs rounded to bf16: at most one bf16 step apart, or, for an output that cancels to
  // near zero, a few fp32 steps of the largest output (the two orders round terms of that size differently: at
  // seed 337167558 an output of 2.15e-7 differs by 1.2e-8, the largest output being 0.59; with a bf16 step of the
  // output alone, 3 seeds of 300 failed).
  const std::vector<double> want32 = evaluate(recurrent, in, EvalOptions{}).at("O");
  const std::vector<double> got32 = evaluate(chunkwise, in, EvalOptions{}).at("O");
  double largest = 0;
  for (double w : want32) largest = std::max(largest, std::abs(w));
  for (size_t i = 0; i < want32.size(); ++i)
    EXPECT_LE(std::abs(got32[i] - want32[i]), std::max(std::abs(want32[i]) * 0x1p-7, largest * 0x1p-22))
        << i << " seed " << seed;
}

TEST(Interpreter, AScanContinuedFromItsCachedStateEqualsOneLongScan) {
  // 96 steps at once, or 64 from a zero state and then 32 from the state the first 64 left (init: {H: H0}).
  const uint64_t seed = test::seed();
  constexpr int64_t Bs = 2, T = 96, T1 = 64, D = 8, N = 4;
  const Cascade whole =
      test::load("configs/workloads/ssm/mamba-s6-recurrent.yaml", {{"B", "2"}, {"T", "96"}, {"D", "8"}, {"N", "4"}});
  TensorValues in = random_inputs(whole, seed);
  const std::vector<double> want = evaluate(whole, in, exact()).at("Y");
  // Steps [from, to) of a [B, T, X] input.
  auto steps = [&](const std::vector<double>& v, int64_t from, int64_t to) {
    const int64_t width = static_cast<int64_t>(v.size()) / (Bs * T);
    std::vector<double> out;
    for (int64_t b = 0; b < Bs; ++b)
      out.insert(out.end(), v.begin() + (b * T + from) * width, v.begin() + (b * T + to) * width);
    return out;
  };
  auto part = [&](int64_t from, int64_t to, std::vector<double> state) {
    TensorValues p = {{"DTB", in.at("DTB")}, {"ALOG", in.at("ALOG")}, {"DS", in.at("DS")}, {"H0", std::move(state)}};
    for (const char* name : {"X", "DT", "BM", "CM"}) p[name] = steps(in.at(name), from, to);
    return evaluate(test::load("configs/workloads/ssm/mamba-s6-decode.yaml",
                               {{"B", "2"}, {"T", std::to_string(to - from)}, {"D", "8"}, {"N", "4"}}),
                    p, exact());
  };
  const TensorValues first = part(0, T1, std::vector<double>(Bs * D * N, 0.0));
  const TensorValues second = part(T1, T, first.at("HN"));
  EXPECT_EQ(first.at("Y"), steps(want, 0, T1)) << "seed " << seed;
  EXPECT_EQ(second.at("Y"), steps(want, T1, T)) << "seed " << seed;
}

TEST(Interpreter, AMambaBlockDecodeStepContinuesThePrefill) {
  // Four tokens through mamba-block.yaml, or three and then one decode step from the states they leave: the
  // convolution's last K - 1 inputs (X0 at t = 0..2) and the scan's state (H at t = 3).
  const uint64_t seed = test::seed();
  constexpr int64_t Bs = 2, T = 4, DM = 8, D = 16, N = 4, K = 4;
  const Params p = {{"B", "2"}, {"DM", "8"}, {"N", "4"}, {"R", "2"}, {"K", "4"}};
  Params prefill_p = p;
  prefill_p.emplace_back("T", "4");
  const Cascade prefill = test::load("configs/workloads/ssm/mamba-block.yaml", prefill_p);
  const Cascade decode = test::load("configs/workloads/ssm/mamba-block-decode.yaml", p);
  const TensorValues in = random_inputs(prefill, seed);
  const TensorValues all = evaluate(prefill, in, exact());
  TensorValues step;
  for (const char* w : {"WX", "WZ", "CB", "WR", "WB", "WCM", "WDT", "DTB", "ALOG", "DS", "WO"}) step[w] = in.at(w);
  const std::vector<double>& wc = in.at("WC");  // [D, K]
  for (int64_t d = 0; d < D; ++d) {
    for (int64_t k = 0; k < K - 1; ++k) step["WCS"].push_back(wc[static_cast<size_t>(d * K + k)]);
    step["WCN"].push_back(wc[static_cast<size_t>(d * K + K - 1)]);
  }
  auto at = [](const std::vector<double>& v, int64_t i) { return v[static_cast<size_t>(i)]; };
  for (int64_t b = 0; b < Bs; ++b) {
    for (int64_t m = 0; m < DM; ++m) step["U"].push_back(at(in.at("U"), (b * T + T - 1) * DM + m));
    for (int64_t d = 0; d < D; ++d)
      for (int64_t t = 0; t < K - 1; ++t) step["CS"].push_back(at(all.at("X0"), (b * T + t) * D + d));
    for (int64_t d = 0; d < D; ++d)
      for (int64_t n = 0; n < N; ++n) step["H0"].push_back(at(all.at("H"), ((b * (T + 1) + T - 1) * D + d) * N + n));
  }
  const std::vector<double> got = evaluate(decode, step, exact()).at("O");
  std::vector<double> want;
  for (int64_t b = 0; b < Bs; ++b)
    for (int64_t m = 0; m < DM; ++m) want.push_back(at(all.at("O"), (b * T + T - 1) * DM + m));
  EXPECT_LE(compare_values(got, want).max_abs_err, 1e-12) << "seed " << seed;
  std::vector<double> state;  // the scan's new state is the prefill's after its fourth token
  for (int64_t b = 0; b < Bs; ++b)
    for (int64_t i = 0; i < D * N; ++i) state.push_back(at(all.at("H"), (b * (T + 1) + T) * D * N + i));
  EXPECT_LE(compare_values(evaluate(decode, step, exact()).at("HN"), state).max_abs_err, 1e-12) << "seed " << seed;
}

TEST(Interpreter, LatentAttentionEqualsItsExplicitForm) {
  // MLA's absorbed decode against the heads' keys and values expanded from the latent cache.
  const uint64_t seed = test::seed();
  const Params p = {{"B", "2"}, {"H", "3"}, {"M", "40"}, {"DN", "8"}, {"DR", "4"}, {"DC", "16"}, {"DV", "8"}};
  const Cascade explicit_form = test::load("tests/data/mla-explicit.yaml", p);
  const TensorValues in = random_inputs(explicit_form, seed);
  const std::vector<double> want = evaluate(explicit_form, in, exact()).at("O");
  Params blocks = p;
  blocks.emplace_back("M0", "8");  // 5 blocks of the 1-pass softmax
  const std::vector<double> got =
      evaluate(test::load("configs/workloads/linear/mla-decode.yaml", blocks), in, exact()).at("O");
  const ErrorStats e = compare_values(got, want);
  EXPECT_LE(e.max_abs_err, 1e-12) << "seed " << seed;
  EXPECT_GT(std::abs(want[0]) + std::abs(want[1]), 1e-3);  // not vanishing values
}

TEST(Interpreter, LatentAttentionPrefillsLastQueryEqualsADecodeStep) {
  // The prompt's last query through mla-prefill.yaml (keys expanded, 3-pass causal softmax) against
  // mla-decode.yaml (absorbed, 1-pass) on the latent cache the prompt leaves.
  const uint64_t seed = test::seed();
  constexpr int64_t P = 24, Hs = 3, DN = 8, DR = 4, DV = 8;
  const Params shape = {{"H", "3"}, {"DN", "8"}, {"DR", "4"}, {"DC", "12"}, {"DV", "8"}};
  Params pp = shape;
  pp.insert(pp.end(), {{"B", "1"}, {"P", "24"}, {"D", "16"}});
  const Cascade prefill = test::load("configs/workloads/linear/mla-prefill.yaml", pp);
  const TensorValues in = random_inputs(prefill, seed);
  const TensorValues all = evaluate(prefill, in, exact());
  Params dp = shape;
  dp.insert(dp.end(), {{"B", "1"}, {"M", "24"}, {"M0", "8"}});
  TensorValues step = {{"C", all.at("C")}, {"KR", all.at("KR")}, {"WUK", in.at("WUK")}, {"WUV", in.at("WUV")}};
  for (int64_t h = 0; h < Hs; ++h) {
    for (int64_t n = 0; n < DN; ++n) step["QN"].push_back(all.at("QN")[static_cast<size_t>((h * P + P - 1) * DN + n)]);
    for (int64_t r = 0; r < DR; ++r) step["QR"].push_back(all.at("QR")[static_cast<size_t>((h * P + P - 1) * DR + r)]);
  }
  const std::vector<double> got =
      evaluate(test::load("configs/workloads/linear/mla-decode.yaml", dp), step, exact()).at("O");
  std::vector<double> want;
  for (int64_t h = 0; h < Hs; ++h)
    for (int64_t v = 0; v < DV; ++v) want.push_back(all.at("OV")[static_cast<size_t>((h * P + P - 1) * DV + v)]);
  EXPECT_LE(compare_values(got, want).max_abs_err, 1e-12) << "seed " << seed;
}

TEST(Interpreter, SlicesPaddingAndConcatenation) {
  // A slice is an offset read, padding a masked write (masked elements hold 0), a concatenation a tensor
  // written in parts.
  const Cascade c = load_cascade(test::temp_file("ranks.yaml", R"(version: 1
name: ranks
params: {M: 6, MS: 3, MP: M+4, MA: 4, MB: 2, MC: MA+MB}
tensors:
  X:  {ranks: [M]}
  A:  {ranks: [MA]}
  B:  {ranks: [MB]}
  S:  {ranks: [MS], output: true}
  P:  {ranks: [MP], output: true}
  C:  {ranks: [MC], output: true}
einsums:
  - S[ms] = X[ms + 2]                                  # the slice X[2:5]
  - P[mp] = X[mp - 2] where mp >= 2 and mp < M + 2     # two zeros on each side
  - C[mc] = A[mc] where mc < MA
  - C[mc] = -B[mc - MA] where mc >= MA
)"));
  const TensorValues in = {{"X", {1, 2, 3, 4, 5, 6}}, {"A", {7, 8, 9, 10}}, {"B", {11, 12}}};
  const TensorValues out = evaluate(c, in, exact());
  EXPECT_EQ(out.at("S"), (std::vector<double>{3, 4, 5}));
  EXPECT_EQ(out.at("P"), (std::vector<double>{0, 0, 1, 2, 3, 4, 5, 6, 0, 0}));
  EXPECT_EQ(out.at("C"), (std::vector<double>{7, 8, 9, 10, -11, -12}));
  EXPECT_EQ(c.einsums[c.tensor("C").pieces[1]].name, "C.2");  // the parts are named C.1 and C.2
}

TEST(Interpreter, AKimiLinearBlockDecodesAsItPrefills) {
  // Two new tokens through the 3 KDA : 1 MLA block at once, or one and then the other from the states and the
  // cache the first leaves (its KDA states, its latent entries appended to the MLA cache).
  const uint64_t seed = test::seed();
  constexpr int64_t D = 8, DC = 6, DR = 2, M = 5;
  const Params shape = {{"B", "1"},  {"D", "8"},  {"H", "2"},  {"E", "4"}, {"F", "3"},
                        {"DN", "4"}, {"DR", "2"}, {"DC", "6"}, {"DV", "3"}};
  auto with = [&](int64_t t, int64_t m) {
    Params p = shape;
    p.insert(p.end(), {{"T", std::to_string(t)}, {"M", std::to_string(m)}});
    return test::load("configs/workloads/linear/kimi-linear-layers.yaml", p);
  };
  const Cascade both = with(2, M);
  const TensorValues in = random_inputs(both, seed);
  const TensorValues want = evaluate(both, in, exact());
  auto rows = [](const std::vector<double>& v, int64_t first, int64_t count, int64_t width) {
    return std::vector<double>(v.begin() + first * width, v.begin() + (first + count) * width);
  };
  TensorValues step = in;
  step["X1"] = rows(in.at("X1"), 0, 1, D);
  const TensorValues first = evaluate(with(1, M), step, exact());
  step["X1"] = rows(in.at("X1"), 1, 1, D);
  for (const char* s : {"1", "2", "3"}) step[std::string("S0") + s] = first.at(std::string("SN") + s);
  step["CC"].insert(step["CC"].end(), first.at("C").begin(), first.at("C").end());
  step["CR"].insert(step["CR"].end(), first.at("KR").begin(), first.at("KR").end());
  const TensorValues second = evaluate(with(1, M + 1), step, exact());
  auto near = [&](const std::vector<double>& got, const std::vector<double>& expect) {
    ASSERT_EQ(got.size(), expect.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], expect[i], 1e-9 * std::max(1.0, std::abs(expect[i]))) << i << " seed " << seed;
  };
  near(first.at("X5"), rows(want.at("X5"), 0, 1, D));
  near(second.at("X5"), rows(want.at("X5"), 1, 1, D));
  near(second.at("SN3"), want.at("SN3"));
  near(second.at("C"), rows(want.at("C"), 1, 1, DC));
  near(second.at("KR"), rows(want.at("KR"), 1, 1, DR));
}

TEST(Interpreter, PreRmsNormEqualsPreLn) {
  // Jiang et al.: with the main branch kept zero-mean, LayerNorm is RMSNorm; the next block's norm sees the same
  // values in both forms.
  const uint64_t seed = test::seed();
  const Params p = {{"N", "8"}, {"D", "24"}, {"FF", "40"}};
  const Cascade ln = test::load("configs/workloads/prenorm/pre-ln-ffn.yaml", p);
  const TensorValues in = random_inputs(ln, seed);
  const std::vector<double> want = evaluate(ln, in, exact()).at("Z");
  for (const char* form : {"pre-rmsnorm-ffn", "pre-crmsnorm-ffn"}) {  // the branch whole, or in D - 1 values
    const std::vector<double> got =
        evaluate(test::load(std::string("configs/workloads/prenorm/") + form + ".yaml", p), in, exact()).at("Z");
    EXPECT_LE(compare_values(got, want).max_abs_err, 1e-12) << form << " seed " << seed;
  }
}

TEST(Interpreter, StoredTensorsAreRoundedToTheirDtype) {
  const Cascade c = test::load("configs/workloads/gemm.yaml", {{"M", "4"}, {"K", "8"}, {"N", "4"}});
  const TensorValues in = random_inputs(c, test::seed());
  EvalOptions stored;  // fp32 arithmetic, bf16 inputs
  const TensorValues out = evaluate(c, in, stored);
  for (const std::string t : {"A", "B"}) {
    for (double x : out.at(t)) EXPECT_EQ(x, round_to(DType::bf16, x));
    EXPECT_NE(out.at(t), in.at(t));  // random values are not all bf16 already
  }
  const std::vector<double> ideal = evaluate(c, in, exact()).at("Z");
  EXPECT_LE(compare_values(out.at("Z"), ideal).max_abs_err, 8 * 8 * 1.0 / 128);  // K * |a||b| * 2 ulp(bf16) bound
}

TEST(Interpreter, SameSeedSameValuesByName) {
  EXPECT_EQ(random_values("Q", 100, 7), random_values("Q", 100, 7));
  EXPECT_NE(random_values("Q", 100, 7), random_values("K", 100, 7));
  EXPECT_NE(random_values("Q", 100, 7), random_values("Q", 100, 8));
  for (double x : random_values("Q", 1000, test::seed())) {
    EXPECT_GE(x, -1.0);
    EXPECT_LT(x, 1.0);
  }
}

TEST(Numerics, RoundToNearestEven) {
  EXPECT_EQ(round_to(DType::bf16, 1.0 + 0x1p-8), 1.0);                     // tie, to even
  EXPECT_EQ(round_to(DType::bf16, 1.0 + 3 * 0x1p-8), 1.0 + 0x1p-6);        // tie, to even (up)
  EXPECT_EQ(round_to(DType::bf16, 1.0 + 0x1p-8 + 0x1p-20), 1.0 + 0x1p-7);  // above the tie
  EXPECT_EQ(round_to(DType::fp16, 65519.0), 65504.0);
  EXPECT_EQ(round_to(DType::fp16, 65520.0), INFINITY);  // the tie above the largest finite rounds to infinity
  EXPECT_EQ(round_to(DType::fp16, -0x1p-25), -0.0);     // half the smallest subnormal: tie to zero
  EXPECT_EQ(round_to(DType::fp16, 3 * 0x1p-26), 0x1p-24);
  EXPECT_EQ(round_to(DType::fp32, 1.0 + 0x1p-30), 1.0);
  EXPECT_EQ(round_to(DType::fp32, 0.1), static_cast<double>(0.1f));
  EXPECT_TRUE(std::isnan(round_to(DType::bf16, NAN)));
}

TEST(Numerics, Fp8AndFp4FollowOcp) {
  // e4m3: 3 fraction bits, largest 448, no infinities.
  EXPECT_EQ(round_to(DType::fp8_e4m3, 449.0), 448.0);
  EXPECT_EQ(round_to(DType::fp8_e4m3, 464.0), 448.0);         // tie between 448 and 480: to even (448 = 1.110b x 2^8)
  EXPECT_TRUE(std::isnan(round_to(DType::fp8_e4m3, 465.0)));  // past the largest value: NaN, unless saturating
  EXPECT_EQ(round_to(DType::fp8_e4m3, 465.0, Rounding{true, nullptr}), 448.0);
  EXPECT_EQ(round_to(DType::fp8_e4m3, 1.0625), 1.0);          // tie, to even
  EXPECT_EQ(round_to(DType::fp8_e4m3, 3 * 0x1p-11), 0x1p-9);  // the smallest subnormal
  EXPECT_EQ(round_to(DType::fp8_e4m3, 0x1p-10), 0.0);         // half of it: tie to zero
  // e5m2: IEEE-like, largest 57,344, overflow to infinity from half an ulp (4,096) above it.
  EXPECT_EQ(round_to(DType::fp8_e5m2, 60000.0), 57344.0);
  EXPECT_EQ(round_to(DType::fp8_e5m2, 61440.0), INFINITY);
  EXPECT_EQ(round_to(DType::fp8_e5m2, -INFINITY), -INFINITY);
  EXPECT_EQ(round_to(DType::fp8_e5m2, 0x1p-16), 0x1p-16);
  // fp4 e2m1: +-{0, 0.5, 1, 1.5, 2, 3, 4, 6}; no infinities or NaN, so it always saturates.
  EXPECT_EQ(round_to(DType::fp4_e2m1, 0.25), 0.0);
  EXPECT_EQ(round_to(DType::fp4_e2m1, 0.75), 1.0);
  EXPECT_EQ(round_to(DType::fp4_e2m1, 2.5), 2.0);
  EXPECT_EQ(round_to(DType::fp4_e2m1, 5.0), 4.0);
  EXPECT_EQ(round_to(DType::fp4_e2m1, 7.0), 6.0);
  EXPECT_EQ(round_to(DType::fp4_e2m1, -3.2), -3.0);
  for (double x = -8; x <= 8; x += 0.125) {
    const double y = std::fabs(round_to(DType::fp4_e2m1, x));
    EXPECT_TRUE(y == 0 || y == 0.5 || y == 1 || y == 1.5 || y == 2 || y == 3 || y == 4 || y == 6) << x;
  }
}

// Every finite value a float format can hold, decoded from its bit codes (sign, exponent, fraction; subnormals
// at the smallest exponent), written here from the format definitions rather than from dtype.cpp.
std::vector<double> finite_values(int exponent_bits, int fraction_bits, bool ieee_specials, bool e4m3_nan) {
  const int bias = (1 << (exponent_bits - 1)) - 1;
  std::vector<double> out;
  for (int code = 0; code < (1 << (1 + exponent_bits + fraction_bits)); ++code) {
    const int fraction = code & ((1 << fraction_bits) - 1);
    const int exponent = (code >> fraction_bits) & ((1 << exponent_bits) - 1);
    const bool negative = code >> (exponent_bits + fraction_bits);
    if (ieee_specials && exponent == (1 << exponent_bits) - 1) continue;                                     // inf, NaN
    if (e4m3_nan && exponent == (1 << exponent_bits) - 1 && fraction == (1 << fraction_bits) - 1) continue;  // NaN
    const double m =
        exponent == 0 ? fraction * std::ldexp(1.0, -fraction_bits) : 1 + fraction * std::ldexp(1.0, -fraction_bits);
    const double v = std::ldexp(m, (exponent == 0 ? 1 : exponent) - bias);
    out.push_back(negative ? -v : v);
  }
  return out;
}

TEST(Numerics, EveryRepresentableValueRoundTrips) {
  struct Format {
    DType t;
    int e, f;
    bool ieee, e4m3;
    double largest;
  };
  const Format formats[] = {{DType::bf16, 8, 7, true, false, 0x1.fep127},
                            {DType::fp16, 5, 10, true, false, 65504},
                            {DType::fp8_e4m3, 4, 3, false, true, 448},
                            {DType::fp8_e5m2, 5, 2, true, false, 57344},
                            {DType::fp4_e2m1, 2, 1, false, false, 6}};
  for (const Format& f : formats) {
    const std::vector<double> values = finite_values(f.e, f.f, f.ieee, f.e4m3);
    double top = 0;
    for (double v : values) {
      EXPECT_EQ(round_to(f.t, v), v) << dtype_name(f.t) << " " << v;
      top = std::max(top, v);
    }
    EXPECT_EQ(top, f.largest) << dtype_name(f.t);
    // Between two neighbours, the midpoint goes to the one with the even code (bit 0 clear).
    std::vector<double> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());  // +0 and -0
    for (size_t i = 1; i < sorted.size(); ++i) {
      const double lo = sorted[i - 1], hi = sorted[i], mid = (lo + hi) / 2;
      const double got = round_to(f.t, mid);
      ASSERT_TRUE(got == lo || got == hi) << dtype_name(f.t) << " " << mid;
      // The even neighbour: the one whose magnitude's last fraction bit is 0.
      const double mag = std::fabs(got == lo ? lo : hi);
      const double other = std::fabs(got == lo ? hi : lo);
      const auto last_bit = [&](double v) {
        if (v == 0) return 0;
        int exp2 = 0;
        const double m = std::frexp(v, &exp2);     // v = m * 2^exp2, m in [0.5, 1)
        const int min_exp = 3 - (1 << (f.e - 1));  // the smallest normal, 2^(1 - bias), is 0.5 * 2^min_exp
        const int shift = f.f + 1 - std::max(0, min_exp - exp2);
        return static_cast<int>(std::ldexp(m, shift)) & 1;
      };
      ASSERT_EQ(last_bit(mag), 0) << dtype_name(f.t) << " midpoint " << mid << " of " << lo << ", " << hi << " went to "
                                  << got << " (other " << other << ")";
    }
  }
  for (DType t : {DType::int8, DType::int4, DType::uint4}) {
    const double lo = t == DType::int8   ? -128
                      : t == DType::int4 ? -8
                                         : 0,
                 hi = t == DType::int8   ? 127
                      : t == DType::int4 ? 7
                                         : 15;
    for (double v = lo; v <= hi; ++v) EXPECT_EQ(round_to(t, v), v) << dtype_name(t);
  }
}

TEST(Numerics, IntegersRoundToEvenAndSaturate) {
  EXPECT_EQ(round_to(DType::int8, 2.5), 2.0);
  EXPECT_EQ(round_to(DType::int8, 3.5), 4.0);
  EXPECT_EQ(round_to(DType::int8, 127.6), 127.0);
  EXPECT_EQ(round_to(DType::int8, -129.0), -128.0);
  EXPECT_EQ(round_to(DType::int4, 8.0), 7.0);
  EXPECT_EQ(round_to(DType::int4, -9.0), -8.0);
  EXPECT_EQ(round_to(DType::uint4, -1.0), 0.0);
  EXPECT_EQ(round_to(DType::uint4, 15.4), 15.0);
  EXPECT_EQ(round_to(DType::int32, 3e9), 2147483647.0);
  EXPECT_EQ(bytes_for(DType::int4, 3), 2);  // two 4-bit values to a byte
  EXPECT_EQ(bytes_for(DType::fp4_e2m1, 4), 2);
  EXPECT_EQ(bytes_for(DType::fp8_e4m3, 3), 3);
}

TEST(Numerics, StochasticRoundingIsUnbiasedAndSeeded) {
  const uint64_t seed = test::seed();
  uint64_t a = seed, b = seed;
  double sum = 0;
  constexpr int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double x = round_to(DType::int8, 0.3, Rounding{false, &a});
    EXPECT_TRUE(x == 0 || x == 1);
    EXPECT_EQ(x, round_to(DType::int8, 0.3, Rounding{false, &b}));  // same seed, same draws
    sum += x;
  }
  EXPECT_NEAR(sum / n, 0.3, 0.01) << "seed " << seed;
  uint64_t c = seed;
  EXPECT_EQ(round_to(DType::fp8_e4m3, 1.0, Rounding{false, &c}), 1.0);  // representable values stay
}

TEST(Npy, RoundTrip) {
  const std::string f = test::temp_file("x.npy", "");
  const std::vector<double> v = {1.5, -2.25, 3e-3, 4, 5, 6};
  write_npy(f, {2, 3}, v, true);
  NpyArray a = read_npy(f);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.values, v);
  write_npy(f, {6}, v, false);
  a = read_npy(f);
  EXPECT_EQ(a.shape, std::vector<int64_t>{6});
  EXPECT_EQ(a.values[2], static_cast<double>(3e-3f));
  EXPECT_THROW(read_npy(test::temp_file("bad.npy", "not numpy")), UserError);
}

// A shape is a tuple of non-negative integers: a sign, a stray character or a size past 2^40 values is an error
// naming the shape, never skipped (`(2-5, 6-4)` once read as four dimensions).
TEST(Npy, MalformedShapesAreRefused) {
  auto npy = [](const std::string& shape) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    header.resize(118, ' ');
    header += '\n';
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header;
    return test::temp_file("shape.npy", bytes + std::string(6 * 4, '\0'));
  };
  EXPECT_EQ(read_npy(npy("(2, 3)")).shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(read_npy(npy("(6,)")).shape, std::vector<int64_t>{6});
  for (const auto& [shape, why] : std::vector<std::pair<std::string, std::string>>{
           {"(2-5, 6-4)", "malformed .npy shape (2-5, 6-4)"},
           {"(-6,)", "malformed .npy shape (-6,)"},
           {"(2 3)", "malformed .npy shape (2 3)"},
           {"(12345678901234567890,)", "the .npy shape (12345678901234567890,) holds more than 2^40 values"},
           {"(1048576, 1048576, 2)", "the .npy shape (1048576, 1048576, 2) holds more than 2^40 values"}}) {
    try {
      read_npy(npy(shape));
      ADD_FAILURE() << shape << " was read";
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
}

// A continuous-batching step computes, for its decode tokens and for its prompts, exactly what a decode step
// and a prefill compute on their own: sharing the weights changes how they are read, not the values.
TEST(Interpreter, ServingStepComputesWhatDecodeAndPrefillCompute) {
  const Params attention = {{"D", "32"}, {"H", "4"}, {"KH", "2"}, {"E", "8"}};
  auto with = [](Params p, const Params& more) {
    p.insert(p.end(), more.begin(), more.end());
    return p;
  };
  const Cascade step = test::load("configs/workloads/llm/serving-attention.yaml",
                                  with(attention, {{"B", "2"}, {"L", "16"}, {"BP", "1"}, {"P", "8"}}));
  const TensorValues in = random_inputs(step, test::seed());
  const TensorValues out = evaluate(step, in, {});
  const Cascade decode =
      test::load("configs/workloads/llm/decode-attention.yaml", with(attention, {{"B", "2"}, {"L", "16"}}));
  TensorValues d_in = in;
  d_in["X"] = in.at("XD");
  const TensorValues d = evaluate(decode, d_in, {});
  EXPECT_EQ(out.at("RD"), d.at("R"));
  EXPECT_EQ(out.at("KN"), d.at("KN"));
  EXPECT_EQ(out.at("VN"), d.at("VN"));
  const Cascade prefill =
      test::load("configs/workloads/llm/prefill-attention.yaml", with(attention, {{"B", "1"}, {"P", "8"}}));
  TensorValues p_in = in;
  p_in["X"] = in.at("XP");
  const TensorValues p = evaluate(prefill, p_in, {});
  EXPECT_EQ(out.at("RP"), p.at("R"));
  EXPECT_EQ(out.at("KP"), p.at("K"));
  EXPECT_EQ(out.at("VP"), p.at("V"));

  const Params ffn = {{"D", "32"}, {"FF", "16"}};
  const Cascade ffn_step = test::load("configs/workloads/llm/serving-ffn.yaml", with(ffn, {{"B", "2"}, {"P", "8"}}));
  const TensorValues f_in = random_inputs(ffn_step, test::seed());
  const TensorValues f_out = evaluate(ffn_step, f_in, {});
  for (const auto& [tokens, x, y] : {std::tuple{"2", "XD", "YD"}, std::tuple{"8", "XP", "YP"}}) {
    TensorValues one = f_in;
    one["X"] = f_in.at(x);
    EXPECT_EQ(f_out.at(y),
              evaluate(test::load("configs/workloads/ffn-swiglu.yaml", with(ffn, {{"N", tokens}})), one, {}).at("Y"))
        << y;
  }
}

// Chunked prefill (serving-attention-chunked.yaml): a prompt of 8 tokens prefilled in two chunks of 4, each step
// attending causally to the cache up to its chunk's end, gives the prompt's rows what one step of all 8 gives them
// (the same cache), and its decode tokens what a step without chunks gives them.
TEST(Interpreter, ChunkedPrefillGivesThePromptsRowsWhatOneStepGives) {
  const Params attention = {{"D", "32"}, {"H", "4"}, {"KH", "2"}, {"E", "8"}, {"B", "2"}, {"L", "16"}, {"BP", "1"}};
  auto with = [](Params p, const Params& more) {
    p.insert(p.end(), more.begin(), more.end());
    return p;
  };
  const std::string file = "configs/workloads/llm/serving-attention-chunked.yaml";
  const Cascade whole = test::load(file, with(attention, {{"P", "8"}, {"PL", "0"}}));
  const TensorValues in = random_inputs(whole, test::seed());
  const TensorValues all = evaluate(whole, in, {});
  // Positions [from, to) of the last rank of a [rows, n] tensor (the cache's entries m), and rows [from, to) of a
  // [rows, d] one (the prompt's tokens p, D values each).
  auto entries = [](const std::vector<double>& t, size_t n, size_t from, size_t to) {
    std::vector<double> out;
    for (size_t r = 0; r < t.size() / n; ++r) out.insert(out.end(), t.begin() + r * n + from, t.begin() + r * n + to);
    return out;
  };
  auto rows = [](const std::vector<double>& t, size_t d, size_t from, size_t to) {
    return std::vector<double>(t.begin() + from * d, t.begin() + to * d);
  };
  for (const auto& [pl, from] : {std::pair{"0", size_t{0}}, std::pair{"4", size_t{4}}}) {
    const Cascade chunk = test::load(file, with(attention, {{"P", "4"}, {"PL", pl}}));
    TensorValues c_in = in;
    c_in["XP"] = rows(in.at("XP"), 32, from, from + 4);
    c_in["KPC"] = entries(in.at("KPC"), 8, 0, from + 4);  // the cache up to the chunk's end
    c_in["VPC"] = entries(in.at("VPC"), 8, 0, from + 4);
    const TensorValues out = evaluate(chunk, c_in, {});
    EXPECT_EQ(out.at("RP"), rows(all.at("RP"), 32, from, from + 4)) << "chunk at " << pl;
    EXPECT_EQ(out.at("KP"), entries(all.at("KP"), 8, from, from + 4)) << "chunk at " << pl;
    EXPECT_EQ(out.at("RD"), all.at("RD")) << "chunk at " << pl;
  }
}

}  // namespace
}  // namespace einsim

namespace einsim {
namespace {

const char* kPrune =
    "version: 1\nname: prune\nparams: {B: 2, M: 5, E: 2, K: 3}\n"
    "tensors:\n  S: {ranks: [B, M], dtype: fp32}\n  KC: {ranks: [B, E, M], dtype: fp32}\n"
    "  I: {ranks: [B, K], dtype: int32, output: true}\n  KS: {ranks: [B, E, K], dtype: fp32, output: true}\n"
    "einsums:\n  - I[b,k] = topk(m) S[b,m]\n  - KS[b,e,k] = KC[b,e,I[b,k]]\n";

TEST(Interpreter, TopkKeepsTheLargestFirstAndGatherPicksTheirRows) {
  const Cascade c = load_cascade(test::temp_file("prune.yaml", kPrune));
  // Row 0: 0.5 and 0.9 tie at the top (the lower index first), then 0.7; row 1 decreasing from m = 4.
  const TensorValues in = {
      {"S", {0.9, 0.1, 0.7, 0.9, 0.2, /**/ 1, 2, 3, 4, 5}},
      {"KC", {10, 11, 12, 13, 14, 20, 21, 22, 23, 24, /**/ 30, 31, 32, 33, 34, 40, 41, 42, 43, 44}}};
  const TensorValues out = evaluate(c, in, EvalOptions{});
  EXPECT_EQ(out.at("I"), (std::vector<double>{0, 3, 2, /**/ 4, 3, 2}));
  EXPECT_EQ(out.at("KS"), (std::vector<double>{10, 13, 12, 20, 23, 22, /**/ 34, 33, 32, 44, 43, 42}));
  // Each score is ranked once (10), whatever is kept; the gather computes nothing, and needs only the rows it
  // picks: S, the picked rows of KC (12 values) and the results.
  const Analysis a = analyze(c);
  EXPECT_EQ(a.ops, (OpCounts{{"topk", 10}}));
  EXPECT_EQ(a.compulsory_bytes, 10 * 4 + 12 * 4 + 6 * 4 + 12 * 4);
}

TEST(Interpreter, AGatherOutsideItsRankIsAnErrorNamingTheIndex) {
  const std::string gather_only =
      "version: 1\nname: gather\nparams: {B: 2, M: 5, E: 2, K: 3}\n"
      "tensors:\n  KC: {ranks: [B, E, M], dtype: fp32}\n  I: {ranks: [B, K], dtype: int32}\n"
      "  KS: {ranks: [B, E, K], dtype: fp32, output: true}\neinsums:\n  - KS[b,e,k] = KC[b,e,I[b,k]]\n";
  const Cascade c = load_cascade(test::temp_file("gather.yaml", gather_only));
  const TensorValues in = {{"KC", std::vector<double>(20, 1.0)}, {"I", {0, 1, 2, 3, 4, 5}}};
  try {
    evaluate(c, in, EvalOptions{});
    ADD_FAILURE() << "an index past its rank was gathered";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("index tensor 'I' holds 5 where it picks a row of rank M of 'KC' (extent 5)"),
              std::string::npos)
        << e.what();
  }
}

TEST(Interpreter, SelectionsAreEinsumsOfTheirOwn) {
  const std::string head = std::string(kPrune).substr(0, std::string(kPrune).find("einsums:")) + "einsums:\n";
  EXPECT_NE(test::load_error(head + "  - I[b,k] = topk(m) S[b,m] * 2\n").find("topk is an Einsum of its own"),
            std::string::npos);
  EXPECT_NE(test::load_error(head + "  - I[b,k] = topk(m) S[b,m]\n  - KS[b,e,k] = KC[b,e,I[b,k]] * 2\n")
                .find("a gather is an Einsum of its own"),
            std::string::npos);
  EXPECT_NE(test::load_error(head + "  - I[b,k] = topk(m) S[b,m]\n  - KS[b,e,k] = KC[b,e,I[b,k] + 1]\n")
                .find("an index tensor's element is a whole index"),
            std::string::npos);
  const std::string fp = std::string(kPrune).replace(std::string(kPrune).find("dtype: int32"), 12, "dtype: fp32");
  EXPECT_NE(test::load_error(fp).find("topk writes indices: give 'I' an integer dtype"), std::string::npos)
      << test::load_error(fp);
}

}  // namespace
}  // namespace einsim
