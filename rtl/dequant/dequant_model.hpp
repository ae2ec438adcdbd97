#pragma once
// The int4 -> bf16 dequantizer (rtl/dequant/dequant.sv) in the co-simulation; arithmetic and timing from
// arch/units/dequant.
#include <string>

#include "arch/units/dequant.hpp"
#include "rtl/cosim/bench.hpp"
#include "rtl/cosim/random.hpp"

namespace einsim::cosim::dequant {

enum In { p_load, p_scale, p_zero, in_valid, in_codes };
constexpr int out_valid = 0;
inline int out_w(int i) { return 1 + i; }

inline UnitSpec spec() {
  UnitSpec s;
  s.name = "dequant";
  s.inputs = {{"p_load", 1}, {"p_scale", 32}, {"p_zero", 4}, {"in_valid", 1}, {"in_codes", 32}};
  s.outputs = {{"out_valid", 1}};
  for (int i = 0; i < arith::kDequantLanes; ++i) s.outputs.push_back({"out_w_" + std::to_string(i), 16, out_valid});
  s.in_valid = in_valid;
  s.out_valid = out_valid;
  return s;
}

// A word's eight results leave kDequantLatency cycles after it; a word in the cycle of p_load already uses
// the new scale and zero point.
class Model : public UnitModel {
 public:
  explicit Model(const sc_core::sc_module_name& name) : UnitModel(name, spec()) {}

 private:
  uint32_t scale_ = 0;
  uint32_t zero_ = 0;
  DelayLine<std::vector<uint16_t>> pending_;

  void tick(const Values& now) override {
    if (now[p_load]) {
      scale_ = static_cast<uint32_t>(now[p_scale]);
      zero_ = static_cast<uint32_t>(now[p_zero]);
    }
    if (now[in_valid]) {
      std::vector<uint16_t> w;
      for (int i = 0; i < arith::kDequantLanes; ++i)
        w.push_back(arith::dequant_bf16(static_cast<uint32_t>(now[in_codes] >> (4 * i)) & 15u, zero_, scale_));
      pending_.push(cycle + arith::kDequantLatency, std::move(w));
    }
    const auto due = pending_.take(cycle + 1);
    out[out_valid] = due.has_value();
    if (due)
      for (int i = 0; i < arith::kDequantLanes; ++i)
        out[static_cast<size_t>(out_w(i))] = (*due)[static_cast<size_t>(i)];
  }
};

// Groups of 1 to 16 words, each group's scale and zero point loaded with its first word or before it; scales
// mostly ordinary (range of a weight group / 15), sometimes tiny (subnormal products), huge (overflow) or
// special; words with bubbles between them.
class Drive : public Stimulus {
 public:
  void next(std::mt19937_64& rng, const Values&, Values& in) override {
    in[p_load] = 0;
    in[p_scale] = rng() & 0xffffffffu;
    in[p_zero] = rng() & 15;
    in[in_codes] = rng() & 0xffffffffu;
    in[in_valid] = chance(rng, 0.85);
    if (left_ == 0 || chance(rng, 0.02)) {
      in[p_load] = 1;
      in[p_scale] = random_fp32(rng, 112, 126) & 0x7fffffffu;
      if (chance(rng, 0.2)) in[p_scale] = random_fp32(rng);
      left_ = 1 + static_cast<int>(below(rng, 16));
    }
    if (in[in_valid]) --left_;
  }

 private:
  int left_ = 0;  // words left in this group
};

template <class V>
void connect(RtlUnit<V>& rtl) {
  rtl.apply = [](V& m, const Values& in) {
    set_bits(m.p_load, 0, 1, in[p_load]);
    set_bits(m.p_scale, 0, 32, in[p_scale]);
    set_bits(m.p_zero, 0, 4, in[p_zero]);
    set_bits(m.in_valid, 0, 1, in[in_valid]);
    set_bits(m.in_codes, 0, 32, in[in_codes]);
  };
  rtl.read = [](const V& m, Values& out) {
    out[out_valid] = m.out_valid;
    for (int i = 0; i < arith::kDequantLanes; ++i) out[static_cast<size_t>(out_w(i))] = get_bits(m.out_w, 16 * i, 16);
  };
}

template <class V>
Result run_cosim(const Options& options) {
  const UnitSpec s = spec();
  Model model("dequant_model");
  RtlUnit<V> rtl("dequant_rtl", s);
  connect(rtl);
  Drive drive;
  rtl.reset();
  return run_lockstep(s, model, rtl, drive, options);
}

}  // namespace einsim::cosim::dequant
