#include "workloads/dtype.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace einsim {
namespace {

struct Format {
  DType type;
  std::string_view name;
  int64_t bits;
  bool integer;
  bool is_signed;     // integers
  int mantissa_bits;  // floats: explicit fraction bits
  int min_exponent;   // floats: exponent of the smallest normal
  double max_finite;  // floats: largest finite value; integers: largest value
  bool has_inf;       // floats
};

// OCP 8-bit floating point (v1.0): e4m3 has no infinities and gives its top mantissa code to NaN, so its largest
// value is 1.75 x 2^8 = 448; e5m2 follows IEEE (largest 1.75 x 2^15 = 57,344). OCP MX fp4 e2m1: 0.5 .. 6, no
// infinities or NaN.
constexpr std::array<Format, 11> kFormats{{
    {DType::fp32, "fp32", 32, false, true, 23, -126, 0x1.fffffep127, true},
    {DType::bf16, "bf16", 16, false, true, 7, -126, 0x1.fep127, true},
    {DType::fp16, "fp16", 16, false, true, 10, -14, 65504.0, true},
    {DType::fp64, "fp64", 64, false, true, 52, -1022, std::numeric_limits<double>::max(), true},
    {DType::fp8_e4m3, "fp8_e4m3", 8, false, true, 3, -6, 448.0, false},
    {DType::fp8_e5m2, "fp8_e5m2", 8, false, true, 2, -14, 57344.0, true},
    {DType::fp4_e2m1, "fp4_e2m1", 4, false, true, 1, 0, 6.0, false},
    {DType::int32, "int32", 32, true, true, 0, 0, 2147483647.0, false},
    {DType::int8, "int8", 8, true, true, 0, 0, 127.0, false},
    {DType::int4, "int4", 4, true, true, 0, 0, 7.0, false},
    {DType::uint4, "uint4", 4, true, false, 0, 0, 15.0, false},
}};

const Format& format_of(DType t) { return kFormats[static_cast<size_t>(t)]; }

double uniform(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

// x / quantum rounded to an integer, by the rounding mode.
double round_units(double units, const Rounding& r) {
  if (!r.stochastic) return std::nearbyint(units);  // default rounding mode: to nearest, ties to even
  const double down = std::floor(units);
  return uniform(*r.stochastic) < units - down ? down + 1 : down;
}

}  // namespace

std::string_view dtype_name(DType t) { return format_of(t).name; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const Format& f : kFormats)
    if (f.name == name) return f.type;
  return std::nullopt;
}

std::string dtype_names() {
  std::string out;
  for (const Format& f : kFormats) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

int64_t dtype_bits(DType t) { return format_of(t).bits; }
bool dtype_is_integer(DType t) { return format_of(t).integer; }
int dtype_fraction_bits(DType t) { return format_of(t).mantissa_bits; }

int64_t bytes_for(DType t, int64_t elements) { return (elements * dtype_bits(t) + 7) / 8; }

double round_to(DType t, double x, const Rounding& r) {
  const Format& f = format_of(t);
  if (f.integer) {
    if (std::isnan(x)) return 0;
    const double lo = f.is_signed ? -f.max_finite - 1 : 0;
    return std::clamp(round_units(x, r), lo, f.max_finite);
  }
  // What a value too large for the format becomes.
  auto overflow = [&](double sign_of) {
    if (r.saturate || (!f.has_inf && t != DType::fp8_e4m3)) return std::copysign(f.max_finite, sign_of);
    return f.has_inf ? std::copysign(INFINITY, sign_of) : NAN;  // e4m3, not saturating: NaN (OCP)
  };
  if (std::isnan(x) || x == 0) return x;
  if (std::isinf(x)) return overflow(x);
  if (t == DType::fp64) return x;
  if (t == DType::fp32 && !r.stochastic && !r.saturate) return static_cast<double>(static_cast<float>(x));
  // Quantum of x's binade (clamped to the subnormal quantum); scaling by a power of two is exact, and so is
  // rounding the quotient to an integer. Round to nearest reaches past the largest finite value only from half
  // an ulp above it (ties go to the even neighbour, the next power of two), which is IEEE's overflow rule.
  const int exponent = std::max(std::ilogb(x), f.min_exponent);
  const double quantum = std::ldexp(1.0, exponent - f.mantissa_bits);
  const double rounded = round_units(x / quantum, r) * quantum;
  return std::fabs(rounded) <= f.max_finite ? rounded : overflow(x);
}

}  // namespace einsim
