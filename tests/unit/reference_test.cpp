// The reference kernels: hand-computed cases, the two attention algorithms against each other, exactness of the
// GEMMs' rounding and of the integer GEMM, the quantized GEMMs against explicit dequantization, the kernels against
// the interpreter running the cascade configs, and every CUDA kernel against its CPU counterpart (skipped where
// there is no GPU). Tolerances and their reasons are in docs/reference-kernels.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "workloads/cascade.hpp"
#include "workloads/interpreter.hpp"
#include "tests/unit/test_util.hpp"
#include "workloads/reference/kernels.hpp"

namespace einsim::reference {
namespace {

using test::seed;

// Uniform in [lo, hi), rounded to `t`.
std::vector<float> random_values(std::mt19937_64& rng, size_t n, DType t = DType::bf16, double lo = -1, double hi = 1) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(round_to(t, u(rng)));
  return v;
}

size_t sz(int64_t a, int64_t b = 1, int64_t c = 1, int64_t d = 1) { return static_cast<size_t>(a * b * c * d); }

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    m = std::max(m, std::isnan(d) ? INFINITY : d);
  }
  return m;
}

double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float x : a) m = std::max(m, std::fabs(static_cast<double>(x)));
  return m;
}

// Bitwise equality, reporting the first difference.
template <typename T>
void expect_identical(const std::vector<T>& got, const std::vector<T>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(got[i] == want[i])) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", expected " << want[i];
      return;
    }
}

struct AttentionData {
  AttentionShape s;
  std::vector<float> q, k, v;
};

AttentionData random_attention(const AttentionShape& s, std::mt19937_64& rng) {
  return {s, random_values(rng, sz(s.B, s.H, s.E, s.P)), random_values(rng, sz(s.B, s.KH, s.E, s.M)),
          random_values(rng, sz(s.B, s.KH, s.F, s.M))};
}

std::vector<float> naive(const AttentionData& d, Backend backend = Backend::cpu, DType out = DType::fp32) {
  std::vector<float> o(sz(d.s.B, d.s.H, d.s.F, d.s.P));
  attention_naive(out, d.s, d.q.data(), d.k.data(), d.v.data(), o.data(), backend);
  return o;
}

std::vector<float> tiled(const AttentionData& d, int64_t tile_m, Backend backend = Backend::cpu,
                         DType out = DType::fp32) {
  std::vector<float> o(sz(d.s.B, d.s.H, d.s.F, d.s.P));
  attention_tiled(out, d.s, tile_m, d.q.data(), d.k.data(), d.v.data(), o.data(), backend);
  return o;
}

std::vector<float> split(const AttentionData& d, int64_t tile_m, int64_t splits, Backend backend = Backend::cpu,
                         DType out = DType::fp32) {
  std::vector<float> o(sz(d.s.B, d.s.H, d.s.F, d.s.P));
  attention_split(out, d.s, tile_m, splits, d.q.data(), d.k.data(), d.v.data(), o.data(), backend);
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// Attention

TEST(ReferenceAttention, TinyCaseByHand) {
  // One query (q = 2), two keys (0.5, 0), values (1, 0): scores 2*0.5 = 1 and 2*0 = 0, softmax
  // (e, 1) / (e + 1), output e / (e + 1) = 0.7310585786... In fp32: max 1, numerators exp(0) = 1 and
  // exp(-1), their sum, 1 / sum times 1 plus 0 times the other: within two roundings of the exact value.
  const AttentionData d{{1, 1, 1, 2, 1, 1, 1}, {2.0f}, {0.5f, 0.0f}, {1.0f, 0.0f}};
  const double want = std::exp(1.0) / (std::exp(1.0) + 1.0);
  const double ulp = 0x1p-24;  // half an ulp of values in [0.5, 1)
  EXPECT_NEAR(naive(d)[0], want, 4 * ulp);
  for (int64_t tile : {1, 2, 5}) EXPECT_NEAR(tiled(d, tile)[0], want, 4 * ulp) << "tile_m " << tile;
  // The same numbers, causal with two queries (q = 2 and q = 2) over the two positions: query 0 sees key 0
  // only, so its output is V[0] = 1 exactly; query 1 (the last position) sees both.
  AttentionData c{{1, 1, 1, 2, 2, 1, 1, true}, {2.0f, 2.0f}, {0.5f, 0.0f}, {1.0f, 0.0f}};
  for (const auto& out : {naive(c), tiled(c, 1), tiled(c, 2)}) {
    EXPECT_EQ(out[0], 1.0f);
    EXPECT_NEAR(out[1], want, 4 * ulp);
  }
}

// A[M,K] B[K,N] in fp64, k in order: exact for the inputs the GEMM tests choose.
std::vector<double> gemm_fp64(const std::vector<float>& a, const std::vector<float>& b, int64_t M, int64_t N,
                              int64_t K) {
  std::vector<double> c(sz(M, N), 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k)
        c[sz(i * N + j)] += static_cast<double>(a[sz(i * K + k)]) * static_cast<double>(b[sz(k * N + j)]);
  return c;
}

struct AttentionCase {
  const char* name;
  AttentionShape s;
  int64_t tile_m;
};

// Naive (3-pass) and tiled (1-pass, online) softmax agree to fp32 rounding: outputs are convex combinations of
// values in [-1, 1], and the two differ only in where exponentials are rescaled and sums rounded (at most
// 1.0e-6 apart over 500 seeds; a wrong mask, head or tile boundary moves outputs by 1e-2 or more).
TEST(ReferenceAttention, NaiveAndTiledAgree) {
  std::mt19937_64 rng(seed());
  const AttentionCase cases[] = {
      {"MHA", {2, 2, 2, 64, 48, 16, 8}, 16},
      {"GQA", {1, 4, 2, 96, 32, 16, 16}, 32},
      {"MQA", {1, 3, 1, 64, 20, 8, 4}, 8},
      {"causal", {1, 4, 2, 96, 40, 16, 8, true}, 16},
      {"causal P=M", {1, 2, 1, 50, 50, 8, 8, true}, 7},
      {"decode P=1", {3, 4, 2, 100, 1, 32, 16}, 16},
      {"decode causal", {1, 2, 2, 100, 1, 32, 16, true}, 16},
      {"M not a multiple of tile_m", {1, 2, 2, 70, 9, 16, 8}, 16},
      {"tile_m = 1", {1, 2, 2, 33, 5, 4, 4}, 1},
      {"tile_m > M", {1, 2, 2, 33, 5, 4, 4}, 64},
  };
  for (const AttentionCase& c : cases) {
    const AttentionData d = random_attention(c.s, rng);
    EXPECT_LE(max_abs_diff(naive(d), tiled(d, c.tile_m)), 4e-6) << c.name;
  }
}

// Split-K: one part is the tiled kernel bit for bit; more parts (the last shorter, or a causal query's parts
// empty) agree with it to fp32 rounding.
TEST(ReferenceAttention, SplitKAgreesWithOnePass) {
  std::mt19937_64 rng(seed());
  const AttentionCase cases[] = {
      {"decode MHA", {2, 4, 4, 256, 1, 32, 32}, 16},
      {"decode GQA", {1, 8, 2, 200, 1, 16, 16}, 32},
      {"prefill causal", {1, 2, 1, 96, 40, 16, 8, true}, 16},
  };
  for (const AttentionCase& c : cases) {
    const AttentionData d = random_attention(c.s, rng);
    expect_identical(split(d, c.tile_m, 1), tiled(d, c.tile_m), std::string(c.name) + ", one part");
    for (const int64_t parts : {2, 3, 7, 200})
      EXPECT_LE(max_abs_diff(split(d, c.tile_m, parts), tiled(d, c.tile_m)), 4e-6) << c.name << ", " << parts;
  }
  const float x[1] = {0};
  float out[1];
  EXPECT_THROW(attention_split(DType::fp32, {1, 1, 1, 4, 1, 1, 1}, 2, 0, x, x, x, out), UserError);  // splits
}

// Query heads 0 and 1 read KV head 0 and heads 2 and 3 KV head 1 (h / (H/KH), not h % KH): with V constant per
// KV head, every output is that constant (softmax weights sum to 1 within a few roundings).
TEST(ReferenceAttention, GqaHeadMapping) {
  std::mt19937_64 rng(seed());
  AttentionData d = random_attention({2, 4, 2, 40, 6, 8, 4}, rng);
  const float per_head[2] = {0.25f, -0.5f};
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t kh = 0; kh < 2; ++kh)
      std::fill_n(d.v.begin() + static_cast<std::ptrdiff_t>((b * 2 + kh) * 4 * 40), 4 * 40, per_head[kh]);
  for (const auto& out : {naive(d), tiled(d, 16)})
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t i = 0; i < 4 * 6; ++i)
          ASSERT_NEAR(out[sz((b * 4 + h) * 4 * 6 + i)], per_head[h / 2], 1e-6) << "b " << b << " h " << h;
}

// Decode: Q [B,H,E] is Q [B,H,E,1]; causal or not, the one query sees the whole cache.
TEST(ReferenceAttention, DecodeSeesTheWholeCache) {
  std::mt19937_64 rng(seed());
  AttentionData d = random_attention({2, 2, 1, 37, 1, 8, 8}, rng);
  AttentionData c = d;
  c.s.causal = true;
  expect_identical(naive(c), naive(d), "causal decode");
  expect_identical(tiled(c, 8), tiled(d, 8), "causal decode, tiled");
}

TEST(ReferenceAttention, BadShapesAreUserErrors) {
  const float x[64] = {};
  float out[64];
  EXPECT_THROW(attention_naive(DType::fp32, {1, 3, 2, 4, 4, 1, 1}, x, x, x, out), UserError);        // H % KH
  EXPECT_THROW(attention_naive(DType::fp32, {1, 2, 2, 4, 5, 1, 1, true}, x, x, x, out), UserError);  // causal P > M
  EXPECT_THROW(attention_tiled(DType::fp32, {1, 2, 2, 4, 4, 1, 1}, 0, x, x, x, out), UserError);     // tile_m
  EXPECT_THROW(attention_naive(DType::int8, {1, 2, 2, 4, 4, 1, 1}, x, x, x, out), UserError);        // output dtype
  EXPECT_THROW(gemm(DType::fp32, 2, 0, 2, x, x, out), UserError);
}

// ---------------------------------------------------------------------------------------------------------------
// GEMM, FFN, norms

// Inputs with few significant bits (multiples of 1/16 below 16), so that every fp32 partial sum is exact
// (|sum| < 2^22 units of 2^-8): the fp32 result is the exact one, and the bf16 and fp16 outputs must be its
// round-to-nearest-even, ties included, value by value.
TEST(ReferenceScan, TinyCaseByHand) {
  // delta = softplus(0) = ln 2 and A = -exp(0) = -1, so A-bar = 1/2: h1 = ln 2 x0, h2 = h1 / 2 + ln 2 x1.
  ScanShape s;
  s.T = 2;
  const float x[] = {1, 2}, zero[] = {0, 0}, one[] = {1, 1}, ds[] = {0.25f};
  float y[2];
  selective_scan(DType::fp32, s, x, zero, zero, zero, one, one, ds, y);
  const double ln2 = std::log(2.0);
  EXPECT_NEAR(y[0], ln2 + 0.25, 1e-6);
  EXPECT_NEAR(y[1], 2.5 * ln2 + 0.5, 1e-6);
}

TEST(ReferenceKda, TinyCaseByHand) {
  // One key and value channel: k = q = 1 after normalization, alpha = beta = sigmoid(0) = 1/2.
  // S1 = v1 / 2; then SA = S1 / 2, KS = SA, U = (v2 - SA) / 2, S2 = SA + U = v1 / 8 + v2 / 2.
  KdaShape s;
  s.T = 2;
  const float q[] = {3, 0.5f}, k[] = {2, 7}, v[] = {1, 2}, zero[] = {0, 0};
  float o[2];
  kda_recurrent(DType::fp32, s, q, k, v, zero, zero, o);
  EXPECT_EQ(o[0], 0.5f);
  EXPECT_EQ(o[1], 1.125f);
}

TEST(ReferenceGemm, RoundingIsExactRne) {
  std::mt19937_64 rng(seed());
  const int64_t M = 17, N = 23, K = 64;
  std::uniform_int_distribution<int> units(-255, 255);
  std::vector<float> a(sz(M, K)), b(sz(K, N));
  for (float& x : a) x = static_cast<float>(units(rng)) / 16.0f;
  for (float& x : b) x = static_cast<float>(units(rng)) / 16.0f;
  for (DType out : {DType::fp32, DType::bf16, DType::fp16}) {
    std::vector<float> c(sz(M, N)), want(sz(M, N));
    const std::vector<double> sums = gemm_fp64(a, b, M, N, K);
    for (size_t i = 0; i < sums.size(); ++i) want[i] = static_cast<float>(round_to(out, sums[i]));
    gemm(out, M, N, K, a.data(), b.data(), c.data());
    expect_identical(c, want, std::string(dtype_name(out)));
  }
}

// The accumulator is fp32, summed in k order: 1 + 2^-24 + 2^-24 stays 1 (each addition is a tie that rounds to
// the even 1), where a wider accumulator would give 1 + 2^-23.
TEST(ReferenceGemm, AccumulatesInFp32InKOrder) {
  const float a[3] = {1.0f, 0x1p-24f, 0x1p-24f}, b[3] = {1.0f, 1.0f, 1.0f};
  float c = 0;
  gemm(DType::fp32, 1, 1, 3, a, b, &c);
  EXPECT_EQ(c, 1.0f);
  const float reordered[3] = {0x1p-24f, 0x1p-24f, 1.0f};  // the small terms first: 2^-23 survives
  gemm(DType::fp32, 1, 1, 3, reordered, b, &c);
  EXPECT_EQ(c, 1.0f + 0x1p-23f);
}

// Rows of a norm with gamma = 1 and beta = 0 (and eps = 0) have mean 0 and unit variance (LayerNorm) or unit
// root mean square (RMSNorm), to fp32 rounding over D = 1000 values.
TEST(ReferenceNorm, RowsAreNormalized) {
  std::mt19937_64 rng(seed());
  const int64_t N = 8, D = 1000;
  const std::vector<float> x = random_values(rng, sz(N, D), DType::bf16, -3, 5);
  const std::vector<float> ones(sz(D), 1.0f), zeros(sz(D), 0.0f);
  std::vector<float> y(sz(N, D));
  layernorm(DType::fp32, N, D, 0.0, x.data(), ones.data(), zeros.data(), y.data());
  for (int64_t n = 0; n < N; ++n) {
    double mean = 0, sq = 0;
    for (int64_t d = 0; d < D; ++d) mean += y[sz(n * D + d)];
    mean /= static_cast<double>(D);
    for (int64_t d = 0; d < D; ++d) sq += (y[sz(n * D + d)] - mean) * (y[sz(n * D + d)] - mean);
    EXPECT_NEAR(mean, 0.0, 1e-6) << "row " << n;
    EXPECT_NEAR(sq / static_cast<double>(D), 1.0, 1e-5) << "row " << n;
  }
  rmsnorm(DType::fp32, N, D, 0.0, x.data(), ones.data(), y.data());
  for (int64_t n = 0; n < N; ++n) {
    double sq = 0;
    for (int64_t d = 0; d < D; ++d) sq += static_cast<double>(y[sz(n * D + d)]) * y[sz(n * D + d)];
    EXPECT_NEAR(std::sqrt(sq / static_cast<double>(D)), 1.0, 1e-5) << "row " << n;
  }
  // gamma and beta scale and shift each column: y' = y * gamma + beta, to one rounding.
  const std::vector<float> gamma = random_values(rng, sz(D)), beta = random_values(rng, sz(D));
  std::vector<float> y0(sz(N, D)), y1(sz(N, D));
  layernorm(DType::fp32, N, D, 1e-5, x.data(), ones.data(), zeros.data(), y0.data());
  layernorm(DType::fp32, N, D, 1e-5, x.data(), gamma.data(), beta.data(), y1.data());
  for (size_t i = 0; i < y0.size(); ++i) ASSERT_NEAR(y1[i], y0[i] * gamma[i % sz(D)] + beta[i % sz(D)], 1e-6) << i;
}

// ---------------------------------------------------------------------------------------------------------------
// Quantized GEMMs

std::vector<int32_t> int8_reference(int64_t M, int64_t N, int64_t K, const std::vector<int8_t>& a,
                                    const std::vector<int8_t>& b) {
  std::vector<int32_t> c(sz(M, N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      int64_t sum = 0;
      for (int64_t k = 0; k < K; ++k) sum += int64_t{a[sz(i * K + k)]} * int64_t{b[sz(k * N + j)]};
      c[sz(i * N + j)] = static_cast<int32_t>(std::clamp<int64_t>(sum, INT32_MIN, INT32_MAX));
    }
  return c;
}

std::vector<int32_t> run_int8(int64_t M, int64_t N, int64_t K, const std::vector<int8_t>& a,
                              const std::vector<int8_t>& b, Backend backend = Backend::cpu) {
  std::vector<int32_t> c(sz(M, N));
  gemm_int8(M, N, K, a.data(), b.data(), c.data(), backend);
  return c;
}

std::vector<int8_t> random_int8(std::mt19937_64& rng, size_t n) {
  std::uniform_int_distribution<int> u(-128, 127);
  std::vector<int8_t> v(n);
  for (int8_t& x : v) x = static_cast<int8_t>(u(rng));
  return v;
}

// Extremes: (-128)(-128) K = 2^14 K is the largest sum: K = 131071 gives 2,147,467,264 (exact, just below
// INT32_MAX = 2^31 - 1), K = 131072 gives 2^31, which saturates. (-128)(127) K = -16256 K is the smallest:
// -2,130,706,432 at K = 131072 (exact), below INT32_MIN = -2^31 from K = 132106 (-2,147,515,136 saturates).
struct Int8Extremes {
  int64_t M = 2, N = 3, K;
  std::vector<int8_t> a, b;
};

Int8Extremes int8_extremes(int64_t K) {
  Int8Extremes e{2, 3, K, std::vector<int8_t>(sz(2, K), -128), std::vector<int8_t>(sz(K, 3), -128)};
  for (int64_t k = 0; k < K; ++k) e.b[sz(k * 3 + 2)] = 127;  // column 2: (-128)(127) K
  return e;
}

TEST(ReferenceInt8, ExactIncludingExtremes) {
  std::mt19937_64 rng(seed());
  const int64_t M = 9, N = 13, K = 300;
  const std::vector<int8_t> a = random_int8(rng, sz(M, K)), b = random_int8(rng, sz(K, N));
  expect_identical(run_int8(M, N, K, a, b), int8_reference(M, N, K, a, b), "random");
  const Int8Extremes e1 = int8_extremes(131071);
  const std::vector<int32_t> c1 = run_int8(e1.M, e1.N, e1.K, e1.a, e1.b);
  EXPECT_EQ(c1[0], 2147467264);
  EXPECT_EQ(c1[2], -128 * 127 * 131071);
  const Int8Extremes e2 = int8_extremes(131072);
  const std::vector<int32_t> c2 = run_int8(e2.M, e2.N, e2.K, e2.a, e2.b);
  EXPECT_EQ(c2[0], INT32_MAX);  // 2^31 saturates
  EXPECT_EQ(c2[5], -2130706432);
  expect_identical(c2, int8_reference(e2.M, e2.N, e2.K, e2.a, e2.b), "extremes, K = 131072");
  const Int8Extremes e3 = int8_extremes(132106);
  const std::vector<int32_t> c3 = run_int8(e3.M, e3.N, e3.K, e3.a, e3.b);
  EXPECT_EQ(c3[3], INT32_MAX);
  EXPECT_EQ(c3[5], INT32_MIN);  // -2,147,515,136 saturates
  expect_identical(c3, int8_reference(e3.M, e3.N, e3.K, e3.a, e3.b), "extremes, K = 132106");
}

struct W4Data {
  int64_t M, N, K, G;
  std::vector<float> a, scales;
  std::vector<uint8_t> q, zeros;
};

W4Data random_w4(std::mt19937_64& rng, int64_t M, int64_t N, int64_t K, int64_t G, DType scale_dtype) {
  W4Data w{M, N, K, G, random_values(rng, sz(M, K)), random_values(rng, sz(K / G, N), scale_dtype, 0.01, 0.2), {}, {}};
  std::uniform_int_distribution<int> code(0, 15);
  w.q.resize(sz(K, N));
  w.zeros.resize(sz(K / G, N));
  for (uint8_t& x : w.q) x = static_cast<uint8_t>(code(rng));
  for (uint8_t& x : w.zeros) x = static_cast<uint8_t>(code(rng));
  return w;
}

std::vector<float> run_w4(const W4Data& w, DType out, Backend backend = Backend::cpu) {
  std::vector<float> c(sz(w.M, w.N));
  gemm_w4a16(out, w.M, w.N, w.K, w.G, w.a.data(), w.q.data(), w.scales.data(), w.zeros.data(), c.data(), backend);
  return c;
}

// Against dequantizing by hand (W[k,n] = bf16((q - z) s) with the group k / G) and gemm(). With bf16 scales the
// products are exact; with fp32 scales (0.01 .. 0.2, most not bf16) the dequantized weight is rounded to bf16.
TEST(ReferenceW4A16, EqualsExplicitDequantization) {
  std::mt19937_64 rng(seed());
  for (DType scale_dtype : {DType::bf16, DType::fp32}) {
    const W4Data w = random_w4(rng, 7, 12, 32, 8, scale_dtype);
    std::vector<float> dq(sz(w.K, w.N));
    for (int64_t k = 0; k < w.K; ++k)
      for (int64_t n = 0; n < w.N; ++n) {
        const size_t g = sz((k / w.G) * w.N + n);
        const float centered = static_cast<float>(w.q[sz(k * w.N + n)]) - static_cast<float>(w.zeros[g]);
        dq[sz(k * w.N + n)] = static_cast<float>(round_to(DType::bf16, centered * w.scales[g]));
      }
    for (DType out : {DType::fp32, DType::bf16}) {
      std::vector<float> want(sz(w.M, w.N));
      gemm(out, w.M, w.N, w.K, w.a.data(), dq.data(), want.data());
      expect_identical(run_w4(w, out), want, std::string("scales ") + std::string(dtype_name(scale_dtype)));
    }
  }
  W4Data bad = random_w4(rng, 1, 2, 8, 4, DType::bf16);
  bad.q[3] = 16;
  EXPECT_THROW(run_w4(bad, DType::fp32), UserError);
  W4Data ragged = random_w4(rng, 1, 2, 8, 4, DType::bf16);
  ragged.G = 3;
  EXPECT_THROW(run_w4(ragged, DType::fp32), UserError);
}

// E4M3 values between 1/8 and 8 in magnitude (or 0) are multiples of 2^-6, so products are multiples of 2^-12
// below 64 and sums of 32 of them are exact in fp32: the result is (scale_a * scale_b) * exact sum, rounded once
// to fp32 and once to the output dtype. Scales 0.5 and 3 (product 1.5) catch a dropped or squared scale.
TEST(ReferenceFp8, ScalesApplyAfterTheSum) {
  std::mt19937_64 rng(seed());
  const int64_t M = 5, N = 6, K = 32;
  auto e4m3 = [&](size_t n) {
    std::vector<float> v = random_values(rng, n, DType::fp8_e4m3, -8, 8);
    for (float& x : v)
      if (std::fabs(x) < 0.125f) x = 0;
    return v;
  };
  const std::vector<float> a = e4m3(sz(M, K)), b = e4m3(sz(K, N));
  for (DType out : {DType::fp32, DType::bf16, DType::fp16}) {
    std::vector<float> c(sz(M, N)), want(sz(M, N));
    const std::vector<double> sums = gemm_fp64(a, b, M, N, K);
    for (size_t i = 0; i < sums.size(); ++i)
      want[i] = static_cast<float>(round_to(out, static_cast<float>(1.5 * sums[i])));
    gemm_fp8_e4m3(out, M, N, K, a.data(), b.data(), 0.5f, 3.0f, c.data());
    expect_identical(c, want, std::string(dtype_name(out)));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The kernels against the interpreter running the cascade configs: same layouts, same operations in the same
// order in fp32, same rounding of inputs and outputs (bf16), so the values are identical.

struct CascadeRun {
  TensorValues inputs;   // rounded to each input's dtype
  TensorValues outputs;  // the interpreter's, in fp32 arithmetic
};

CascadeRun run_cascade(const std::string& file, const std::vector<std::pair<std::string, std::string>>& params) {
  WorkloadOverrides o;
  o.params = params;
  const Cascade c = load_cascade(file, o);
  CascadeRun r;
  r.inputs = random_inputs(c, seed());
  for (auto& [name, values] : r.inputs)
    for (double& x : values) x = round_to(c.tensor(name).dtype, x);
  r.outputs = evaluate(c, r.inputs, EvalOptions{});
  return r;
}

std::vector<float> floats(const std::vector<double>& v) { return {v.begin(), v.end()}; }

TEST(ReferenceVsCascade, Attention) {
  const AttentionShape s{1, 4, 2, 64, 32, 16, 8};
  const std::vector<std::pair<std::string, std::string>> params{{"B", "1"},  {"H", "4"},  {"KH", "2"}, {"M", "64"},
                                                                {"P", "32"}, {"E", "16"}, {"F", "8"}};
  const CascadeRun three = run_cascade("configs/workloads/attention-3pass.yaml", params);
  const AttentionData d{s, floats(three.inputs.at("Q")), floats(three.inputs.at("K")), floats(three.inputs.at("V"))};
  expect_identical(naive(d, Backend::cpu, DType::bf16), floats(three.outputs.at("AV")), "attention-3pass");
  auto with_m0 = params;
  with_m0.emplace_back("M0", "16");
  const CascadeRun one = run_cascade("configs/workloads/attention-1pass.yaml", with_m0);
  expect_identical(tiled(d, 16, Backend::cpu, DType::bf16), floats(one.outputs.at("AV")), "attention-1pass");
  // Decode split into 4 parts of 16 keys (blocks of 8), the partials combined.
  const AttentionShape ds{2, 4, 2, 64, 1, 16, 16};
  const CascadeRun parts =
      run_cascade("configs/workloads/llm/decode-attention-split.yaml",
                  {{"B", "2"}, {"H", "4"}, {"KH", "2"}, {"L", "64"}, {"E", "16"}, {"S", "4"}, {"M0", "8"}});
  const AttentionData dd{ds, floats(parts.inputs.at("Q")), floats(parts.inputs.at("KC")),
                         floats(parts.inputs.at("VC"))};
  expect_identical(split(dd, 8, 4, Backend::cpu, DType::bf16), floats(parts.outputs.at("O")), "decode-attention-split");
}

// SpAtten's pruned decode step: the kept tokens ranked as the cascade's topk ranks them (ties to the lower index),
// then the cascade's own order of operations: identical values.
TEST(ReferenceVsCascade, PrunedDecodeAttention) {
  const float ties[] = {1, 3, 3, 0, 2, 3};
  EXPECT_EQ(topk_indices(ties, 6, 4), (std::vector<int64_t>{1, 2, 5, 4}));
  const CascadeRun r = run_cascade("configs/workloads/llm/decode-attention-pruned.yaml",
                                   {{"B", "2"}, {"H", "4"}, {"E", "16"}, {"L", "64"}, {"KEEP", "24"}, {"HKEEP", "3"}});
  AttentionShape s{2, 4, 4, 64, 1, 16, 16};
  std::vector<float> o(sz(2, 3, 16, 1));
  attention_pruned(DType::bf16, s, 24, 3, floats(r.inputs.at("IMP")).data(), floats(r.inputs.at("IMPH")).data(),
                   floats(r.inputs.at("Q")).data(), floats(r.inputs.at("KC")).data(), floats(r.inputs.at("VC")).data(),
                   o.data());
  expect_identical(o, floats(r.outputs.at("O")), "decode-attention-pruned");
  EXPECT_THROW(topk_indices(ties, 6, 7), UserError);
}

// SpAtten's top-k engine and gather on their own: a tie to the lower index, then the cascade's own values (the kept
// columns, most important first) identical.
TEST(ReferenceVsCascade, TopkGather) {
  const float scores[] = {1, 3, 3, 0, 2, 3};
  const float x[] = {10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25};  // two channels of six tokens
  std::vector<float> out(8);
  topk_gather(DType::fp32, 1, 6, 4, 2, scores, x, out.data());
  EXPECT_EQ(out, (std::vector<float>{11, 12, 15, 14, 21, 22, 25, 24}));
  EXPECT_THROW(topk_gather(DType::fp32, 1, 6, 7, 2, scores, x, out.data()), UserError);
  const CascadeRun r =
      run_cascade("configs/workloads/llm/topk-gather.yaml", {{"B", "3"}, {"L", "300"}, {"E", "16"}, {"KEEP", "37"}});
  std::vector<float> o(sz(3, 16, 37, 1));
  topk_gather(DType::bf16, 3, 300, 37, 16, floats(r.inputs.at("S")).data(), floats(r.inputs.at("X")).data(), o.data());
  expect_identical(o, floats(r.outputs.at("XK")), "topk-gather");
}

// SpAtten's cascade pruning over two layers: layer 2's output identical, its choice made from the importances layer 1
// left (the kernel ranks layer 1's kept lists as the cascade's topk does).
TEST(ReferenceVsCascade, PrunedLayers) {
  const CascadeRun r = run_cascade("configs/workloads/llm/decode-attention-pruned-layers.yaml", {{"B", "2"},
                                                                                                 {"H", "4"},
                                                                                                 {"E", "16"},
                                                                                                 {"L", "64"},
                                                                                                 {"KEEP", "24"},
                                                                                                 {"HKEEP", "3"},
                                                                                                 {"KEEP2", "10"},
                                                                                                 {"HKEEP2", "2"}});
  AttentionShape s{2, 4, 4, 64, 1, 16, 16};
  PrunedLayers keep;
  keep.tokens = 24, keep.heads = 3, keep.tokens2 = 10, keep.heads2 = 2;
  std::vector<float> o(sz(2, 2, 16, 1));
  attention_pruned_layers(DType::bf16, s, keep, floats(r.inputs.at("IMP")).data(), floats(r.inputs.at("IMPH")).data(),
                          floats(r.inputs.at("Q1")).data(), floats(r.inputs.at("KC1")).data(),
                          floats(r.inputs.at("VC1")).data(), floats(r.inputs.at("Q2")).data(),
                          floats(r.inputs.at("KC2")).data(), floats(r.inputs.at("VC2")).data(), o.data());
  expect_identical(o, floats(r.outputs.at("O2")), "decode-attention-pruned-layers");
}

// SpAtten's step with progressive quantization: identical values at thresholds where no kept head, some, or all
// refetch their LSBs (both branches of the kernel and of the cascade's guards).
TEST(ReferenceVsCascade, SpattenProgressiveQuantization) {
  int64_t refetched = 0, not_refetched = 0;
  for (const char* threshold : {"0.05", "0.3", "0.9"}) {
    const CascadeRun r = run_cascade(
        "configs/workloads/llm/decode-attention-spatten.yaml",
        {{"B", "2"}, {"H", "4"}, {"E", "16"}, {"L", "64"}, {"KEEP", "24"}, {"HKEEP", "3"}, {"THR", threshold}});
    for (const double flat : r.outputs.at("FLAT")) (flat != 0 ? refetched : not_refetched) += 1;
    AttentionShape s{2, 4, 4, 64, 1, 16, 16};
    ProgressiveQuant pq;
    pq.sk = pq.sv = 0.00048828125f;
    pq.threshold = std::stof(threshold);
    std::vector<float> o(sz(2, 3, 16, 1));
    attention_spatten(DType::bf16, s, 24, 3, pq, floats(r.inputs.at("IMP")).data(), floats(r.inputs.at("IMPH")).data(),
                      floats(r.inputs.at("Q")).data(), floats(r.inputs.at("KH")).data(),
                      floats(r.inputs.at("KL")).data(), floats(r.inputs.at("VH")).data(),
                      floats(r.inputs.at("VL")).data(), o.data());
    expect_identical(o, floats(r.outputs.at("O")), std::string("decode-attention-spatten at THR ") + threshold);
  }
  EXPECT_GT(refetched, 0);
  EXPECT_GT(not_refetched, 0);
}

TEST(ReferenceVsCascade, FfnNormsGemm) {
  const int64_t N = 12, D = 40, FF = 24;
  const std::vector<std::pair<std::string, std::string>> params{{"N", "12"}, {"D", "40"}, {"FF", "24"}};
  {
    const CascadeRun r = run_cascade("configs/workloads/ffn-gelu.yaml", params);
    std::vector<float> y(sz(N, D));
    ffn_gelu(DType::bf16, N, D, FF, floats(r.inputs.at("X")).data(), floats(r.inputs.at("W1")).data(),
             floats(r.inputs.at("W2")).data(), y.data());
    expect_identical(y, floats(r.outputs.at("Y")), "ffn-gelu");
  }
  {
    const CascadeRun r = run_cascade("configs/workloads/ffn-swiglu.yaml", params);
    std::vector<float> y(sz(N, D));
    ffn_swiglu(DType::bf16, N, D, FF, floats(r.inputs.at("X")).data(), floats(r.inputs.at("W1")).data(),
               floats(r.inputs.at("W3")).data(), floats(r.inputs.at("W2")).data(), y.data());
    expect_identical(y, floats(r.outputs.at("Y")), "ffn-swiglu");
  }
  {
    const CascadeRun r = run_cascade("configs/workloads/layernorm.yaml", {{"N", "12"}, {"D", "40"}});
    std::vector<float> y(sz(N, D));
    layernorm(DType::bf16, N, D, 1e-5, floats(r.inputs.at("X")).data(), floats(r.inputs.at("GAMMA")).data(),
              floats(r.inputs.at("BETA")).data(), y.data());
    expect_identical(y, floats(r.outputs.at("Y")), "layernorm");
  }
  {
    const CascadeRun r = run_cascade("configs/workloads/rmsnorm.yaml", {{"N", "12"}, {"D", "40"}});
    std::vector<float> y(sz(N, D));
    rmsnorm(DType::bf16, N, D, 1e-6, floats(r.inputs.at("X")).data(), floats(r.inputs.at("GAMMA")).data(), y.data());
    expect_identical(y, floats(r.outputs.at("Y")), "rmsnorm");
  }
  {
    const CascadeRun r = run_cascade("configs/workloads/gemm.yaml", {{"M", "12"}, {"N", "40"}, {"K", "24"}});
    std::vector<float> z(sz(12, 40));
    gemm(DType::fp32, 12, 40, 24, floats(r.inputs.at("A")).data(), floats(r.inputs.at("B")).data(), z.data());
    expect_identical(z, floats(r.outputs.at("Z")), "gemm");
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CUDA

TEST(ReferenceCuda, UnavailableThrows) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA GPU is present";
  std::string name = "unchanged";
  EXPECT_FALSE(cuda_available(&name));
  EXPECT_EQ(name, "unchanged");
  const float x[4] = {1, 1, 1, 1};
  float out[4];
  const int8_t i8[4] = {};
  int32_t i32[4];
  EXPECT_THROW(attention_naive(DType::fp32, {}, x, x, x, out, Backend::cuda), InternalError);
  EXPECT_THROW(attention_tiled(DType::fp32, {}, 1, x, x, x, out, Backend::cuda), InternalError);
  EXPECT_THROW(attention_split(DType::fp32, {}, 1, 2, x, x, x, out, Backend::cuda), InternalError);
  EXPECT_THROW(gemm(DType::fp32, 1, 1, 1, x, x, out, Backend::cuda), InternalError);
  EXPECT_THROW(gemm_cublas(DType::bf16, DType::fp32, 1, 1, 1, x, x, out), InternalError);
  EXPECT_THROW(gemm_int8(1, 1, 1, i8, i8, i32, Backend::cuda), InternalError);
  EXPECT_THROW(layernorm(DType::fp32, 1, 4, 0.0, x, x, x, out, Backend::cuda), InternalError);
}

#define REQUIRE_CUDA() \
  if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU"

TEST(ReferenceCuda, DeviceName) {
  REQUIRE_CUDA();
  std::string name;
  ASSERT_TRUE(cuda_available(&name));
  std::cout << "CUDA device: " << name << std::endl;
  EXPECT_FALSE(name.empty());
}

// Scores are computed in the CPU's order (e in order, no FMA), so the GPU differs only by expf's rounding and
// the order of the softmax sums: of the order of the naive-to-tiled differences on the CPU (1e-6), below 1e-5.
TEST(ReferenceCuda, AttentionMatchesCpu) {
  REQUIRE_CUDA();
  std::mt19937_64 rng(seed());
  const AttentionCase cases[] = {
      {"M=P=512 H=4 KH=2", {1, 4, 2, 512, 512, 64, 64}, 128},
      {"M=P=512 H=4 KH=2 causal", {1, 4, 2, 512, 512, 64, 64, true}, 128},
      {"MHA, M not a multiple of tile_m", {2, 2, 2, 300, 70, 32, 16}, 64},
      {"MQA causal, P < M", {1, 3, 1, 200, 45, 16, 24, true}, 50},
      {"decode P=1", {3, 8, 2, 1000, 1, 64, 64}, 256},
      {"tile_m = 1", {1, 2, 1, 40, 8, 8, 8}, 1},
  };
  for (const AttentionCase& c : cases) {
    const AttentionData d = random_attention(c.s, rng);
    EXPECT_LE(max_abs_diff(naive(d, Backend::cuda), naive(d)), 1e-5) << c.name << ", naive";
    EXPECT_LE(max_abs_diff(tiled(d, c.tile_m, Backend::cuda), tiled(d, c.tile_m)), 1e-5) << c.name << ", tiled";
    for (const int64_t parts : {1, 4, 13})
      EXPECT_LE(max_abs_diff(split(d, c.tile_m, parts, Backend::cuda), split(d, c.tile_m, parts)), 1e-5)
          << c.name << ", split into " << parts;
  }
  // bf16 outputs: the fp32 values differ by far less than a bf16 ulp, so at most one rounding flips (2^-8 of
  // values below 1).
  const AttentionData d = random_attention({1, 2, 2, 128, 64, 32, 32}, rng);
  EXPECT_LE(max_abs_diff(naive(d, Backend::cuda, DType::bf16), naive(d, Backend::cpu, DType::bf16)), 0x1p-8);
  EXPECT_LE(max_abs_diff(tiled(d, 32, Backend::cuda, DType::bf16), tiled(d, 32, Backend::cpu, DType::bf16)), 0x1p-8);
}

// M = P = 65536, H = 2: the naive kernel's scores go through a 1 GiB buffer a chunk of queries at a time. Some
// queries are checked against the CPU, each alone over the keys it sees. Sums of 65536 terms: the CPU's naive
// outputs are within 7e-6 of fp64 ones at this length, hence 1e-4.
TEST(ReferenceCuda, AttentionLongSequence) {
  REQUIRE_CUDA();
  std::mt19937_64 rng(seed());
  const AttentionShape s{1, 2, 1, 65536, 65536, 64, 64, true};
  const AttentionData d = random_attention(s, rng);
  const std::vector<float> outs[2] = {naive(d, Backend::cuda), tiled(d, 256, Backend::cuda)};
  for (int64_t h = 0; h < s.H; ++h)
    for (int64_t p : {int64_t{0}, int64_t{1}, int64_t{4095}, int64_t{4096}, int64_t{30000}, int64_t{65535}}) {
      // Query p alone: the keys it sees, not causal.
      const int64_t n = p + 1;
      AttentionData one{{1, 1, 1, n, 1, s.E, s.F},
                        std::vector<float>(sz(s.E)),
                        std::vector<float>(sz(s.E, n)),
                        std::vector<float>(sz(s.F, n))};
      for (int64_t e = 0; e < s.E; ++e) {
        one.q[sz(e)] = d.q[sz((h * s.E + e) * s.P + p)];
        std::copy_n(d.k.begin() + static_cast<std::ptrdiff_t>(e * s.M), n,
                    one.k.begin() + static_cast<std::ptrdiff_t>(e * n));
      }
      for (int64_t f = 0; f < s.F; ++f)
        std::copy_n(d.v.begin() + static_cast<std::ptrdiff_t>(f * s.M), n,
                    one.v.begin() + static_cast<std::ptrdiff_t>(f * n));
      const std::vector<float> want = naive(one);
      for (int which = 0; which < 2; ++which)
        for (int64_t f = 0; f < s.F; ++f)
          EXPECT_NEAR(outs[which][sz((h * s.F + f) * s.P + p)], want[sz(f)], 1e-4)
              << (which == 0 ? "naive" : "tiled") << " h " << h << " p " << p << " f " << f;
    }
}

// The tiled GEMM keeps the CPU's k order without FMA, and rounds with CUDA's own conversions: identical.
TEST(ReferenceCuda, GemmEqualsCpu) {
  REQUIRE_CUDA();
  std::mt19937_64 rng(seed());
  const int64_t shapes[][3] = {{1, 1, 1}, {65, 130, 33}, {128, 64, 256}, {3, 200, 17}};
  for (const auto& sh : shapes)
    for (DType out : {DType::fp32, DType::bf16, DType::fp16}) {
      const int64_t M = sh[0], N = sh[1], K = sh[2];
      const std::vector<float> a = random_values(rng, sz(M, K), DType::fp32),
                               b = random_values(rng, sz(K, N), DType::fp32);
      std::vector<float> c(sz(M, N)), want(sz(M, N));
      gemm(out, M, N, K, a.data(), b.data(), c.data(), Backend::cuda);
      gemm(out, M, N, K, a.data(), b.data(), want.data());
      expect_identical(
          c, want,
          std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) + " " + std::string(dtype_name(out)));
    }
}

// cuBLAS sums in its own order: within the fp32 error bound of a K-term dot product, 2 K 2^-24 sum |a b|,
// of the exact result.
TEST(ReferenceCuda, CublasWithinFp32Bound) {
  REQUIRE_CUDA();
  std::mt19937_64 rng(seed());
  const int64_t M = 70, N = 90, K = 200;
  for (DType in : {DType::fp32, DType::bf16, DType::fp16}) {
    const std::vector<float> a = random_values(rng, sz(M, K), in), b = random_values(rng, sz(K, N), in);
    std::vector<float> c(sz(M, N));
    gemm_cublas(in, DType::fp32, M, N, K, a.data(), b.data(), c.data());
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double exact = 0, magnitude = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double p = static_cast<double>(a[sz(i * K + k)]) * static_cast<double>(b[sz(k * N + j)]);
          exact += p;
          magnitude += std::fabs(p);
        }
        ASSERT_NEAR(c[sz(i * N + j)], exact, 2.0 * static_cast<double>(K) * 0x1p-24 * magnitude + 1e-30)
            << dtype_name(in) << " (" << i << ", " << j << ")";
      }
  }
}

TEST(ReferenceCuda, FfnMatchesCpu) {
  REQUIRE_CUDA();
  std::mt19937_64 rng(seed());
  const int64_t N = 37, D = 64, FF = 96;
  const std::vector<float> x = random_values(rng, sz(N, D)), w1 = random_values(rng, sz(D, FF)),
                           w3 = random_values(rng, sz(D, FF)), w2 = random_values(rng, sz(FF, D));
  std::vector<float> gpu(sz(N, D)), cpu(sz(N, D));
  // The GEMMs are identical; erff and expf differ by an ulp or two, which the second GEMM sums over FF terms.
  ffn_gelu(DType::fp32, N, D, FF, x.data(), w1.data(), w2.data(), gpu.data(), Backend::cuda);
  ffn_gelu(DType::fp32, N, D, FF, x.data(), w1.data(), w2.data(), cpu.data());
  EXPECT_LE(max_abs_diff(gpu, cpu), 1e-5 * max_abs(cpu)) << "gelu";
  ffn_swiglu(DType::fp32, N, D, FF, x.data(), w1.data(), w3.data(), w2.data(), gpu.data(), Backend::cuda);
  ffn_swiglu(DType::fp32, N, D, FF, x.data(), w1.data(), w3.data(), w2.data(), cpu.data());
  EXPECT_LE(max_abs_diff(gpu, cpu), 1e-5 * max_abs(cpu)) << "swiglu";
}

TEST(ReferenceCuda, NormsMatchCpu) {
  REQUIRE_CUDA();
  std::mt19937_64 rng(seed());
  const int64_t N = 33, D = 1000;
  const std::vector<float> x = random_values(rng, sz(N, D), DType::bf16, -2, 3), gamma = random_values(rng, sz(D)),
                           beta = random_values(rng, sz(D));
  std::vector<float> gpu(sz(N, D)), cpu(sz(N, D));
  // Tree sums against in-order sums of 1000 terms. The CPU's outputs (below 4 in magnitude) are within 3.6e-6
  // of exact ones computed in fp64 over 50 seeds, and the GPU's tree sums are closer still.
  layernorm(DType::fp32, N, D, 1e-5, x.data(), gamma.data(), beta.data(), gpu.data(), Backend::cuda);
  layernorm(DType::fp32, N, D, 1e-5, x.data(), gamma.data(), beta.data(), cpu.data());
  EXPECT_LE(max_abs_diff(gpu, cpu), 4e-5) << "layernorm";
  rmsnorm(DType::fp32, N, D, 1e-6, x.data(), gamma.data(), gpu.data(), Backend::cuda);
  rmsnorm(DType::fp32, N, D, 1e-6, x.data(), gamma.data(), cpu.data());
  EXPECT_LE(max_abs_diff(gpu, cpu), 4e-5) << "rmsnorm";
}

TEST(ReferenceCuda, SelectiveScanMatchesCpu) {
  REQUIRE_CUDA();
  std::mt19937_64 rng(seed());
  ScanShape s;
  s.B = 2, s.T = 300, s.D = 70, s.N = 16;
  const std::vector<float> x = random_values(rng, sz(s.B * s.T, s.D)), dt = random_values(rng, sz(s.B * s.T, s.D)),
                           dtb = random_values(rng, sz(s.D)), alog = random_values(rng, sz(s.D, s.N)),
                           bm = random_values(rng, sz(s.B * s.T, s.N)), cm = random_values(rng, sz(s.B * s.T, s.N)),
                           ds = random_values(rng, sz(s.D));
  std::vector<float> gpu(sz(s.B * s.T, s.D)), cpu(gpu.size());
  selective_scan(DType::fp32, s, x.data(), dt.data(), dtb.data(), alog.data(), bm.data(), cm.data(), ds.data(),
                 gpu.data(), Backend::cuda);
  selective_scan(DType::fp32, s, x.data(), dt.data(), dtb.data(), alog.data(), bm.data(), cm.data(), ds.data(),
                 cpu.data());
  // The same order of operations; the GPU's expf and log1pf may differ from the CPU's in the last bit, and the
  // decaying state keeps such differences from growing along t.
  EXPECT_LE(max_abs_diff(gpu, cpu), 1e-5 * max_abs(cpu));
}

// SpAtten's pruned step on the GPU: its top-k ranks every score as the CPU does (ties to the lower index, so the
// kept order is the same), and the gathered attention sums in the CPU's order.
TEST(ReferenceCuda, PrunedAttentionMatchesCpu) {
  REQUIRE_CUDA();
  std::mt19937_64 rng(seed());
  std::uniform_real_distribution<float> u(-1, 1);
  const AttentionShape s{3, 8, 8, 700, 1, 64, 32};
  auto fill = [&](size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = u(rng);
    return v;
  };
  const std::vector<float> q = fill(sz(3, 8, 64, 1)), k = fill(sz(3, 8, 64, 700)), v = fill(sz(3, 8, 32, 700));
  std::vector<float> imp = fill(sz(3, 700, 1, 1)), imph = fill(sz(3, 8, 1, 1));
  imp[5] = imp[9];  // a tie, kept in index order by both
  for (const auto& [keep, heads] : std::vector<std::pair<int64_t, int64_t>>{{700, 8}, {175, 5}, {1, 1}}) {
    std::vector<float> cpu(sz(3, heads, 32, 1)), gpu(cpu.size());
    attention_pruned(DType::fp32, s, keep, heads, imp.data(), imph.data(), q.data(), k.data(), v.data(), cpu.data());
    attention_pruned(DType::fp32, s, keep, heads, imp.data(), imph.data(), q.data(), k.data(), v.data(), gpu.data(),
                     Backend::cuda);
    EXPECT_LE(max_abs_diff(gpu, cpu), 1e-5) << "keep " << keep << " of 700 tokens, " << heads << " of 8 heads";
  }
}

// The top-k and gather on the GPU: every score ranked as the CPU ranks it (a tie kept in index order), the gathered
// values identical.
TEST(ReferenceCuda, TopkGatherMatchesCpu) {
  REQUIRE_CUDA();
  std::mt19937_64 rng(seed());
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> scores(sz(4, 5000, 1, 1)), x(sz(4, 24, 5000, 1));
  for (float& v : scores) v = u(rng);
  for (float& v : x) v = u(rng);
  scores[7] = scores[3];
  for (const int64_t keep : {int64_t{5000}, int64_t{1250}, int64_t{1}}) {
    std::vector<float> cpu(sz(4, 24, keep, 1)), gpu(cpu.size());
    topk_gather(DType::bf16, 4, 5000, keep, 24, scores.data(), x.data(), cpu.data());
    topk_gather(DType::bf16, 4, 5000, keep, 24, scores.data(), x.data(), gpu.data(), Backend::cuda);
    EXPECT_EQ(gpu, cpu) << "keep " << keep << " of 5000";
  }
}

TEST(ReferenceCuda, KdaMatchesCpu) {
  REQUIRE_CUDA();
  std::mt19937_64 rng(seed());
  KdaShape s;
  s.B = 2, s.H = 3, s.T = 150, s.E = 64, s.F = 48;
  const size_t rows = sz(s.B * s.H * s.T);
  const std::vector<float> q = random_values(rng, rows * sz(s.E)), k = random_values(rng, rows * sz(s.E)),
                           v = random_values(rng, rows * sz(s.F)), ga = random_values(rng, rows * sz(s.E)),
                           gb = random_values(rng, rows);
  std::vector<float> gpu(rows * sz(s.F)), cpu(gpu.size());
  kda_recurrent(DType::fp32, s, q.data(), k.data(), v.data(), ga.data(), gb.data(), gpu.data(), Backend::cuda);
  kda_recurrent(DType::fp32, s, q.data(), k.data(), v.data(), ga.data(), gb.data(), cpu.data());
  // The CPU's order of operations, but the GPU normalizes k inside the sums (k_e · (1/|k|) each time) where the
  // CPU stores k / |k| first: the same products, rounded the same; expf may differ in the last bit.
  EXPECT_LE(max_abs_diff(gpu, cpu), 1e-5 * max_abs(cpu));
}

TEST(ReferenceCuda, Int8EqualsCpu) {
  REQUIRE_CUDA();
  std::mt19937_64 rng(seed());
  const int64_t M = 70, N = 33, K = 513;
  const std::vector<int8_t> a = random_int8(rng, sz(M, K)), b = random_int8(rng, sz(K, N));
  expect_identical(run_int8(M, N, K, a, b, Backend::cuda), run_int8(M, N, K, a, b), "random");
  const Int8Extremes e = int8_extremes(132106);  // both saturations
  expect_identical(run_int8(e.M, e.N, e.K, e.a, e.b, Backend::cuda), run_int8(e.M, e.N, e.K, e.a, e.b), "extremes");
}

TEST(ReferenceCuda, QuantizedGemmsEqualCpu) {
  REQUIRE_CUDA();
  std::mt19937_64 rng(seed());
  for (DType scale_dtype : {DType::bf16, DType::fp32}) {
    const W4Data w = random_w4(rng, 33, 70, 128, 32, scale_dtype);
    for (DType out : {DType::fp32, DType::bf16})
      expect_identical(run_w4(w, out, Backend::cuda), run_w4(w, out),
                       "w4a16, scales " + std::string(dtype_name(scale_dtype)));
  }
  const int64_t M = 40, N = 50, K = 96;
  const std::vector<float> a = random_values(rng, sz(M, K), DType::fp8_e4m3, -448, 448),
                           b = random_values(rng, sz(K, N), DType::fp8_e4m3, -448, 448);
  for (DType out : {DType::fp32, DType::bf16, DType::fp16}) {
    std::vector<float> gpu(sz(M, N)), cpu(sz(M, N));
    gemm_fp8_e4m3(out, M, N, K, a.data(), b.data(), 0.02f, 0.5f, gpu.data(), Backend::cuda);
    gemm_fp8_e4m3(out, M, N, K, a.data(), b.data(), 0.02f, 0.5f, cpu.data());
    expect_identical(gpu, cpu, "fp8 " + std::string(dtype_name(out)));
  }
}

}  // namespace
}  // namespace einsim::reference
