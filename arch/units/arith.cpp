#include "arch/units/arith.hpp"

#include <bit>
#include <cmath>

namespace einsim::arith {

double fp32_value(uint32_t bits) { return static_cast<double>(std::bit_cast<float>(bits)); }
double bf16_value(uint16_t bits) { return fp32_value(static_cast<uint32_t>(bits) << 16); }

uint32_t fp32_bits(double x) {
  const double r = round_to(DType::fp32, x);
  return std::isnan(r) ? kFp32NaN : std::bit_cast<uint32_t>(static_cast<float>(r));
}

uint16_t bf16_bits(double x) {
  const double r = round_to(DType::bf16, x);
  return std::isnan(r) ? kBf16NaN : static_cast<uint16_t>(std::bit_cast<uint32_t>(static_cast<float>(r)) >> 16);
}

// Products of two fp32 values are exact in fp64 (48 significant bits), so rounding them once is correct; sums
// of two fp32 values rounded to fp64 and then to fp32 are too (fp64 has more than 2 x 24 + 2 bits).
uint32_t fp32_mul(uint32_t a, uint32_t b) { return fp32_bits(fp32_value(a) * fp32_value(b)); }
uint32_t fp32_add(uint32_t a, uint32_t b) { return fp32_bits(fp32_value(a) + fp32_value(b)); }
uint32_t fp32_sub(uint32_t a, uint32_t b) { return fp32_bits(fp32_value(a) - fp32_value(b)); }
uint32_t fp32_mac(uint32_t acc, uint32_t a, uint32_t b) { return fp32_add(acc, fp32_mul(a, b)); }

uint32_t fp32_max(uint32_t a, uint32_t b) {
  const double x = fp32_value(a), y = fp32_value(b);
  if (std::isnan(x) || std::isnan(y)) return kFp32NaN;
  return y > x ? b : a;
}

uint32_t pe_mac(PeType t, uint32_t psum, uint32_t a, uint32_t w) {
  if (t == PeType::int8) {
    const auto sa = static_cast<int8_t>(a & 0xff), sw = static_cast<int8_t>(w & 0xff);
    const double sum =
        static_cast<double>(static_cast<int32_t>(psum)) + static_cast<double>(sa) * static_cast<double>(sw);  // exact
    return static_cast<uint32_t>(static_cast<int32_t>(round_to(DType::int32, sum)));
  }
  const double product = bf16_value(static_cast<uint16_t>(a)) * bf16_value(static_cast<uint16_t>(w));  // exact
  return fp32_add(psum, fp32_bits(product));
}

int pe_operand_bits(PeType t) { return t == PeType::int8 ? 8 : 16; }

}  // namespace einsim::arith
