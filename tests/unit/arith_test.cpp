// The RTL units' arithmetic models (arch/units): their definitions in terms of dtype's rounding, the corners,
// and the exp approximation's accuracy.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "arch/spec.hpp"
#include "arch/units/arith.hpp"
#include "arch/units/dequant.hpp"
#include "arch/units/softmax_lane.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim::arith {
namespace {

uint32_t f32(double x) { return fp32_bits(x); }

TEST(Arith, Int8MacIsExactAndSaturates) {
  EXPECT_EQ(pe_mac(PeType::int8, 5, 0xfe, 3), static_cast<uint32_t>(-1));  // 5 + (-2)(3)
  EXPECT_EQ(pe_mac(PeType::int8, 0, 0x80, 0x80), 16384u);                  // (-128)(-128)
  EXPECT_EQ(pe_mac(PeType::int8, 0x7fffff00u, 0x7f, 0x7f), 0x7fffffffu);   // + 16129 saturates
  EXPECT_EQ(pe_mac(PeType::int8, 0x80000000u, 0x80, 0x7f), 0x80000000u);   // - 16256 saturates
}

TEST(Arith, Bf16MacRoundsToNearestEvenAndKeepsSubnormals) {
  const uint32_t two_pow_m12 = 0x3980;  // bf16 2^-12: the product 2^-24 is half an ulp of 1.0 in fp32
  EXPECT_EQ(pe_mac(PeType::bf16, 0x3f800000u, two_pow_m12, two_pow_m12), 0x3f800000u);  // tie: to even, 1.0
  EXPECT_EQ(pe_mac(PeType::bf16, 0x3f800001u, two_pow_m12, two_pow_m12), 0x3f800002u);  // tie: to even, up
  EXPECT_EQ(pe_mac(PeType::bf16, 0, 0x1c80, 0x1c80), 0x200u);              // 2^-70 . 2^-70 = 2^-140, an fp32 subnormal
  EXPECT_EQ(pe_mac(PeType::bf16, 0, 0x0001, 0x3f80), 0x00010000u);         // a bf16 subnormal operand
  EXPECT_EQ(pe_mac(PeType::bf16, 0x3f800000u, 0x3f80, 0xbf80), 0u);        // 1 - 1 = +0
  EXPECT_EQ(pe_mac(PeType::bf16, 0x7f800000u, 0x3f80, 0xff80), kFp32NaN);  // inf - inf: the canonical NaN
  EXPECT_EQ(pe_mac(PeType::bf16, 0, 0x7f7f, 0x7f7f), 0x7f800000u);         // overflow to inf
}

TEST(Arith, Fp32OperationsAreRoundToOfTheExactResult) {
  std::mt19937_64 rng(test::seed());
  for (int i = 0; i < 20000; ++i) {
    const auto a = static_cast<uint32_t>(rng()), b = static_cast<uint32_t>(rng());
    const double x = fp32_value(a), y = fp32_value(b);
    if (std::isnan(x) || std::isnan(y)) continue;
    const auto expect = [](double v) {
      return std::isnan(v) ? kFp32NaN : std::bit_cast<uint32_t>(static_cast<float>(v));
    };
    EXPECT_EQ(fp32_add(a, b), expect(round_to(DType::fp32, x + y)));
    EXPECT_EQ(fp32_mul(a, b), expect(round_to(DType::fp32, x * y)));
    EXPECT_EQ(fp32_add(a, b),
              expect(static_cast<double>(std::bit_cast<float>(a) + std::bit_cast<float>(b))));  // the FPU agrees
  }
}

TEST(Arith, ExpConstantsAreTheRoundedTaylorCoefficients) {
  EXPECT_EQ(kLog2e, f32(1 / std::log(2.0)));
  double factorial = 1;
  for (int i = 0; i < 6; ++i) {
    if (i > 0) factorial *= i;
    EXPECT_EQ(kExpCoefficients[i], f32(std::pow(std::log(2.0), i) / factorial)) << i;
  }
}

TEST(Arith, ExpOfADifference) {
  EXPECT_EQ(exp_of_difference(f32(3.5), f32(3.5)), f32(1.0));  // exp(0) = c0, exactly
  EXPECT_EQ(exp_of_difference(kFp32NegInf, f32(2.0)), 0u);     // a row's first tile: exp(-inf) = 0
  EXPECT_EQ(exp_of_difference(f32(-200.0), 0), 0u);            // y <= -160
  EXPECT_EQ(exp_of_difference(f32(100.0), 0), 0x7f800000u);    // y >= 128
  EXPECT_EQ(exp_of_difference(kFp32NaN, 0), kFp32NaN);
  // Subnormal results below 2^-126 (d < -87.3) rather than a flush to zero.
  const uint32_t tiny = exp_of_difference(f32(-95.0), 0);
  EXPECT_GT(tiny, 0u);
  EXPECT_LT(tiny, 0x00800000u);
  // The degree-5 Taylor series of 2^f on |f| < 1: relative error below (ln 2)^6 / 6! / 2^-1 = 3.1e-4 (at f -> -1).
  for (double d = -80; d <= 0; d += 0.01) {
    const double got = fp32_value(exp_of_difference(f32(d), 0));
    EXPECT_NEAR(got / std::exp(fp32_value(f32(d))), 1.0, 3.2e-4) << d;
  }
}

TEST(Arith, TheLanesExpTakesTheCyclesFuseMaxsArrayIsCharged) {
  // The RTL lane and its model use kSoftmaxExpLatency; the evaluators charge the config's exp latency.
  const ArchSpec arch = load_arch("configs/arch/fusemax.yaml");
  for (const char* unit : {"pe1d", "pe2d"})
    EXPECT_EQ(arch.find(unit)->ops()->at("exp").latency_cycles, kSoftmaxExpLatency) << unit;
}

TEST(Arith, SoftmaxLaneComputesTheRowsSoftmaxWeightedSum) {
  // Tiles of 16 scores: the 2D array's LM, SLD = sum exp(s - RM'), SLNV = sum exp(s - RM') v, computed here
  // in fp64; the lane's RNV / RD is the softmax-weighted sum of v.
  std::mt19937_64 rng(test::seed());
  std::uniform_real_distribution<double> score(-8, 8), value(-1, 1);
  std::vector<double> s(256), v(256);
  for (size_t i = 0; i < s.size(); ++i) s[i] = score(rng), v[i] = value(rng);
  SoftmaxLaneState state;
  double running_max = -INFINITY;
  for (size_t t = 0; t < 16; ++t) {
    double lm = -INFINITY;
    for (size_t i = 0; i < 16; ++i) lm = std::max(lm, s[t * 16 + i]);
    running_max = std::max(running_max, lm);
    double sld = 0, slnv = 0;
    for (size_t i = 0; i < 16; ++i) {
      sld += std::exp(s[t * 16 + i] - running_max);
      slnv += std::exp(s[t * 16 + i] - running_max) * v[t * 16 + i];
    }
    state = softmax_lane_step(state, {t == 0, f32(lm), f32(sld), f32(slnv)});
    EXPECT_EQ(fp32_value(state.rm), fp32_value(f32(running_max)));
  }
  double den = 0, num = 0;
  for (size_t i = 0; i < s.size(); ++i) den += std::exp(s[i] - running_max), num += std::exp(s[i] - running_max) * v[i];
  EXPECT_NEAR(fp32_value(state.rd), den, den * 1e-3);
  EXPECT_NEAR(fp32_value(state.rnv) / fp32_value(state.rd), num / den, 1e-3);
}

TEST(Arith, DequantIsTheReferenceKernelsFormula) {
  // workloads/reference/cpu/quantized.cpp: bf16(float(q - z) * scale), the product in fp32.
  std::mt19937_64 rng(test::seed());
  for (int i = 0; i < 20000; ++i) {
    const uint32_t q = rng() & 15, z = rng() & 15;
    const auto scale = static_cast<uint32_t>(rng());
    const float product = static_cast<float>(static_cast<int>(q) - static_cast<int>(z)) * std::bit_cast<float>(scale);
    const double want = round_to(DType::bf16, product);
    const uint16_t got = dequant_bf16(q, z, scale);
    if (std::isnan(want))
      EXPECT_EQ(got, kBf16NaN);
    else
      EXPECT_EQ(bf16_value(got), want) << q << " " << z << " " << scale;
  }
  EXPECT_EQ(dequant_bf16(9, 8, f32(0.5)), 0x3f00);     // (9 - 8) . 0.5
  EXPECT_EQ(dequant_bf16(0, 15, f32(-0.25)), 0x4070);  // (0 - 15) . -0.25 = 3.75
}

}  // namespace
}  // namespace einsim::arith
