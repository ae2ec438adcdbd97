// Co-simulation of every RTL unit against its SystemC unit model: 10^5 cycles of seeded random stimulus each,
// no mismatch allowed. SystemC elaborates once per process, so ctest runs each test in its own process.
#include <gtest/gtest.h>

#include <filesystem>
#include <ostream>
#include <string>
#include <systemc>
#include <vector>

#include "arch/units/systolic.hpp"
#include "rtl/cosim/cosim.hpp"
#include "rtl/systolic/systolic_model.hpp"  // before the Verilated header (see bench.hpp)
#include "Vsystolic_int8_4.h"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

constexpr int64_t kCycles = 100000;

cosim::Result run(const std::string& unit, const std::string& dtype = "int8", int size = 4) {
  cosim::Request r;
  r.unit = unit;
  r.dtype = dtype;
  r.size = size;
  r.options.cycles = kCycles;
  r.options.seed = test::seed();
  r.options.vcd =
      (std::filesystem::temp_directory_path() / ("einsim-cosim-" + std::to_string(::getpid()) + ".vcd")).string();
  r.options.vcd_only_on_mismatch = true;
  const cosim::Result result = cosim::run(r);
  std::cout << cosim::summary(result);
  return result;
}

void expect_match(const cosim::Result& r, int64_t min_results) {
  EXPECT_EQ(r.cycles, kCycles);
  EXPECT_EQ(r.mismatches, 0) << cosim::summary(r);
  EXPECT_FALSE(r.first.has_value());
  EXPECT_GE(r.transactions_out, min_results);  // the stimulus kept the unit busy
  EXPECT_GT(r.values_compared, kCycles);
}

// Every unit of cosim::units() (rtl/CMakeLists.txt's EINSIM_RTL_UNITS): pe and systolic in both datatypes, the
// array at every verilated size (EINSIM_SYSTOLIC_SIZES).
struct UnitCase {
  std::string unit;
  std::string dtype = "int8";
  int size = 4;
};

std::string case_name(const UnitCase& c) {
  if (c.unit == "systolic") return c.unit + "_" + c.dtype + "_" + std::to_string(c.size);
  return c.unit == "pe" ? c.unit + "_" + c.dtype : c.unit;
}
void PrintTo(const UnitCase& c, std::ostream* os) { *os << case_name(c); }

std::vector<UnitCase> unit_cases() {
  std::vector<UnitCase> cases;
  for (const std::string& unit : cosim::units()) {
    if (unit != "pe" && unit != "systolic") {
      cases.push_back({unit});
      continue;
    }
    for (const std::string dtype : {"int8", "bf16"}) {
      if (unit == "pe")
        cases.push_back({unit, dtype});
      else
        for (const int n : cosim::systolic_sizes()) cases.push_back({unit, dtype, n});
    }
  }
  return cases;
}

class CosimUnit : public ::testing::TestWithParam<UnitCase> {};

// Each keeps its unit busy: a result out at least every other cycle, every tenth for the array.
TEST_P(CosimUnit, MatchesItsModel) {
  const UnitCase& c = GetParam();
  expect_match(run(c.unit, c.dtype, c.size), c.unit == "systolic" ? kCycles / 10 : kCycles / 2);
}

INSTANTIATE_TEST_SUITE_P(Cosim, CosimUnit, ::testing::ValuesIn(unit_cases()),
                         [](const ::testing::TestParamInfo<UnitCase>& param) { return case_name(param.param); });

// A whole GEMM Z[M,N] = A[M,K] . B[K,N] on the 4x4 int8 array, weight-stationary: each fold holds a 4x4 slice
// of B and streams the M rows of A's matching columns; folds run back to back, each started in the cycle the
// array is ready again. The partial sums of the K folds add up outside the array, as SCALE-Sim assumes.
class Gemm : public cosim::Stimulus {
 public:
  static constexpr int kN = 4;
  Gemm(int64_t m, int64_t n, int64_t k, uint64_t seed) : m_(m), n_(n), k_(k), a_(m * k), b_(k * n) {
    std::mt19937_64 rng(seed);
    for (auto& v : a_) v = static_cast<int8_t>(rng());
    for (auto& v : b_) v = static_cast<int8_t>(rng());
    for (int64_t kf = 0; kf < (k + kN - 1) / kN; ++kf)
      for (int64_t nf = 0; nf < (n + kN - 1) / kN; ++nf) folds_.push_back({kf, nf});
  }

  void next(std::mt19937_64&, const cosim::Values& model_out, cosim::Values& in) override {
    std::fill(in.begin(), in.end(), 0);
    if (step_ == 0 && (fold_ == folds_.size() || !model_out[P::ready] || cycle_++ < kFirstCycle)) return;
    const auto [kf, nf] = folds_[fold_];
    if (step_ < kN) {  // weight rows, the bottom one first
      in[static_cast<size_t>(p_.w_valid())] = 1;
      const int64_t r = kf * kN + (kN - 1 - step_);
      for (int c = 0; c < kN; ++c)
        in[static_cast<size_t>(p_.w_row(c))] = byte(r < k_ && nf * kN + c < n_ ? b_[r * n_ + nf * kN + c] : 0);
    } else {
      const int64_t t = step_ - kN;
      in[static_cast<size_t>(p_.x_valid())] = 1;
      in[static_cast<size_t>(p_.x_last())] = t == m_ - 1;
      for (int i = 0; i < kN; ++i)
        in[static_cast<size_t>(p_.x_vec(i))] = byte(kf * kN + i < k_ ? a_[t * k_ + kf * kN + i] : 0);
    }
    if (++step_ == kN + m_) {
      step_ = 0;
      ++fold_;
    }
  }

  using P = cosim::systolic::Ports;
  static constexpr int64_t kFirstCycle = 3;
  int64_t m_, n_, k_;
  std::vector<int8_t> a_, b_;
  std::vector<std::pair<int64_t, int64_t>> folds_;

 private:
  P p_{kN};
  size_t fold_ = 0;
  int64_t step_ = 0;
  int64_t cycle_ = 0;
  static uint64_t byte(int8_t v) { return static_cast<uint8_t>(v); }
};

TEST(CosimSystolic, GemmTakesTheCycleModelsCyclesAndComputesTheProduct) {
  Gemm gemm(6, 7, 10, test::seed());
  std::vector<std::pair<int64_t, std::vector<uint32_t>>> rows;  // the RTL's output rows and their cycles
  int64_t first_weight = -1;
  cosim::Options o;
  o.cycles = 200;
  o.observe = [&](int64_t cycle, const cosim::Values& in, const cosim::Values&, const cosim::Values& rtl) {
    if (first_weight < 0 && in[0]) first_weight = cycle;
    if (!rtl[Gemm::P::y_valid]) return;
    std::vector<uint32_t> row;
    for (int j = 0; j < Gemm::kN; ++j)
      row.push_back(static_cast<uint32_t>(rtl[static_cast<size_t>(Gemm::P::y_row(j))]));
    rows.emplace_back(cycle, row);
  };
  const cosim::Result r = cosim::systolic::run_cosim<Vsystolic_int8_4>(arith::PeType::int8, Gemm::kN, o, &gemm);
  std::cout << cosim::summary(r);
  EXPECT_EQ(r.mismatches, 0);
  EXPECT_EQ(first_weight, Gemm::kFirstCycle);
  // Folds ceil(K/4) . ceil(N/4) = 3 . 2 = 6, each X + T - 2 = 12 + 6 - 2 = 16 cycles: 96 cycles from the first
  // weight row to the last output row, whose last MAC is in cycle 95, SCALE-Sim's count.
  ASSERT_EQ(rows.size(), 6u * 6u);
  EXPECT_EQ(rows.back().first - first_weight, 96);
  EXPECT_EQ(systolic_gemm(4, 4, Dataflow::ws, FoldOverlap::none, GemmShape{6, 7, 10}).cycles, 95);
  // The first fold's rows leave in cycles 2R + C - 1 + t = 11 + t after its first weight row.
  for (int64_t t = 0; t < 6; ++t) EXPECT_EQ(rows[static_cast<size_t>(t)].first - first_weight, 11 + t);
  // Values: the folds' partial sums add up to A . B.
  std::vector<int64_t> z(6 * 7, 0);
  for (size_t f = 0; f < gemm.folds_.size(); ++f)
    for (int64_t t = 0; t < 6; ++t)
      for (int j = 0; j < Gemm::kN; ++j) {
        const int64_t col = gemm.folds_[f].second * Gemm::kN + j;
        if (col < 7)
          z[static_cast<size_t>(t * 7 + col)] +=
              static_cast<int32_t>(rows[f * 6 + static_cast<size_t>(t)].second[static_cast<size_t>(j)]);
      }
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 7; ++j) {
      int64_t want = 0;
      for (int64_t k = 0; k < 10; ++k)
        want += int64_t{gemm.a_[static_cast<size_t>(i * 10 + k)]} * gemm.b_[static_cast<size_t>(k * 7 + j)];
      EXPECT_EQ(z[static_cast<size_t>(i * 7 + j)], want) << i << "," << j;
    }
}

}  // namespace
}  // namespace einsim
