#pragma once
// Lockstep co-simulation of one RTL unit against its SystemC unit model (docs/rtl.md). Both are clocked by the
// same SystemC clock and read the same inputs, which a seeded stimulus drives at every falling edge; at the
// next falling edge the bench compares every output of the two, bit for bit. A signal is a name, a width and
// a value of at most 64 bits; a unit's inputs and outputs are vectors of them.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <systemc>
// verilated.h reads the time from SystemC once SystemC is included, and expects sc_time_stamp unqualified.
using sc_core::sc_time_stamp;
#include <verilated.h>

namespace einsim::cosim {

using Values = std::vector<uint64_t>;

struct Port {
  std::string name;
  int width = 1;
  int valid = -1;  // outputs: compared only in cycles where the model drives this output (a valid) to 1
};

struct UnitSpec {
  std::string name;
  std::vector<Port> inputs;
  std::vector<Port> outputs;
  int in_valid = -1;   // the input that marks a transaction in (counted in the summary)
  int out_valid = -1;  // the output that marks a result
};

struct Options {
  int64_t cycles = 100000;
  uint64_t seed = 1;
  std::string vcd;  // waves around the first mismatch (else the first cycles); empty: none
  bool vcd_only_on_mismatch = false;
  // Tests: called every cycle with its inputs and the outputs compared at its start (model's, RTL's).
  std::function<void(int64_t cycle, const Values& in, const Values& model, const Values& rtl)> observe;
};

struct Mismatch {
  int64_t cycle = 0;
  std::string signal;
  uint64_t expected = 0;  // the SystemC unit model's value
  uint64_t actual = 0;    // the RTL's
  int width = 0;
};

struct Result {
  std::string unit;
  uint64_t seed = 0;
  int64_t cycles = 0;
  int64_t values_compared = 0;
  int64_t mismatches = 0;        // values that differed
  int64_t transactions_in = 0;   // cycles with an input valid
  int64_t transactions_out = 0;  // cycles with an output valid (in the model)
  std::optional<Mismatch> first;
  std::string vcd;  // where waves were written, if anywhere
};

// What the bench drives and compares: a clocked module that reads `in` (this cycle's inputs) at each rising
// edge and sets `out` to the next cycle's outputs, as registers do.
class Clocked : public sc_core::sc_module {
 public:
  sc_core::sc_in<bool> clk{"clk"};
  const Values* in = nullptr;
  Values out;

  Clocked(const sc_core::sc_module_name& name, const UnitSpec& spec)
      : sc_core::sc_module(name), out(spec.outputs.size(), 0) {}
};

// A unit model's results in flight: each leaves at the cycle it was pushed for, in order.
template <typename T>
class DelayLine {
 public:
  void push(int64_t ready, T value) { line_.emplace_back(ready, std::move(value)); }
  // The result due at `cycle`, which then leaves the line; none when nothing is due.
  std::optional<T> take(int64_t cycle) {
    if (line_.empty() || line_.front().first != cycle) return std::nullopt;
    std::optional<T> v = std::move(line_.front().second);
    line_.pop_front();
    return v;
  }

 private:
  std::deque<std::pair<int64_t, T>> line_;
};

// The cycle-level SystemC model of a unit.
class UnitModel : public Clocked {
 public:
  UnitModel(const sc_core::sc_module_name& name, const UnitSpec& spec) : Clocked(name, spec) {
    SC_METHOD(on_clock);
    sensitive << clk.pos();
    dont_initialize();
  }
  SC_HAS_PROCESS(UnitModel);

 protected:
  int64_t cycle = 0;  // the cycle whose inputs are being sampled
  virtual void tick(const Values& now) = 0;

 private:
  void on_clock() {
    tick(*in);
    ++cycle;
  }
};

// Draws each cycle's inputs; it may look at the model's outputs (a ready, say) to follow the unit's protocol.
class Stimulus {
 public:
  virtual ~Stimulus() = default;
  virtual void next(std::mt19937_64& rng, const Values& model_out, Values& in) = 0;
};

// Packed-vector port access for Verilated models: integral ports up to 64 bits, VlWide above.
template <class P>
void set_bits(P& port, int lsb, int width, uint64_t value) {
  if constexpr (std::is_integral_v<P>) {
    const uint64_t mask = (width >= 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1) << lsb;
    port = static_cast<P>((static_cast<uint64_t>(port) & ~mask) | ((value << lsb) & mask));
  } else {
    for (int b = 0; b < width; ++b) {
      const int bit = lsb + b;
      auto& word = port[static_cast<size_t>(bit / 32)];
      const uint32_t m = uint32_t{1} << (bit % 32);
      word = ((value >> b) & 1) ? (word | m) : (word & ~m);
    }
  }
}

template <class P>
uint64_t get_bits(const P& port, int lsb, int width) {
  if constexpr (std::is_integral_v<P>) {
    const uint64_t v = static_cast<uint64_t>(port) >> lsb;
    return width >= 64 ? v : v & ((uint64_t{1} << width) - 1);
  } else {
    uint64_t v = 0;
    for (int b = 0; b < width; ++b) {
      const int bit = lsb + b;
      v |= static_cast<uint64_t>((port[static_cast<size_t>(bit / 32)] >> (bit % 32)) & 1) << b;
    }
    return v;
  }
}

// The Verilator adaptor: a Verilated model (V, any prefix) as a clocked SystemC module. The unit's apply and
// read move the bench's values onto its ports and back.
template <class V>
class RtlUnit : public Clocked {
 public:
  std::function<void(V&, const Values&)> apply;
  std::function<void(const V&, Values&)> read;

  RtlUnit(const sc_core::sc_module_name& name, const UnitSpec& spec) : Clocked(name, spec) {
    SC_METHOD(on_clock);
    sensitive << clk.pos();
    dont_initialize();
  }
  SC_HAS_PROCESS(RtlUnit);

  // Two cycles of reset before the lockstep run; afterwards the outputs hold their reset values.
  void reset() {
    model.rst = 1;
    for (int i = 0; i < 2; ++i) edge();
    model.rst = 0;
    read(model, out);
  }

  ~RtlUnit() override { model.final(); }

 private:
  VerilatedContext context;
  V model{&context, "rtl"};

  void edge() {
    model.clk = 1;
    model.eval();
    model.clk = 0;
    model.eval();
  }
  void on_clock() {
    apply(model, *in);
    edge();
    read(model, out);
  }
};

// VCD of the ports over a window of cycles: in.*, model.* and rtl.* side by side.
struct Snapshot {
  int64_t cycle;
  Values in, model, rtl;
};
void write_vcd(const std::string& file, const UnitSpec& spec, const std::vector<Snapshot>& window);

// Runs one lockstep co-simulation to the end (SystemC elaborates once per process: one run per process).
// The RTL must be out of reset.
Result run_lockstep(const UnitSpec& spec, Clocked& model, Clocked& rtl, Stimulus& stimulus, const Options& options);

std::string summary(const Result& r);

}  // namespace einsim::cosim
