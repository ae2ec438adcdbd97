#pragma once
// One lane of the 1D array running FuseMax's online-softmax update (rtl/softmax_lane/softmax_lane.sv) in the
// co-simulation; arithmetic and latency from arch/units/softmax_lane.

#include "arch/units/softmax_lane.hpp"
#include "rtl/cosim/bench.hpp"
#include "rtl/cosim/random.hpp"

namespace einsim::cosim::softmax_lane {

enum In { in_valid, in_first, lm, sld, slnv };
enum Out { out_valid, rm, rd, rnv };

inline UnitSpec spec() {
  UnitSpec s;
  s.name = "softmax_lane";
  s.inputs = {{"in_valid", 1}, {"in_first", 1}, {"lm", 32}, {"sld", 32}, {"slnv", 32}};
  s.outputs = {{"out_valid", 1}, {"rm", 32, out_valid}, {"rd", 32, out_valid}, {"rnv", 32, out_valid}};
  s.in_valid = in_valid;
  s.out_valid = out_valid;
  return s;
}

// An update's results leave kSoftmaxLaneLatency cycles after it enters; one update per cycle.
class Model : public UnitModel {
 public:
  explicit Model(const sc_core::sc_module_name& name) : UnitModel(name, spec()) {}

 private:
  arith::SoftmaxLaneState state_;
  DelayLine<arith::SoftmaxLaneState> pending_;

  void tick(const Values& now) override {
    if (now[in_valid]) {
      const arith::SoftmaxUpdate u{now[in_first] != 0, static_cast<uint32_t>(now[lm]), static_cast<uint32_t>(now[sld]),
                                   static_cast<uint32_t>(now[slnv])};
      state_ = arith::softmax_lane_step(state_, u);
      pending_.push(cycle + arith::kSoftmaxLaneLatency, state_);
    }
    const auto due = pending_.take(cycle + 1);
    out[out_valid] = due.has_value();
    if (due) {
      out[rm] = due->rm;
      out[rd] = due->rd;
      out[rnv] = due->rnv;
    }
  }
};

// Rows of 1 to 24 tiles with bubbles between updates. Local maxima are scores of either sign (at times far
// apart, so that exp underflows to subnormals and zero, or equal to the running max); local sums are positive
// and up to a tile's width, numerators of either sign; now and then any bit pattern.
class Drive : public Stimulus {
 public:
  void next(std::mt19937_64& rng, const Values&, Values& in) override {
    in[in_valid] = chance(rng, 0.85);
    in[in_first] = 0;
    in[lm] = random_fp32(rng, 118, 133);
    in[sld] = random_fp32(rng, 120, 135) & 0x7fffffffu;
    in[slnv] = random_fp32(rng, 110, 140);
    if (!in[in_valid]) return;
    if (left_ == 0) {
      in[in_first] = 1;
      left_ = 1 + static_cast<int>(below(rng, 24));
    }
    --left_;
    switch (below(rng, 8)) {
      case 0:
        in[lm] = last_lm_;
        break;  // the same max: exp(0)
      case 1:
        in[lm] = random_fp32(rng, 127, 134) | 0x80000000u;
        break;  // far below: exp underflows
      default:
        break;
    }
    last_lm_ = in[lm];
  }

 private:
  int left_ = 0;  // updates left in this row
  uint64_t last_lm_ = 0;
};

template <class V>
void connect(RtlUnit<V>& rtl) {
  rtl.apply = [](V& m, const Values& in) {
    set_bits(m.in_valid, 0, 1, in[in_valid]);
    set_bits(m.in_first, 0, 1, in[in_first]);
    set_bits(m.lm, 0, 32, in[lm]);
    set_bits(m.sld, 0, 32, in[sld]);
    set_bits(m.slnv, 0, 32, in[slnv]);
  };
  rtl.read = [](const V& m, Values& out) {
    out[out_valid] = m.out_valid;
    out[rm] = m.rm;
    out[rd] = m.rd;
    out[rnv] = m.rnv;
  };
}

template <class V>
Result run_cosim(const Options& options) {
  const UnitSpec s = spec();
  Model model("softmax_lane_model");
  RtlUnit<V> rtl("softmax_lane_rtl", s);
  connect(rtl);
  Drive drive;
  rtl.reset();
  return run_lockstep(s, model, rtl, drive, options);
}

}  // namespace einsim::cosim::softmax_lane
