#pragma once
// Dequantization of 4-bit weights to bf16 with a per-group scale and zero point, as AWQ-style W4A16 layers do
// (workloads/reference/kernels.hpp gemm_w4a16): w = bf16(fp32((q - z) . scale)), codes q and zero point z
// uint4 (0..15), scale fp32. The centred code is exact; the product rounds to fp32, then to bf16 (RNE both).
#include <cstdint>

namespace einsim::arith {

uint16_t dequant_bf16(uint32_t code, uint32_t zero, uint32_t scale_bits);

// The dequant unit converts kDequantLanes codes (one 32-bit word) per cycle; results appear
// kDequantLatency cycles after their word (the fp32 product, then the bf16 rounding, each a register stage).
constexpr int kDequantLanes = 8;
constexpr int kDequantLatency = 2;

}  // namespace einsim::arith
