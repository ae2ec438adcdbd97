#pragma once
// The N x N weight-stationary systolic array (rtl/systolic/systolic.sv) in the co-simulation. Its SystemC
// model takes its timing from arch/units/systolic (the cycle model every evaluator uses) and its arithmetic
// from arch/units/arith (the PE's MAC), so the RTL is checked against both.
#include <map>
#include <string>

#include "arch/units/arith.hpp"
#include "arch/units/systolic.hpp"
#include "rtl/cosim/bench.hpp"
#include "rtl/cosim/random.hpp"

namespace einsim::cosim::systolic {

// Port indices for an N x N array.
struct Ports {
  int n;
  int w_valid() const { return 0; }
  int w_row(int i) const { return 1 + i; }
  int x_valid() const { return 1 + n; }
  int x_last() const { return 2 + n; }
  int x_vec(int i) const { return 3 + n + i; }
  static constexpr int ready = 0;
  static constexpr int y_valid = 1;
  static int y_row(int j) { return 2 + j; }
};

inline UnitSpec spec(arith::PeType t, int n) {
  const int w = arith::pe_operand_bits(t);
  UnitSpec s;
  s.name = std::string("systolic_") + (t == arith::PeType::int8 ? "int8_" : "bf16_") + std::to_string(n);
  s.inputs.push_back({"w_valid", 1});
  for (int i = 0; i < n; ++i) s.inputs.push_back({"w_row_" + std::to_string(i), w});
  s.inputs.push_back({"x_valid", 1});
  s.inputs.push_back({"x_last", 1});
  for (int i = 0; i < n; ++i) s.inputs.push_back({"x_vec_" + std::to_string(i), w});
  s.outputs = {{"ready", 1}, {"y_valid", 1}};
  for (int j = 0; j < n; ++j) s.outputs.push_back({"y_row_" + std::to_string(j), 32, Ports::y_valid});
  s.in_valid = Ports{n}.x_valid();
  s.out_valid = Ports::y_valid;
  return s;
}

// Cycle 0 of a fold is its first weight row. Output row t (0-based) is on the outputs in cycle
// systolic_tile_cycles(N, N, ws, none, N, N, t + 1): the cycle in which a fold of t + 1 rows would have
// finished, so the last row of a fold of T rows leaves at its fold latency X + T - 2 (X = 3N), one cycle after
// the last MAC (SCALE-Sim's count: systolic_gemm(...).cycles numbers that MAC's cycle from 0). The next fold
// may start in that same cycle.
inline int64_t row_out_cycle(int n, int64_t t) {
  return systolic_tile_cycles(n, n, Dataflow::ws, FoldOverlap::none, n, n, t + 1);
}

class Model : public UnitModel {
 public:
  Model(const sc_core::sc_module_name& name, arith::PeType t, int n)
      : UnitModel(name, spec(t, n)), type_(t), n_(n), p_{n}, weights_(static_cast<size_t>(n * n), 0) {
    out[Ports::ready] = 1;
  }

 private:
  arith::PeType type_;
  int n_;
  Ports p_;
  std::vector<uint32_t> weights_;  // [row][col]
  bool busy_ = false;
  int64_t start_ = 0;
  int64_t rows_in_ = 0;
  int64_t ready_at_ = 0;
  std::map<int64_t, std::vector<uint32_t>> rows_out_;  // by the cycle they are on the outputs

  uint32_t& weight(int r, int c) { return weights_[static_cast<size_t>(r * n_ + c)]; }

  void tick(const Values& now) override {
    if (now[static_cast<size_t>(p_.w_valid())]) {
      if (!busy_) {
        busy_ = true;
        start_ = cycle;
        rows_in_ = 0;
      }
      for (int r = n_ - 1; r > 0; --r)
        for (int c = 0; c < n_; ++c) weight(r, c) = weight(r - 1, c);
      for (int c = 0; c < n_; ++c) weight(0, c) = static_cast<uint32_t>(now[static_cast<size_t>(p_.w_row(c))]);
    }
    if (now[static_cast<size_t>(p_.x_valid())]) {
      // Partial sums enter the top row at zero and flow down: row 0's product is added first.
      std::vector<uint32_t> y(static_cast<size_t>(n_), 0);
      for (int c = 0; c < n_; ++c)
        for (int r = 0; r < n_; ++r)
          y[static_cast<size_t>(c)] =
              arith::pe_mac(type_, y[static_cast<size_t>(c)],
                            static_cast<uint32_t>(now[static_cast<size_t>(p_.x_vec(r))]), weight(r, c));
      rows_out_[start_ + row_out_cycle(n_, rows_in_)] = std::move(y);
      ++rows_in_;
      if (now[static_cast<size_t>(p_.x_last())]) {
        busy_ = false;
        ready_at_ = start_ + row_out_cycle(n_, rows_in_ - 1);
      }
    }
    // The next cycle's outputs.
    const int64_t next = cycle + 1;
    out[Ports::ready] = !busy_ && next >= ready_at_;
    const auto row = rows_out_.find(next);
    out[Ports::y_valid] = row != rows_out_.end();
    if (row != rows_out_.end()) {
      for (int c = 0; c < n_; ++c) out[static_cast<size_t>(Ports::y_row(c))] = row->second[static_cast<size_t>(c)];
      rows_out_.erase(row);
    }
  }
};

// Folds of random depth T (1 to 4N rows, sometimes one) with random gaps, started whenever the array is ready;
// some folds are partial (zero weight rows and columns, as a GEMM's edge folds are). Data on the wires outside
// a fold's valid cycles is random too: the array must ignore it.
class Drive : public Stimulus {
 public:
  Drive(arith::PeType t, int n) : type_(t), n_(n), p_{n} {}

  void next(std::mt19937_64& rng, const Values& model_out, Values& in) override {
    for (int i = 0; i < n_; ++i) {
      in[static_cast<size_t>(p_.w_row(i))] = operand(rng);
      in[static_cast<size_t>(p_.x_vec(i))] = operand(rng);
    }
    in[static_cast<size_t>(p_.w_valid())] = 0;
    in[static_cast<size_t>(p_.x_valid())] = 0;
    in[static_cast<size_t>(p_.x_last())] = chance(rng, 0.5);  // ignored without x_valid
    if (phase_ == Phase::idle && model_out[Ports::ready] && chance(rng, 0.6)) {
      phase_ = Phase::weights;
      step_ = 0;
      rows_ = chance(rng, 0.1) ? 1 : 1 + static_cast<int64_t>(below(rng, static_cast<uint64_t>(4 * n_)));
      live_rows_ = chance(rng, 0.2) ? 1 + static_cast<int>(below(rng, static_cast<uint64_t>(n_))) : n_;
      live_cols_ = chance(rng, 0.2) ? 1 + static_cast<int>(below(rng, static_cast<uint64_t>(n_))) : n_;
    }
    if (phase_ == Phase::weights) {
      in[static_cast<size_t>(p_.w_valid())] = 1;
      const int row = n_ - 1 - static_cast<int>(step_);  // the bottom row first
      for (int c = 0; c < n_; ++c)
        if (row >= live_rows_ || c >= live_cols_) in[static_cast<size_t>(p_.w_row(c))] = 0;
      if (++step_ == n_) {
        phase_ = Phase::inputs;
        step_ = 0;
      }
    } else if (phase_ == Phase::inputs) {
      in[static_cast<size_t>(p_.x_valid())] = 1;
      in[static_cast<size_t>(p_.x_last())] = step_ == rows_ - 1;
      if (++step_ == rows_) phase_ = Phase::idle;
    }
  }

 private:
  enum class Phase { idle, weights, inputs };
  arith::PeType type_;
  int n_;
  Ports p_;
  Phase phase_ = Phase::idle;
  int64_t step_ = 0;
  int64_t rows_ = 0;
  int live_rows_ = 0;
  int live_cols_ = 0;

  uint64_t operand(std::mt19937_64& rng) const {
    return type_ == arith::PeType::int8 ? rng() & 0xff : random_bf16(rng, 118, 136);
  }
};

template <class V>
void connect(RtlUnit<V>& rtl, arith::PeType t, int n) {
  const int w = arith::pe_operand_bits(t);
  const Ports p{n};
  rtl.apply = [=](V& m, const Values& in) {
    set_bits(m.w_valid, 0, 1, in[static_cast<size_t>(p.w_valid())]);
    set_bits(m.x_valid, 0, 1, in[static_cast<size_t>(p.x_valid())]);
    set_bits(m.x_last, 0, 1, in[static_cast<size_t>(p.x_last())]);
    for (int i = 0; i < n; ++i) {
      set_bits(m.w_row, i * w, w, in[static_cast<size_t>(p.w_row(i))]);
      set_bits(m.x_vec, i * w, w, in[static_cast<size_t>(p.x_vec(i))]);
    }
  };
  rtl.read = [=](const V& m, Values& out) {
    out[Ports::ready] = m.ready;
    out[Ports::y_valid] = m.y_valid;
    for (int j = 0; j < n; ++j) out[static_cast<size_t>(Ports::y_row(j))] = get_bits(m.y_row, j * 32, 32);
  };
}

// One co-simulation of the Verilated array V (parameters DTYPE = t, N = n), with the random folds or the
// given stimulus.
template <class V>
Result run_cosim(arith::PeType t, int n, const Options& options, Stimulus* stimulus = nullptr) {
  const UnitSpec s = spec(t, n);
  Model model("systolic_model", t, n);
  RtlUnit<V> rtl("systolic_rtl", s);
  connect(rtl, t, n);
  Drive drive(t, n);
  rtl.reset();
  return run_lockstep(s, model, rtl, stimulus ? *stimulus : drive, options);
}

}  // namespace einsim::cosim::systolic
