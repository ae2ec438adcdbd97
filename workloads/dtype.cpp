#include "workloads/dtype.hpp"

#include <array>
#include <cmath>

namespace einsim {
namespace {

struct FloatFormat {
  DType type;
  std::string_view name;
  int64_t bytes;
  int mantissa_bits;  // explicit fraction bits
  int min_exponent;   // exponent of the smallest normal
  int max_exponent;   // exponent of the largest finite
};

constexpr std::array<FloatFormat, 4> kFormats{{
    {DType::fp32, "fp32", 4, 23, -126, 127},
    {DType::bf16, "bf16", 2, 7, -126, 127},
    {DType::fp16, "fp16", 2, 10, -14, 15},
    {DType::fp64, "fp64", 8, 52, -1022, 1023},
}};

const FloatFormat& format_of(DType t) { return kFormats[static_cast<size_t>(t)]; }

}  // namespace

std::string_view dtype_name(DType t) { return format_of(t).name; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const FloatFormat& f : kFormats)
    if (f.name == name) return f.type;
  return std::nullopt;
}

std::string dtype_names() {
  std::string out;
  for (const FloatFormat& f : kFormats) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

int64_t dtype_bytes(DType t) { return format_of(t).bytes; }

double round_to(DType t, double x) {
  if (t == DType::fp64 || !std::isfinite(x) || x == 0) return x;
  const FloatFormat& f = format_of(t);
  // Quantum of x's binade (clamped to the subnormal quantum); scaling by a power of two is exact, so
  // nearbyint under the default rounding mode rounds to nearest even.
  const int exponent = std::max(std::ilogb(x), f.min_exponent);
  const double quantum = std::ldexp(1.0, exponent - f.mantissa_bits);
  const double rounded = std::nearbyint(x / quantum) * quantum;
  const double max_finite = std::ldexp(2.0 - std::ldexp(1.0, -f.mantissa_bits), f.max_exponent);
  if (std::fabs(rounded) > max_finite) return std::copysign(INFINITY, x);
  return rounded;
}

}  // namespace einsim
