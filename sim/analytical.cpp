#include "sim/analytical.hpp"

#include <algorithm>
#include <cmath>

#include "sim/actions.hpp"

namespace einsim {

// Timing. Per group: each unit is busy for the sum of its compute ops; each memory path (the DRAM's interface,
// or a PIM's path from its banks) for the bytes it moves at its bandwidth. Units that pipeline overlap each
// other, otherwise they take turns on every tile; double buffering overlaps memory with compute. Groups run one
// after another, except that a `concurrent` group runs with the one before it: such a run takes as long as its
// longest group, or as the total that any unit or path the groups share must carry.
// Actions and energy: every op as many times as the program's loops say (sim/actions).
Stats evaluate_analytical(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program,
                          BankTransfers* shared) {
  Stats s = initial_stats(arch, program, Fidelity::analytical);
  if (!program.status.ok) return s;
  // Counts are exact 64-bit integers; refuse points whose totals would not fit rather than wrap.
  double total_cycles = 0;
  for (const TileGroup& g : program.groups)
    for (const TileOp& op : g.ops) {
      const double n = static_cast<double>(g.executions(op));
      total_cycles += n * static_cast<double>(op.cycles);
      if (n * static_cast<double>(
                  std::max({op.cycles, op.bytes, op.points, op.buffer_read_bytes, op.buffer_write_bytes})) >
              0x1p62 ||
          total_cycles > 0x1p62) {
        s.status = EvalStatus{false, "the design point's counts exceed 2^62: too large to evaluate"};
        return s;
      }
    }

  BankTransfers own;
  const RunWork run = count_actions(cascade, arch, program, program_executions(program), shared ? *shared : own, s);
  int64_t run_longest = 0;                  // the groups running together so far
  std::map<std::string, int64_t> run_load;  // unit or path -> its cycles in them
  auto close_run = [&] {
    int64_t t = run_longest;
    for (const auto& [who, cycles] : run_load) t = std::max(t, cycles);
    s.cycles += t;
    run_longest = 0;
    run_load.clear();
  };
  for (const TileGroup& g : program.groups) {
    if (!g.concurrent) close_run();
    std::map<std::pair<int, std::string>, int64_t> unit_cycles;  // (pass, unit) -> busy cycles
    std::map<std::string, int64_t> memory_bytes;                 // path -> bytes
    for (const TileOp& op : g.ops) {
      const int64_t n = g.executions(op);
      if (op.kind == TileOp::Kind::compute)
        unit_cycles[{op.pass, op.unit}] += op.cycles * n;
      else
        memory_bytes[arch.path(op.from, op.to).name] += op.bytes * n;
    }
    // Passes follow one another; within a pass, pipelined units overlap and others take turns.
    std::map<int, int64_t> pass_cycles;
    for (const auto& [key, cycles] : unit_cycles) {
      int64_t& p = pass_cycles[key.first];
      p = g.pipeline ? std::max(p, cycles) : p + cycles;
      s.busy_cycles[key.second] += cycles;
    }
    int64_t compute = 0;
    for (const auto& [pass, cycles] : pass_cycles) compute += cycles;
    int64_t memory = 0;
    for (const auto& [path, bytes] : memory_bytes) {
      const int64_t cycles =
          static_cast<int64_t>(std::ceil(static_cast<double>(bytes) * arch.clock_hz / arch.find(path)->path_Bps()));
      memory = std::max(memory, cycles);
      run_load["path " + path] += cycles;  // a PIM is both a unit and a path: keep their loads apart
    }
    for (const auto& [key, cycles] : unit_cycles) run_load[key.second] += cycles;
    run_longest = std::max(run_longest, g.double_buffer ? std::max(compute, memory) : compute + memory);
  }
  close_run();
  finish_run(arch, run, s);
  return s;
}

}  // namespace einsim
