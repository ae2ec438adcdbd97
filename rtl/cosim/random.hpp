#pragma once
// Operand distributions for the co-simulation stimulus: mostly ordinary values, with the corners (zeros,
// subnormals, infinities, NaN, the largest finite values, random bit patterns) often enough to be hit.
#include <cstdint>
#include <random>

namespace einsim::cosim {

inline uint64_t below(std::mt19937_64& rng, uint64_t n) { return rng() % n; }
inline bool chance(std::mt19937_64& rng, double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

// An fp32 bit pattern whose exponent field lies in [lo, hi] for ordinary values.
inline uint32_t random_fp32(std::mt19937_64& rng, uint32_t lo = 110, uint32_t hi = 144) {
  const uint32_t sign = static_cast<uint32_t>(rng() & 1) << 31;
  const auto mantissa = static_cast<uint32_t>(rng() & 0x7fffff);
  switch (below(rng, 20)) {
    case 0:
      return static_cast<uint32_t>(rng());  // any pattern
    case 1:
      return sign | mantissa;  // subnormal
    case 2:
      return sign | (static_cast<uint32_t>(1 + below(rng, 8)) << 23) | mantissa;  // tiny normal
    case 3:
      return sign | (static_cast<uint32_t>(247 + below(rng, 8)) << 23) | mantissa;  // huge
    case 4: {
      constexpr uint32_t corners[] = {0,           0x7f800000u, 0x7fc00000u, 0x7f7fffffu,
                                      0x00000001u, 0x00800000u, 0x3f800000u, 0x7f812345u};
      return sign | corners[below(rng, 8)];
    }
    default:
      return sign | (static_cast<uint32_t>(lo + below(rng, hi - lo + 1)) << 23) | mantissa;
  }
}

// A bf16 bit pattern, drawn like random_fp32 (ordinary exponents in [lo, hi]).
inline uint16_t random_bf16(std::mt19937_64& rng, uint32_t lo = 110, uint32_t hi = 144) {
  return static_cast<uint16_t>(random_fp32(rng, lo, hi) >> 16);
}

}  // namespace einsim::cosim
