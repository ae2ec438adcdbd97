// Quantized layers in the cascade language: quantize/dequantize, exact integer accumulation, planted outliers,
// and the library's quantized GEMMs against their fp32 references.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/unit/test_util.hpp"
#include "workloads/analysis.hpp"
#include "workloads/interpreter.hpp"

namespace einsim {
namespace {

// Output Y of a quantized workload against its `reference:` on the same inputs and params (as
// `einsim eval --compare-reference`).
ErrorStats against_reference(const std::string& file, std::vector<std::pair<std::string, std::string>> params,
                             uint64_t seed) {
  WorkloadOverrides o;
  o.params = params;
  const Cascade q = load_cascade(file, o);
  const Cascade ref = load_reference(q, o);
  const TensorValues inputs = random_inputs(q, seed);
  const TensorValues a = evaluate(q, inputs, {});
  const TensorValues b = evaluate(ref, inputs, {});
  const std::string out = q.tensors.back().output ? q.tensors.back().name : "Y";
  return compare_values(a.at(out), b.at(out));
}

const std::vector<std::pair<std::string, std::string>> kSmall = {{"N", "64"}, {"D", "512"}, {"O", "256"}};

TEST(Quant, LlmInt8BeatsPlainInt8OnOutlierColumns) {
  const uint64_t seed = test::seed();
  const ErrorStats plain = against_reference("configs/workloads/quant/int8-gemm.yaml", kSmall, seed);
  const ErrorStats mixed = against_reference("configs/workloads/quant/llm-int8.yaml", kSmall, seed);
  // Outlier columns 20x the rest inflate plain int8's row scales: about 28 dB against 49 dB measured; the
  // decomposition must win by at least 15 dB.
  EXPECT_GT(mixed.snr_db, plain.snr_db + 15) << "int8 " << plain.snr_db << " dB, LLM.int8 " << mixed.snr_db << " dB";
  // Without outliers there is nothing to decompose: the two agree.
  std::vector<std::pair<std::string, std::string>> none = kSmall;
  none.emplace_back("outlier_channels", "0");
  EXPECT_NEAR(against_reference("configs/workloads/quant/llm-int8.yaml", none, seed).snr_db,
              against_reference("configs/workloads/quant/int8-gemm.yaml", none, seed).snr_db, 1e-9);
}

TEST(Quant, W4A16ErrorIsBoundedByItsGroupStep) {
  WorkloadOverrides o;
  o.params = kSmall;
  const Cascade c = load_cascade("configs/workloads/quant/awq-w4a16.yaml", o);
  const TensorValues v = evaluate(c, random_inputs(c, test::seed()), {});
  const int64_t D = 512, O = 256, D0 = 128;
  // Each dequantized weight is within half a step of its group (plus the zero point's own rounding, another
  // half step, and bf16 storage of the result).
  for (int64_t d = 0; d < D; ++d)
    for (int64_t o2 = 0; o2 < O; ++o2) {
      const double ws = v.at("WS")[static_cast<size_t>(d * O + o2)];
      const double wd = v.at("WD")[static_cast<size_t>(d * O + o2)];
      const double step = v.at("SC")[static_cast<size_t>((d / D0) * O + o2)];
      ASSERT_LE(std::abs(wd - ws), step + std::abs(ws) * 0x1p-8 + 1e-12) << "d " << d << " o " << o2;
    }
}

TEST(Quant, SmallerGroupsQuantizeMoreFinely) {
  const uint64_t seed = test::seed();
  std::vector<std::pair<std::string, std::string>> coarse = kSmall, fine = kSmall;
  coarse.emplace_back("D0", "256");
  fine.emplace_back("D0", "32");
  EXPECT_GT(against_reference("configs/workloads/quant/awq-w4a16.yaml", fine, seed).snr_db,
            against_reference("configs/workloads/quant/awq-w4a16.yaml", coarse, seed).snr_db + 1);
}

TEST(Quant, Int8ProductsAccumulateExactlyInInt32) {
  // 2048 products of 127 * 127: 33,032,192 exceeds 2^24, so fp32 partial sums would round (odd multiples of
  // 16129 are not representable there); int32 accumulation is exact.
  const std::string f = test::temp_file("int8-acc.yaml", R"(version: 1
name: acc
params: {K: 2048}
tensors:
  A: {ranks: [K], dtype: int8}
  B: {ranks: [K], dtype: int8}
  C: {dtype: int32, output: true}
einsums:
  - C[] = A[k] * B[k]
)");
  const Cascade c = test::load(f);
  const TensorValues v =
      evaluate(c, {{"A", std::vector<double>(2048, 127)}, {"B", std::vector<double>(2048, 127)}}, {});
  EXPECT_EQ(v.at("C")[0], 33032192.0);
  // The store saturates to the int32 range: 131073 * 128 * 128 is past 2^31 - 1 (fp64 arithmetic, so that the
  // int32 value itself is held exactly).
  const Cascade wide = test::load(f, {{"K", "131073"}});
  const std::vector<double> m(131073, -128);
  EXPECT_EQ(evaluate(wide, {{"A", m}, {"B", m}}, EvalOptions{true, false}).at("C")[0], 2147483647.0);
}

TEST(Quant, QuantizeAndDequantizeWithZeroPoints) {
  const std::string f = test::temp_file("qdq.yaml", R"(version: 1
name: qdq
params: {N: 4}
tensors:
  X: {ranks: [N]}
  Q: {dtype: uint4}
  Y: {output: true}
einsums:
  - Q[n] = quantize(X[n], 0.5, 8)      # x / 0.5 + 8, rounded to 0..15
  - Y[n] = dequantize(Q[n], 0.5, 8)    # (q - 8) * 0.5
)");
  const Cascade c = test::load(f);
  const TensorValues v = evaluate(c, {{"X", {-5.0, -0.3, 1.26, 9.0}}}, {});
  EXPECT_EQ(v.at("Q"),
            (std::vector<double>{0, 7, 11, 15}));  // -10+8 saturates to 0; -0.6+8 = 7.4; 2.52+8; 18+8 saturates
  EXPECT_EQ(v.at("Y"), (std::vector<double>{-4, -0.5, 1.5, 3.5}));
  EXPECT_EQ(analyze(c).ops.at("quantize"), 4);
  EXPECT_EQ(analyze(c).ops.at("dequantize"), 4);
  EXPECT_NE(test::load_error("version: 1\nname: x\nparams: {N: 2}\ntensors:\n  X: {ranks: [N]}\n  Y: {output: "
                             "true}\neinsums:\n  - Y[n] = quantize(X[n])\n")
                .find("'quantize' takes 2 or 3 arguments, got 1"),
            std::string::npos);
}

TEST(Quant, OutliersArePlantedInEvenlySpreadChannels) {
  WorkloadOverrides o;
  o.params = {{"N", "8"}, {"D", "64"}, {"O", "4"}, {"outlier_channels", "4"}, {"outlier_scale", "100"}};
  const Cascade c = load_cascade("configs/workloads/quant/matmul-fp32.yaml", o);
  const std::vector<double> x = random_inputs(c, 3).at("X");
  for (int64_t d = 0; d < 64; ++d) {
    double top = 0;
    for (int64_t n = 0; n < 8; ++n) top = std::max(top, std::abs(x[static_cast<size_t>(n * 64 + d)]));
    if (d % 16 == 0)
      EXPECT_GT(top, 1.0) << d;  // columns 0, 16, 32, 48
    else
      EXPECT_LT(top, 1.0) << d;
  }
}

}  // namespace
}  // namespace einsim
