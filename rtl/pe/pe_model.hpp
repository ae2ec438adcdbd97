#pragma once
// The processing element (rtl/pe/pe.sv) in the co-simulation: its ports, its SystemC unit model, its stimulus
// and the adaptor's mapping onto the Verilated model's ports.
#include "arch/units/arith.hpp"
#include "rtl/cosim/bench.hpp"
#include "rtl/cosim/random.hpp"

namespace einsim::cosim::pe {

enum In { w_load, w_in, a_valid, a_in, psum_in };
enum Out { w_out, a_valid_out, a_out, psum_out };

inline UnitSpec spec(arith::PeType t) {
  const int w = arith::pe_operand_bits(t);
  UnitSpec s;
  s.name = t == arith::PeType::int8 ? "pe_int8" : "pe_bf16";
  s.inputs = {{"w_load", 1}, {"w_in", w}, {"a_valid", 1}, {"a_in", w}, {"psum_in", 32}};
  s.outputs = {{"w_out", w}, {"a_valid_out", 1}, {"a_out", w}, {"psum_out", 32}};
  s.in_valid = a_valid;
  s.out_valid = a_valid_out;
  return s;
}

// One MAC per cycle, every output a register (one cycle from inputs to outputs); psum_out holds when no
// activation is valid; a weight loaded in a cycle is used from the next.
class Model : public UnitModel {
 public:
  Model(const sc_core::sc_module_name& name, arith::PeType t) : UnitModel(name, spec(t)), type_(t) {}

 private:
  arith::PeType type_;
  void tick(const Values& now) override {
    const uint32_t weight = static_cast<uint32_t>(out[w_out]);
    if (now[a_valid])
      out[psum_out] =
          arith::pe_mac(type_, static_cast<uint32_t>(now[psum_in]), static_cast<uint32_t>(now[a_in]), weight);
    if (now[w_load]) out[w_out] = now[w_in];
    out[a_valid_out] = now[a_valid];
    out[a_out] = now[a_in];
  }
};

class Drive : public Stimulus {
 public:
  explicit Drive(arith::PeType t) : type_(t) {}
  void next(std::mt19937_64& rng, const Values& model_out, Values& in) override {
    in[w_load] = chance(rng, 0.1);
    in[a_valid] = chance(rng, 0.8);
    if (type_ == arith::PeType::int8) {
      in[w_in] = rng() & 0xff;
      in[a_in] = rng() & 0xff;
      // Near the int32 limits often enough to saturate.
      const uint64_t r = below(rng, 4);
      in[psum_in] = r == 0   ? 0x7fffffffu - (rng() & 0x3fff)
                    : r == 1 ? 0x80000000u + (rng() & 0x3fff)
                             : rng() & 0xffffffffu;
      return;
    }
    in[w_in] = random_bf16(rng);
    in[a_in] = random_bf16(rng);
    // Partial sums around the product's magnitude (cancellation, every alignment) or anywhere.
    const auto product = arith::fp32_bits(arith::bf16_value(static_cast<uint16_t>(in[a_in])) *
                                          arith::bf16_value(static_cast<uint16_t>(model_out[w_out])));
    switch (below(rng, 4)) {
      case 0:
        in[psum_in] = product ^ 0x80000000u;
        break;  // exact cancellation
      case 1:
        in[psum_in] = (product ^ 0x80000000u) ^ (rng() & 0x00ffffffu);
        break;  // near it
      case 2:
        in[psum_in] = product ^ (rng() & 0x0f7fffffu);
        break;  // exponents a few apart
      default:
        in[psum_in] = random_fp32(rng, 90, 164);
    }
  }

 private:
  arith::PeType type_;
};

template <class V>
void connect(RtlUnit<V>& rtl) {
  rtl.apply = [](V& m, const Values& in) {
    set_bits(m.w_load, 0, 1, in[w_load]);
    set_bits(m.w_in, 0, 16, in[w_in]);
    set_bits(m.a_valid, 0, 1, in[a_valid]);
    set_bits(m.a_in, 0, 16, in[a_in]);
    set_bits(m.psum_in, 0, 32, in[psum_in]);
  };
  rtl.read = [](const V& m, Values& out) {
    out[w_out] = m.w_out;
    out[a_valid_out] = m.a_valid_out;
    out[a_out] = m.a_out;
    out[psum_out] = m.psum_out;
  };
}

// One co-simulation of the Verilated PE V (its DTYPE parameter must be t).
template <class V>
Result run_cosim(arith::PeType t, const Options& options) {
  const UnitSpec s = spec(t);
  Model model("pe_model", t);
  RtlUnit<V> rtl("pe_rtl", s);
  connect(rtl);
  Drive drive(t);
  rtl.reset();
  return run_lockstep(s, model, rtl, drive, options);
}

}  // namespace einsim::cosim::pe
