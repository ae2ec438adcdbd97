#include "arch/units/softmax_lane.hpp"

#include <cmath>

namespace einsim::arith {

uint32_t exp_of_difference(uint32_t a, uint32_t b) {
  const uint32_t y = fp32_mac(0, fp32_sub(a, b), kLog2e);
  const double yv = fp32_value(y);
  if (std::isnan(yv)) return kFp32NaN;
  if (yv >= 128) return 0x7f800000u;
  if (yv <= -160) return 0;  // p < 2, so p . 2^k < 2^-150 rounds to zero from k = -151 down; -160 keeps k narrow
  const double k = std::trunc(yv);
  const uint32_t f = fp32_bits(yv - k);  // exact
  uint32_t p = kExpCoefficients[5];
  for (int i = 4; i >= 0; --i) p = fp32_mac(kExpCoefficients[i], p, f);
  return fp32_bits(std::ldexp(fp32_value(p), static_cast<int>(k)));
}

SoftmaxLaneState softmax_lane_step(const SoftmaxLaneState& state, const SoftmaxUpdate& u) {
  const SoftmaxLaneState in = u.first ? SoftmaxLaneState{} : state;
  SoftmaxLaneState out;
  out.rm = fp32_max(in.rm, u.lm);
  const uint32_t prm = exp_of_difference(in.rm, out.rm);
  out.rd = fp32_mac(u.sld, in.rd, prm);
  out.rnv = fp32_mac(u.slnv, in.rnv, prm);
  return out;
}

}  // namespace einsim::arith
