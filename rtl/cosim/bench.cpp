#include "rtl/cosim/bench.hpp"

#include <fmt/format.h>

#include <deque>
#include <fstream>

#include "common/error.hpp"

namespace einsim::cosim {
namespace {

constexpr int64_t kBefore = 64;        // cycles of waves before the first mismatch
constexpr int64_t kAfter = 16;         // and after it
constexpr int64_t kCleanWindow = 128;  // without a mismatch: the run's first cycles

class Bench : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Bench);
  Bench(const sc_core::sc_module_name& name, const UnitSpec& spec, Clocked& model, Clocked& rtl, Stimulus& stimulus,
        const Options& options)
      : sc_core::sc_module(name),
        // Falling edge first: the first inputs are on the wires before the first rising edge.
        clock("clock", sc_core::sc_time(1, sc_core::SC_NS), 0.5, sc_core::SC_ZERO_TIME, false),
        spec_(spec),
        model_(model),
        rtl_(rtl),
        stimulus_(stimulus),
        options_(options),
        rng_(options.seed),
        in_(spec.inputs.size(), 0) {
    model.clk(clock);
    rtl.clk(clock);
    model.in = &in_;
    rtl.in = &in_;
    result.unit = spec.name;
    result.seed = options.seed;
    SC_METHOD(on_falling_edge);
    sensitive << clock.negedge_event();
    dont_initialize();
  }

  Result result;
  std::vector<Snapshot> waves;

 private:
  sc_core::sc_clock clock;
  const UnitSpec& spec_;
  Clocked& model_;
  Clocked& rtl_;
  Stimulus& stimulus_;
  const Options& options_;
  std::mt19937_64 rng_;
  Values in_;
  int64_t cycle_ = 0;
  std::deque<Snapshot> recent_;  // the last kBefore cycles
  enum class Waves { clean, after_mismatch, written } waves_state_ = Waves::clean;

  void on_falling_edge() {
    // The outputs of this cycle (the previous edge's registers), then this cycle's inputs.
    compare();
    if (cycle_ == options_.cycles) {
      finish_waves();
      return;
    }
    stimulus_.next(rng_, model_.out, in_);
    if (spec_.in_valid >= 0 && in_[static_cast<size_t>(spec_.in_valid)]) ++result.transactions_in;
    record();
    ++cycle_;
    result.cycles = cycle_;
  }

  void compare() {
    const Values& want = model_.out;
    const Values& got = rtl_.out;
    if (spec_.out_valid >= 0 && want[static_cast<size_t>(spec_.out_valid)]) ++result.transactions_out;
    for (size_t i = 0; i < spec_.outputs.size(); ++i) {
      const Port& p = spec_.outputs[i];
      if (p.valid >= 0 && !want[static_cast<size_t>(p.valid)]) continue;
      ++result.values_compared;
      if (want[i] == got[i]) continue;
      ++result.mismatches;
      if (!result.first) {
        result.first = Mismatch{cycle_, p.name, want[i], got[i], p.width};
        start_mismatch_waves();
      }
    }
  }

  // The ports of this cycle: its inputs and the outputs compared at its start.
  void record() {
    if (options_.observe) options_.observe(cycle_, in_, model_.out, rtl_.out);
    Snapshot s{cycle_, in_, model_.out, rtl_.out};
    switch (waves_state_) {
      case Waves::clean:
        if (cycle_ < kCleanWindow) waves.push_back(s);
        recent_.push_back(std::move(s));
        if (static_cast<int64_t>(recent_.size()) > kBefore) recent_.pop_front();
        break;
      case Waves::after_mismatch:
        waves.push_back(std::move(s));
        if (cycle_ >= result.first->cycle + kAfter) finish_waves();
        break;
      case Waves::written:
        break;
    }
  }

  void start_mismatch_waves() {
    waves.assign(recent_.begin(), recent_.end());
    waves_state_ = Waves::after_mismatch;
  }

  // The window is complete; run_lockstep writes it once the simulation has stopped, so that a file it cannot
  // write is reported as the user's error, not thrown through a SystemC process.
  void finish_waves() {
    if (waves_state_ == Waves::written) return;
    waves_state_ = Waves::written;
    if (options_.vcd.empty() || (options_.vcd_only_on_mismatch && !result.first)) return;
    result.vcd = options_.vcd;
  }
};

std::string vcd_id(size_t i) {
  std::string id;
  do {
    id += static_cast<char>('!' + i % 90);
    i /= 90;
  } while (i);
  return id;
}

std::string binary(uint64_t v, int width) {
  std::string s;
  for (int b = width - 1; b >= 0; --b) s += ((v >> b) & 1) ? '1' : '0';
  return s;
}

}  // namespace

void write_vcd(const std::string& file, const UnitSpec& spec, const std::vector<Snapshot>& window) {
  std::ofstream out(file);
  if (!out) throw UserError(fmt::format("{}: cannot write the waves", file));
  struct Var {
    std::string scope;
    const Port* port;
    size_t index;
  };
  std::vector<Var> vars;
  for (size_t i = 0; i < spec.inputs.size(); ++i) vars.push_back({"in", &spec.inputs[i], i});
  for (const char* scope : {"model", "rtl"})
    for (size_t i = 0; i < spec.outputs.size(); ++i) vars.push_back({scope, &spec.outputs[i], i});
  out << "$comment einsim cosim " << spec.name << ": inputs, the SystemC model's outputs, the RTL's $end\n";
  out << "$timescale 1ns $end\n$scope module " << spec.name << " $end\n";
  std::string scope;
  for (size_t v = 0; v < vars.size(); ++v) {
    if (vars[v].scope != scope) {
      if (!scope.empty()) out << "$upscope $end\n";
      scope = vars[v].scope;
      out << "$scope module " << scope << " $end\n";
    }
    out << "$var wire " << vars[v].port->width << ' ' << vcd_id(v) << ' ' << vars[v].port->name << " $end\n";
  }
  if (!scope.empty()) out << "$upscope $end\n";
  out << "$upscope $end\n$enddefinitions $end\n";
  std::vector<std::string> last(vars.size());
  for (const Snapshot& s : window) {
    out << '#' << s.cycle << '\n';
    for (size_t v = 0; v < vars.size(); ++v) {
      const Values& values = vars[v].scope == "in" ? s.in : vars[v].scope == "model" ? s.model : s.rtl;
      std::string text = 'b' + binary(values[vars[v].index], vars[v].port->width) + ' ' + vcd_id(v);
      if (text != last[v]) out << text << '\n';
      last[v] = std::move(text);
    }
  }
  out.flush();
  if (!out) throw UserError(fmt::format("{}: cannot write the waves (is the disk full?)", file));
}

Result run_lockstep(const UnitSpec& spec, Clocked& model, Clocked& rtl, Stimulus& stimulus, const Options& options) {
  Bench bench("bench", spec, model, rtl, stimulus, options);
  // Falling edges at 0, 1, ... ns: the last comparison is at options.cycles ns.
  sc_core::sc_start(sc_core::sc_time(static_cast<double>(options.cycles) + 0.25, sc_core::SC_NS));
  if (!bench.result.vcd.empty()) write_vcd(bench.result.vcd, spec, bench.waves);
  return bench.result;
}

std::string summary(const Result& r) {
  std::string s =
      fmt::format("cosim {} (seed {}): {} cycles, {} values compared, {} mismatches; {} inputs, {} results\n", r.unit,
                  r.seed, r.cycles, r.values_compared, r.mismatches, r.transactions_in, r.transactions_out);
  if (r.first) {
    const int digits = (r.first->width + 3) / 4;
    s +=
        fmt::format("first mismatch: cycle {}, signal {}: expected 0x{:0{}x} (SystemC model), actual 0x{:0{}x} (RTL)\n",
                    r.first->cycle, r.first->signal, r.first->expected, digits, r.first->actual, digits);
  }
  if (!r.vcd.empty()) s += fmt::format("waves: {}\n", r.vcd);
  return s;
}

}  // namespace einsim::cosim
