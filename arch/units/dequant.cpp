#include "arch/units/dequant.hpp"

#include "arch/units/arith.hpp"

namespace einsim::arith {

uint16_t dequant_bf16(uint32_t code, uint32_t zero, uint32_t scale_bits) {
  const int centred = static_cast<int>(code & 15u) - static_cast<int>(zero & 15u);
  return bf16_bits(fp32_value(fp32_bits(centred * fp32_value(scale_bits))));
}

}  // namespace einsim::arith
