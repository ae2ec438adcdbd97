#include "rtl/cosim/cosim.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "common/error.hpp"
// The unit models first: bench.hpp prepares verilated.h for SystemC.
#include "rtl/dequant/dequant_model.hpp"
#include "rtl/pe/pe_model.hpp"
#include "rtl/softmax_lane/softmax_lane_model.hpp"
#include "rtl/systolic/systolic_model.hpp"
#include "Vdequant.h"
#include "Vpe_bf16.h"
#include "Vpe_int8.h"
#include "Vsoftmax_lane.h"
#include "Vsystolic_bf16_4.h"
#include "Vsystolic_bf16_8.h"
#include "Vsystolic_int8_4.h"
#include "Vsystolic_int8_8.h"

namespace einsim::cosim {

std::vector<std::string> units() { return {"pe", "systolic", "softmax_lane", "dequant"}; }

std::vector<int> systolic_sizes() { return {4, 8}; }  // rtl/CMakeLists.txt verilates these

Result run(const Request& r) {
  const auto known = units();
  if (std::find(known.begin(), known.end(), r.unit) == known.end())
    throw UserError(fmt::format("cosim: unknown unit '{}' (units: {})", r.unit, fmt::join(known, ", ")));
  if (r.options.cycles < 1) throw UserError(fmt::format("cosim: --cycles must be positive, not {}", r.options.cycles));
  if (r.dtype != "int8" && r.dtype != "bf16") throw UserError(fmt::format("cosim: --dtype must be int8 or bf16, not '{}'", r.dtype));
  const auto type = r.dtype == "int8" ? arith::PeType::int8 : arith::PeType::bf16;
  if (r.unit == "pe") return type == arith::PeType::int8 ? pe::run_cosim<Vpe_int8>(type, r.options) : pe::run_cosim<Vpe_bf16>(type, r.options);
  if (r.unit == "systolic") {
    const bool i8 = type == arith::PeType::int8;
    if (r.size == 4) return i8 ? systolic::run_cosim<Vsystolic_int8_4>(type, 4, r.options) : systolic::run_cosim<Vsystolic_bf16_4>(type, 4, r.options);
    if (r.size == 8) return i8 ? systolic::run_cosim<Vsystolic_int8_8>(type, 8, r.options) : systolic::run_cosim<Vsystolic_bf16_8>(type, 8, r.options);
    throw UserError(fmt::format("cosim: --size {} is not verilated in this build (sizes: {}; rtl/CMakeLists.txt adds more)", r.size,
                                fmt::join(systolic_sizes(), ", ")));
  }
  if (r.unit == "softmax_lane") return softmax_lane::run_cosim<Vsoftmax_lane>(r.options);
  return dequant::run_cosim<Vdequant>(r.options);
}

}  // namespace einsim::cosim
