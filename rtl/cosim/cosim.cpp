#include "rtl/cosim/cosim.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "common/error.hpp"
// The units' models, then their Verilated classes, and the unit and size lists: rtl/CMakeLists.txt writes them.
#include "rtl_units.hpp"

namespace einsim::cosim {

std::vector<std::string> units() { return {EINSIM_RTL_UNIT_NAMES}; }

std::vector<int> systolic_sizes() { return {EINSIM_SYSTOLIC_SIZES}; }

Result run(const Request& r) {
  const auto known = units();
  if (std::find(known.begin(), known.end(), r.unit) == known.end())
    throw UserError(fmt::format("cosim: unknown unit '{}' (units: {})", r.unit, fmt::join(known, ", ")));
  if (r.options.cycles < 1) throw UserError(fmt::format("cosim: --cycles must be positive, not {}", r.options.cycles));
  if (r.dtype != "int8" && r.dtype != "bf16")
    throw UserError(fmt::format("cosim: --dtype must be int8 or bf16, not '{}'", r.dtype));
  const auto type = r.dtype == "int8" ? arith::PeType::int8 : arith::PeType::bf16;
  if (r.unit == "pe")
    return type == arith::PeType::int8 ? pe::run_cosim<Vpe_int8>(type, r.options)
                                       : pe::run_cosim<Vpe_bf16>(type, r.options);
  if (r.unit == "systolic") {
    const bool i8 = type == arith::PeType::int8;
#define EINSIM_SYSTOLIC(n)                                                  \
  if (r.size == n)                                                          \
    return i8 ? systolic::run_cosim<Vsystolic_int8_##n>(type, n, r.options) \
              : systolic::run_cosim<Vsystolic_bf16_##n>(type, n, r.options);
    EINSIM_FOR_SYSTOLIC_SIZES(EINSIM_SYSTOLIC)
#undef EINSIM_SYSTOLIC
    throw UserError(
        fmt::format("cosim: --size {} is not verilated in this build (sizes: {}; rtl/CMakeLists.txt adds more)", r.size,
                    fmt::join(systolic_sizes(), ", ")));
  }
#define EINSIM_SINGLE(u) \
  if (r.unit == #u) return u::run_cosim<V##u>(r.options);
  EINSIM_FOR_SINGLE_UNITS(EINSIM_SINGLE)
#undef EINSIM_SINGLE
  throw InternalError(fmt::format("cosim: unit '{}' is listed but has no co-simulation", r.unit));
}

}  // namespace einsim::cosim
