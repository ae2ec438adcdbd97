// `einsim validate`: the library's cascades agree with their reference kernels, and a cascade that computes
// something else does not.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "tests/unit/test_util.hpp"
#include "workloads/validate.hpp"

namespace einsim {
namespace {

ValidateReport run(const std::string& file, std::vector<std::pair<std::string, std::string>> params,
                   double max_ops = 1e10) {
  ValidateOptions o;
  o.backend = "cpu";
  o.seed = test::seed();
  o.max_interpreter_ops = max_ops;
  o.sample_rows = 8;
  WorkloadOverrides w;
  w.params = std::move(params);
  w.skip_unknown = true;  // one set of params for cascades with and without M0
  return validate(load_cascade(file, w), o);
}

void expect_ok(const ValidateReport& r, size_t checks) {
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.checks.size(), checks);
  for (const ValidateCheck& c : r.checks) {
    EXPECT_LE(c.norm_rel_err, c.tolerance) << c.kernel << " against " << c.against;
    EXPECT_GT(c.compared, 0) << c.kernel;
  }
}

const std::vector<std::pair<std::string, std::string>> kSmallAttention = {
    {"M", "256"}, {"P", "64"}, {"M0", "64"}, {"E", "16"}, {"F", "16"}};

TEST(Validate, EveryAttentionCascadeMatchesBothKernels) {
  for (const char* f : {"attention-3pass", "attention-3pass-deferred", "attention-2pass", "attention-1pass"}) {
    const ValidateReport r = run(std::string("configs/workloads/") + f + ".yaml", kSmallAttention);
    SCOPED_TRACE(f);
    EXPECT_EQ(r.interpreter, "run");
    expect_ok(r, 2);  // naive and tiled, each against the interpreter
  }
}

TEST(Validate, CausalCascadesMatchTheCausalKernels) {
  // A prefill (M = P) and one continuing after M - P cached positions; with the fp64 oracle's sampled rows too.
  for (const auto& params :
       {std::vector<std::pair<std::string, std::string>>{{"P", "256"}, {"M0", "64"}}, kSmallAttention})
    for (const char* f : {"attention-causal-3pass", "attention-causal-2pass", "attention-causal-1pass"}) {
      SCOPED_TRACE(f);
      for (double max_ops : {1e10, 0.0}) {
        const ValidateReport r = run(std::string("configs/workloads/") + f + ".yaml", params, max_ops);
        EXPECT_TRUE(r.ok());
        for (const ValidateCheck& c : r.checks)
          EXPECT_LE(c.norm_rel_err, c.tolerance) << c.kernel << " vs " << c.against;
      }
    }
  // Checked against the kernel without the mask, the causal cascade fails: the check can tell them apart.
  std::ifstream in("configs/workloads/attention-causal-3pass.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("kernel: attention_causal"), 24, "kernel: attention");
  EXPECT_FALSE(run(test::temp_file("causal-vs-full.yaml", text), kSmallAttention).ok());
}

TEST(Validate, MambaScansMatchTheSelectiveScanKernel) {
  for (const char* f : {"mamba-s6-recurrent", "mamba-s6-chunked"}) {
    SCOPED_TRACE(f);
    for (double max_ops : {1e10, 0.0}) {  // against the interpreter, then against the fp64 oracle's rows
      const ValidateReport r =
          run(std::string("configs/workloads/ssm/") + f + ".yaml", {{"T", "256"}, {"D", "32"}, {"T0", "32"}}, max_ops);
      EXPECT_TRUE(r.ok());
      ASSERT_FALSE(r.checks.empty());
      for (const ValidateCheck& c : r.checks) EXPECT_LE(c.norm_rel_err, c.tolerance) << c.kernel << " vs " << c.against;
    }
  }
}

TEST(Validate, KimiDeltaAttentionMatchesItsKernel) {
  for (double max_ops : {1e10, 0.0}) {
    for (const ValidateReport& r :
         {run("configs/workloads/linear/kda-recurrent.yaml", {{"T", "200"}, {"E", "32"}, {"F", "24"}}, max_ops),
          run("configs/workloads/linear/kda-chunkwise.yaml", {{"T", "192"}, {"E", "32"}, {"F", "24"}, {"T0", "32"}},
              max_ops)}) {
      EXPECT_TRUE(r.ok());
      ASSERT_FALSE(r.checks.empty());
      for (const ValidateCheck& c : r.checks) EXPECT_LE(c.norm_rel_err, c.tolerance) << c.kernel << " vs " << c.against;
    }
  }
}

TEST(Validate, GqaDecodeMatches) {
  expect_ok(run("configs/workloads/attention-decode.yaml", {{"H", "4"}, {"KH", "2"}, {"M", "512"}}), 2);
}

TEST(Validate, GemmFfnAndNormsMatch) {
  expect_ok(run("configs/workloads/gemm.yaml", {{"M", "64"}, {"N", "48"}, {"K", "80"}}), 1);
  expect_ok(run("configs/workloads/ffn-gelu.yaml", {{"N", "16"}, {"D", "64"}, {"FF", "96"}}), 1);
  expect_ok(run("configs/workloads/ffn-swiglu.yaml", {{"N", "16"}, {"D", "64"}, {"FF", "96"}}), 1);
  expect_ok(run("configs/workloads/layernorm.yaml", {{"N", "32"}, {"D", "96"}}), 1);
  expect_ok(run("configs/workloads/rmsnorm.yaml", {{"N", "32"}, {"D", "96"}}), 1);
}

// SpAtten's top-k and gather: the kernel against the interpreter, and against the fp64 rows (which rank afresh).
TEST(Validate, TopkGatherMatchesItsKernel) {
  for (double max_ops : {1e10, 0.0}) {
    const ValidateReport r =
        run("configs/workloads/llm/topk-gather.yaml", {{"B", "3"}, {"L", "500"}, {"E", "8"}, {"KEEP", "123"}}, max_ops);
    EXPECT_TRUE(r.ok());
    ASSERT_FALSE(r.checks.empty());
    for (const ValidateCheck& c : r.checks) EXPECT_EQ(c.norm_rel_err, 0) << c.kernel << " vs " << c.against;
  }
}

TEST(Validate, WithoutTheInterpreterSampledRowsAndTheOtherKernelDecide) {
  const ValidateReport r = run("configs/workloads/attention-1pass.yaml", kSmallAttention, 0);
  EXPECT_NE(r.interpreter.find("skipped"), std::string::npos);
  // naive vs fp64 rows; tiled vs fp64 rows; tiled vs naive over every value.
  expect_ok(r, 3);
  EXPECT_EQ(r.checks[0].compared, 8 * 16);  // 8 query rows of F = 16 values
  EXPECT_EQ(r.checks[2].compared, 2 * 64 * 16);
}

TEST(Validate, ACascadeThatComputesSomethingElseFails) {
  // Z = A B + A[m,0]: an extra term the gemm kernel does not have.
  const std::string f = test::temp_file("wrong.yaml", R"(version: 1
name: wrong
params: {M: 8, N: 8, K: 8}
tensors:
  A: {ranks: [M, K]}
  B: {ranks: [K, N]}
  Z: {ranks: [M, N], output: true}
kernel: gemm
einsums:
  - P[m,n] = A[m,k] * B[k,n]
  - Z[m,n] = P[m,n] + A[m,0]
)");
  const ValidateReport r = run(f, {});
  EXPECT_FALSE(r.ok());
  EXPECT_GT(r.checks.at(0).norm_rel_err, 0.01);
}

TEST(Validate, TheToleranceIsOneUlpOfTheOutputPlusTheSums) {
  EXPECT_DOUBLE_EQ(validate_tolerance(DType::bf16, 1024), 0x1p-7 + 2048 * 0x1p-24);
  EXPECT_DOUBLE_EQ(validate_tolerance(DType::fp32, 1), 0x1p-23 + 2 * 0x1p-24);
}

TEST(Validate, AWorkloadWithoutAKernelIsAnInputError) {
  ValidateOptions o;
  o.backend = "cpu";
  EXPECT_THROW(validate(test::load("configs/workloads/encoder-gemms.yaml", {}), o), UserError);
}

}  // namespace
}  // namespace einsim
