#pragma once
// Bit-exact arithmetic of the RTL units (rtl/), on the bit patterns the hardware carries. Every operation rounds
// through workloads/dtype's round_to, so the interpreter, the SystemC unit models and the Verilog share one
// definition: round to nearest, ties to even, after every operation; subnormals kept (never flushed), as
// round_to keeps them; overflow to infinity; any NaN result is the canonical quiet NaN (0x7fc00000, bf16 0x7fc0)
// because hardware does not propagate payloads.
#include <cstdint>

#include "workloads/dtype.hpp"

namespace einsim::arith {

constexpr uint32_t kFp32NaN = 0x7fc00000u;
constexpr uint16_t kBf16NaN = 0x7fc0u;
constexpr uint32_t kFp32NegInf = 0xff800000u;

double fp32_value(uint32_t bits);
double bf16_value(uint16_t bits);
// The bits of round_to(fp32 / bf16, x), NaN canonical.
uint32_t fp32_bits(double x);
uint16_t bf16_bits(double x);

uint32_t fp32_mul(uint32_t a, uint32_t b);
uint32_t fp32_add(uint32_t a, uint32_t b);
uint32_t fp32_sub(uint32_t a, uint32_t b);
// Not fused: the product rounds to fp32, then the sum does (two roundings, as two separate units would).
uint32_t fp32_mac(uint32_t acc, uint32_t a, uint32_t b);
// b when b > a, else a (so max(-0, +0) is -0: they compare equal); NaN if either is NaN.
uint32_t fp32_max(uint32_t a, uint32_t b);

// The processing element's multiply-accumulate, psum + a.b:
//   int8: exact product, the sum saturated to int32 (round_to(int32, .) clamps);
//   bf16: bf16 x bf16 rounded to fp32 (exact unless it leaves fp32's range), then the fp32 sum rounded.
// Operands and psum are bit patterns: int8 in the low 8 bits (two's complement), bf16 in the low 16.
enum class PeType { int8, bf16 };
uint32_t pe_mac(PeType t, uint32_t psum, uint32_t a, uint32_t w);
int pe_operand_bits(PeType t);  // 8 or 16; the psum is 32 bits for both

}  // namespace einsim::arith
