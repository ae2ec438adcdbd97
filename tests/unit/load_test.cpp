#include <gtest/gtest.h>

#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

std::vector<int64_t> shape(const Cascade& c, const std::string& t) {
  std::vector<int64_t> s;
  for (const Rank& r : c.tensor(t).ranks) s.push_back(r.extent);
  return s;
}

TEST(Load, FuseMaxCascadeAsWrittenInThePaper) {
  const Cascade c = test::load("tests/data/fusemax-cascade5.yaml");  // M=64, P=32, E=F=8, M0=16
  EXPECT_EQ(shape(c, "BK"), (std::vector<int64_t>{8, 4, 16}));       // M1 = M/M0 inferred from m1*M0+m0
  EXPECT_EQ(shape(c, "BQK"), (std::vector<int64_t>{4, 16, 32}));
  EXPECT_EQ(shape(c, "RM"), (std::vector<int64_t>{5, 32}));  // written at m1+1: M1+1 elements
  EXPECT_EQ(shape(c, "RNV"), (std::vector<int64_t>{8, 5, 32}));
  EXPECT_EQ(c.tensor("RM").iterative_rank, 0);
  ASSERT_NE(c.param("M1"), nullptr);
  EXPECT_TRUE(c.param("M1")->inferred);
  EXPECT_EQ(c.param("M1")->value, 4);
  EXPECT_EQ(*c.tensor("RD").init, 0.0);
  EXPECT_EQ(*c.tensor("RM").init, -INFINITY);
}

TEST(Load, RecurrencesRunInLockstepAlongTheirIndex) {
  const Cascade c = test::load("tests/data/fusemax-cascade5.yaml");
  std::vector<std::vector<std::string>> recurrences;
  for (const Group& g : c.schedule) {
    if (g.step_var.empty()) continue;
    EXPECT_EQ(g.step_var, "m1");
    EXPECT_EQ(g.steps, 4);
    std::vector<std::string> names;
    for (EinsumId e : g.einsums) names.push_back(c.einsums[e].name);
    recurrences.push_back(names);
  }
  // SPD reads RD of the previous step; RD reads SPD of the same step, so SPD runs first within a step.
  EXPECT_EQ(recurrences, (std::vector<std::vector<std::string>>{{"RM"}, {"SPD", "RD"}, {"SPNV", "RNV"}}));
}

TEST(Load, ScheduleRespectsDependencies) {
  const Cascade c = test::load("configs/workloads/attention-1pass.yaml");
  IdVector<TensorId, bool> done(c.tensors.size(), false);
  for (TensorId t : c.tensors.ids()) done[t] = c.tensors[t].is_input();
  size_t scheduled = 0;
  for (const Group& g : c.schedule) {
    auto in_group = [&](EinsumId writer) {
      return std::find(g.einsums.begin(), g.einsums.end(), writer) != g.einsums.end();
    };
    for (EinsumId e : g.einsums) {
      // Data from outside a group must be complete before it runs; inside a recurrence the group orders it.
      for (const Access& a : c.einsums[e].reads) {
        if (!in_group(c.tensors[a.tensor].writer)) {
          EXPECT_TRUE(done[a.tensor]) << c.einsums[e].name << " reads " << c.tensors[a.tensor].name;
        }
      }
    }
    for (EinsumId e : g.einsums) done[c.einsums[e].out.tensor] = true;
    scheduled += g.einsums.size();
  }
  EXPECT_EQ(scheduled, c.einsums.size());
}

TEST(Load, GroupedQueryHeadsThroughParams) {
  const Cascade c =
      test::load("configs/workloads/attention-3pass.yaml", {{"H", "8"}, {"KH", "2"}, {"M", "128"}, {"P", "16"}});
  EXPECT_EQ(c.param("G")->value, 4);
  EXPECT_EQ(shape(c, "QK"), (std::vector<int64_t>{1, 2, 4, 128, 16}));
  EXPECT_EQ(shape(c, "AV"), (std::vector<int64_t>{1, 8, 64, 16}));
  EXPECT_EQ(shape(c, "K"), (std::vector<int64_t>{1, 2, 64, 128}));
}

// `--set dtype=...` (a sweep's `set: {dtype: ...}`) is the dtype of every tensor that declares none: the file's
// `dtype:`, for one study; a tensor that declares its own keeps it. One read binds to either.
TEST(Load, ADtypeOverrideRetypesTheTensorsThatDeclareNone) {
  const std::shared_ptr<const WorkloadSource> read = read_workload("configs/workloads/attention-3pass.yaml");
  const Cascade fp32 = bind_workload(*read);
  WorkloadOverrides o;
  o.params = {{"dtype", "bf16"}};
  const Cascade bf16 = bind_workload(*read, o);
  for (const char* intermediate : {"QK", "GM", "SN", "SD", "A"}) {
    EXPECT_EQ(fp32.tensor(intermediate).dtype, DType::fp32) << intermediate;
    EXPECT_EQ(bf16.tensor(intermediate).dtype, DType::bf16) << intermediate;
    EXPECT_EQ(bf16.tensor(intermediate).bytes() * 2, fp32.tensor(intermediate).bytes()) << intermediate;
  }
  for (const char* declared : {"Q", "K", "V", "AV"}) EXPECT_EQ(bf16.tensor(declared).dtype, DType::bf16) << declared;
  o.params = {{"dtype", "fp64"}};
  EXPECT_EQ(bind_workload(*read, o).tensor("Q").dtype, DType::bf16);  // declared: kept
  EXPECT_EQ(bind_workload(*read, o).tensor("QK").dtype, DType::fp64);
}

TEST(Load, ParamsExpressionsOverridesAndPresets) {
  const std::string file = test::temp_file("params.yaml", R"yaml(version: 1
name: p
params: {M: 1024, T: "min(16, M/256)", U: "cdiv(M, 3) - 1", V: "gcd(M + 256, 512)", eps: 1.0e-5}
tensors:
  X: {ranks: [M]}
  Y: {ranks: [M], output: true}
einsums:
  - Y[m] = X[m] * eps
)yaml");
  Cascade c = test::load(file);
  EXPECT_EQ(c.param("T")->value, 4);
  EXPECT_EQ(c.param("U")->value, 341);
  EXPECT_EQ(c.param("V")->value, 256);  // 1,280 = 5 x 256
  EXPECT_FALSE(c.param("eps")->integer);
  c = test::load(file, {{"M", "8192"}});
  EXPECT_EQ(c.param("T")->value, 16);  // derived params follow an override
  EXPECT_EQ(c.tensor("X").elements(), 8192);
  const std::string preset = test::temp_file("preset.yaml", "params: {M: 512, NOT_HERE: 3}\n");
  WorkloadOverrides o;
  o.param_files = {preset};
  o.params = {{"eps", "0.5"}};
  c = load_cascade(file, o);
  EXPECT_EQ(c.param("M")->value, 512);
  EXPECT_EQ(c.param("eps")->value, 0.5);
  EXPECT_EQ(c.param("NOT_HERE"), nullptr);
}

TEST(Load, ErrorsNameFileLineColumnAndKey) {
  EXPECT_EQ(test::load_error("version: 1\nname: x\neinsums: []\ntensors:\n  A: {ranks: [N], dtype: bf61}\n"),
            test::temp_file("bad.yaml", "") +
                ":5:15: error: tensors.A.ranks[0]: undefined rank 'N': ranks are named by params");
  const std::string f = test::temp_file("bad.yaml", "");
  EXPECT_EQ(
      test::load_error("version: 1\nname: x\nparams: {N: 4}\neinsums: []\ntensors:\n  A: {ranks: [N], dtype: bf61}\n"),
      f + ":6:26: error: tensors.A.dtype: unknown dtype 'bf61' (known: fp32, bf16, fp16, fp64, fp8_e4m3, fp8_e5m2, "
          "fp4_e2m1, int32, int8, int4, uint4)");
  EXPECT_EQ(test::load_error(
                "version: 1\nname: x\nparams: {N: 4}\ntensors:\n  A: {ranks: [N]}\n  Z: {ranks: [N], output: true}\n"
                "einsums:\n  - Z[n] = QQ[n] + A[n]\n"),
            f + ":8:12: error: undefined tensor 'QQ'\n    - Z[n] = QQ[n] + A[n]\n             ^");
  EXPECT_EQ(test::load_error("version: 1\nname: x\ntensorz: {}\n"),
            f + ":3:1: error: tensorz: unknown key (expected one of: version, name, description, params, dtype, "
                "tensors, einsums, init, kernel, reference)");
}

// The same file loaded again (a sweep's points, the mapper's candidates) still says where: a parse reused as a
// copy once lost its lines and columns, and with them where `einsim map` writes its tiles.
TEST(Load, AFileLoadedAgainStillNamesLineAndColumn) {
  const std::string text = "version: 1\nname: x\ntensorz: {}\n";
  EXPECT_EQ(test::load_error(text), test::load_error(text));
  EXPECT_NE(test::load_error(text).find("bad.yaml:3:1: error: tensorz: unknown key"), std::string::npos)
      << test::load_error(text);
}

TEST(Load, QuotedEinsumsPointInsideTheQuotes) {
  const std::string f = test::temp_file("bad.yaml", "");
  EXPECT_EQ(test::load_error(
                "version: 1\nname: x\nparams: {N: 4}\ntensors:\n  A: {ranks: [N]}\n  Z: {ranks: [N], output: true}\n"
                "einsums:\n  - \"Z[n] = foo(A[n])\"\n"),
            f + ":8:13: error: unknown operator 'foo' (known: max, min, exp, neg, sqrt, rsqrt, relu, gelu, silu, "
                "reciprocal, abs, gt, log2, exp2, ceil, log, sigmoid, softplus, sin, cos, floor, select, quantize, dequantize)\n"
                "    - \"Z[n] = foo(A[n])\"\n              ^");
}

TEST(Load, EveryTensorAccessIsChecked) {
  const std::string head =
      "version: 1\nname: x\nparams: {N: 4, K: 4}\ntensors:\n  A: {ranks: [N, K]}\n  Z: {ranks: [N], output: "
      "true}\neinsums:\n";
  EXPECT_NE(
      test::load_error(head + "  - Z[n] = A[n, k+1]\n").find("index 'k+1' spans [1, 4] but rank K of 'A' has extent 4"),
      std::string::npos);
  EXPECT_NE(test::load_error(head + "  - Z[n] = A[n]\n").find("'A' has 2 ranks but is indexed with 1"),
            std::string::npos);
  EXPECT_NE(test::load_error(head + "  - Z[n] = A[n, n]\n").find("rank used inconsistently"), std::string::npos);
  EXPECT_NE(test::load_error(head + "  - Z[n] = A[n, k*k]\n").find("non-affine index"), std::string::npos);
  EXPECT_NE(test::load_error(head + "  - Z[n] = max(n) A[n, k]\n").find("also appears in the output"),
            std::string::npos);
  EXPECT_EQ(test::load_error(head + "  - Z[n] = max(k) A[n, k]\n"), "");
}

}  // namespace
}  // namespace einsim
