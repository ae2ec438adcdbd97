#pragma once
// One lane of FuseMax's 1D array running the online-softmax update of one query row (Nayak et al., FuseMax, MICRO 2024,
// the 1-pass cascade's RM, PRM, SPD, RD, SPNV, RNV), on fp32 bit patterns with arch/units/arith's rounding.
// Per tile m1 of the keys the 2D array hands the lane the tile's local max LM, local sum SLD and local
// numerator SLNV, and the lane updates its running max RM, denominator RD and numerator RNV:
//   RM' = max(RM, LM);  PRM = exp(RM - RM');  RD' = RD.PRM + SLD;  RNV' = RNV.PRM + SLNV
// A row starts (first) from RM = -inf, RD = RNV = 0.
#include <cstdint>

#include "arch/units/arith.hpp"

namespace einsim::arith {

// exp as the 1D array charges it (configs/arch/fusemax.yaml: "6*fp16_mac + fp16_add", latency 7), in fp32:
//   d = a - b                                   the add
//   y = d.log2(e) + 0                           MAC 1
//   k = trunc(y), f = y - k  (exact, |f| < 1)   by shifting y's significand: no arithmetic unit
//   p = ((((c5.f + c4).f + c3).f + c2).f + c1).f + c0   MACs 2-6 (Horner), c_i = fp32(ln(2)^i / i!)
//   exp = p . 2^k rounded to fp32 (an exponent adjustment, subnormal or 0 far below; y >= 128: inf)
// every MAC as fp32_mac (product and sum each rounded).
uint32_t exp_of_difference(uint32_t a, uint32_t b);
constexpr uint32_t kLog2e = 0x3fb8aa3bu;  // fp32(log2(e))
// c0 .. c5
constexpr uint32_t kExpCoefficients[6] = {0x3f800000u, 0x3f317218u, 0x3e75fdf0u, 0x3d635847u, 0x3c1d955bu, 0x3aaec3ffu};

// Cycles from an update entering the lane to its results on the outputs: the max (1), the exp (7), the
// rescaling MACs (1). A lane takes one update per cycle.
constexpr int kSoftmaxExpLatency = 7;
constexpr int kSoftmaxLaneLatency = 1 + kSoftmaxExpLatency + 1;

struct SoftmaxLaneState {
  uint32_t rm = kFp32NegInf;
  uint32_t rd = 0;
  uint32_t rnv = 0;
};

struct SoftmaxUpdate {
  bool first = false;  // the row's first tile: start from RM = -inf, RD = RNV = 0
  uint32_t lm = 0, sld = 0, slnv = 0;
};

// Applies one update to the state and returns the new state (also the lane's outputs).
SoftmaxLaneState softmax_lane_step(const SoftmaxLaneState& state, const SoftmaxUpdate& u);

}  // namespace einsim::arith
