// The co-simulation can fail: the int8 PE with its accumulation's + turned into - (tests/cosim/CMakeLists.txt
// makes the copy) must be reported, with the cycle, the signal and waves.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <systemc>

#include "rtl/pe/pe_model.hpp"  // before the Verilated header (see bench.hpp)
#include "Vpe_int8_mutant.h"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

TEST(CosimMutant, PeWithOneOperatorChangedMismatches) {
  cosim::Options o;
  o.cycles = 20000;
  o.seed = test::seed();
  o.vcd = (std::filesystem::temp_directory_path() / ("einsim-mutant-" + std::to_string(::getpid()) + ".vcd")).string();
  const cosim::Result r = cosim::pe::run_cosim<Vpe_int8_mutant>(arith::PeType::int8, o);
  std::cout << cosim::summary(r);
  EXPECT_GT(r.mismatches, 0);
  ASSERT_TRUE(r.first.has_value());
  EXPECT_EQ(r.first->signal, "psum_out");
  EXPECT_NE(r.first->expected, r.first->actual);
  // The first activation valid is in the first few cycles, so the first wrong sum is soon after.
  EXPECT_LT(r.first->cycle, 100);
  std::ifstream vcd(o.vcd);
  const std::string waves{std::istreambuf_iterator<char>(vcd), {}};
  EXPECT_NE(waves.find("$var wire 32"), std::string::npos);
  EXPECT_NE(waves.find("psum_out"), std::string::npos);
  EXPECT_NE(waves.find('#' + std::to_string(r.first->cycle) + '\n'), std::string::npos);
  std::filesystem::remove(o.vcd);
}

}  // namespace
}  // namespace einsim
