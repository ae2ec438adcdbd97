#include "sim/analytical.hpp"

#include <algorithm>
#include <cmath>

namespace einsim {

// Per group: each unit is busy for the sum of its compute ops; each memory path (the DRAM's interface, or a
// PIM's path from its banks) for the bytes it moves at its bandwidth. Units that pipeline overlap each other,
// otherwise they take turns on every tile; double buffering overlaps memory with compute. Groups run one after
// another, except that a `concurrent` group runs with the one before it: such a run takes as long as its
// longest group, or as the total that any unit or path the groups share must carry.
// Energy is per action. Memory that the bank-level model times (a DRAM with `model: bank`, a bank or
// bank-group PIM) is charged for the commands its transfers issue: activations, column accesses and refresh.
Stats evaluate_analytical(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program, BankTransfers* shared) {
  Stats s;
  s.fidelity = "analytical";
  s.status = program.status;
  for (const ComponentSpec& c : arch.components)
    if (auto area = c.area_um2()) {
      s.area_breakdown_mm2[c.name] = *area / 1e6;
      s.area_mm2 += *area / 1e6;
    }
  if (!program.status.ok) return s;
  // Counts are exact 64-bit integers; refuse points whose totals would not fit rather than wrap.
  double total_cycles = 0;
  for (const TileGroup& g : program.groups)
    for (const TileOp& op : g.ops) {
      const double n = static_cast<double>(g.executions(op));
      total_cycles += n * static_cast<double>(op.cycles);
      if (n * static_cast<double>(std::max({op.cycles, op.bytes, op.points, op.buffer_read_bytes, op.buffer_write_bytes})) > 0x1p62 ||
          total_cycles > 0x1p62) {
        s.status = EvalStatus{false, "the design point's counts exceed 2^62: too large to evaluate"};
        return s;
      }
    }

  BankTransfers own;
  BankTransfers& transfers = shared ? *shared : own;
  std::map<std::string, double> work;  // unit -> PE-cycles of work
  std::map<std::string, Traffic> external;  // DRAM -> bytes across its interface (not a PIM's path)
  std::map<std::string, double> path_total;  // path -> bytes over the whole program
  int64_t run_longest = 0;  // the groups running together so far
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
    std::map<std::string, int64_t> memory_bytes;  // path -> bytes
    for (const TileOp& op : g.ops) {
      const int64_t n = g.executions(op);
      if (op.kind == TileOp::Kind::compute) {
        unit_cycles[{op.pass, op.unit}] += op.cycles * n;
        const Einsum& e = cascade.einsums[static_cast<size_t>(op.einsum)];
        EinsumStats& es = s.einsums[e.name];
        es.unit = op.unit;
        es.cycles += op.cycles * n;
        for (const auto& [kind, count] : op.ops) es.ops[kind] += count * n;
        const ComponentSpec& unit = *arch.find(op.unit);
        double op_work = 0;
        for (const auto& [kind, count] : op.ops) {
          const OpSpec& spec = unit.ops()->at(kind);
          op_work += static_cast<double>(count * n) * static_cast<double>(spec.latency_cycles);
          s.energy_by_action_pJ[op.unit][kind] += static_cast<double>(count * n) * spec.cost.energy_pJ;
        }
        work[op.unit] += op_work;
        es.utilization = op_work / (static_cast<double>(es.cycles) * unit.op_rate(arch.clock_hz));
        // Operands come from the buffer and results go back to it.
        s.traffic_bytes[g.buffer].read += op.buffer_read_bytes * n;
        s.traffic_bytes[g.buffer].write += op.buffer_write_bytes * n;
      } else {
        const int64_t bytes = op.bytes * n;
        s.traffic_bytes[op.from].read += bytes;
        s.traffic_bytes[op.to].write += bytes;
        const ComponentSpec& path = arch.path(op.from, op.to);
        memory_bytes[path.name] += bytes;
        path_total[path.name] += static_cast<double>(bytes);
        const bool load = op.kind == TileOp::Kind::load;
        const PathRole& role = *path.path();
        role.charge_transfers(op.bytes, n, !load, transfers, s.energy_by_action_pJ[path.name]);
        if (role.holds_tensors()) (load ? external[op.from].read : external[op.to].write) += bytes;  // across its interface
      }
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
      const int64_t cycles = static_cast<int64_t>(std::ceil(static_cast<double>(bytes) * arch.clock_hz / arch.find(path)->path_Bps()));
      memory = std::max(memory, cycles);
      run_load["path " + path] += cycles;  // a PIM is both a unit and a path: keep their loads apart
    }
    for (const auto& [key, cycles] : unit_cycles) run_load[key.second] += cycles;
    run_longest = std::max(run_longest, g.double_buffer ? std::max(compute, memory) : compute + memory);
    if (!g.options.empty()) {
      PlacementStats& pl = s.placements[g.name];
      for (const PlaceOption& o : g.options) {
        pl.options[o.place] = PlaceRoofline{o.ridge(), o.roofline_s()};
        if (o.place == g.place || (g.place.empty() && &o == &g.options.front())) {
          pl.place = o.place;
          pl.op_per_byte = o.op_per_byte();
        }
      }
    }
  }
  close_run();
  for (const auto& [path, bytes] : path_total)
    s.roofline_memory_cycles = std::max(s.roofline_memory_cycles, static_cast<int64_t>(std::ceil(bytes * arch.clock_hz / arch.find(path)->path_Bps())));
  for (const ComponentSpec& c : arch.components) {
    const auto it = s.traffic_bytes.find(c.name);
    if (it == s.traffic_bytes.end()) continue;
    const Traffic& x = external[c.name];
    ActionEnergy run;
    c.model->charge_run(RunTraffic{it->second.read, it->second.write, x.read, x.write, static_cast<double>(s.cycles) / arch.clock_hz}, run);
    for (const auto& [action, pj] : run) s.energy_by_action_pJ[c.name][action] = pj;
  }
  for (const ComponentSpec& c : arch.components) {
    if (!c.compute()) continue;
    const double par = c.op_rate(arch.clock_hz);
    s.roofline_compute_cycles = std::max(s.roofline_compute_cycles, static_cast<int64_t>(std::ceil(work[c.name] / par)));
    s.utilization[c.name] = s.cycles ? work[c.name] / (static_cast<double>(s.cycles) * par) : 0;
    s.busy_cycles.try_emplace(c.name, 0);
  }
  for (const auto& [component, actions] : s.energy_by_action_pJ)
    for (const auto& [action, pj] : actions) s.energy_breakdown_pJ[component] += pj;
  for (const auto& [component, pj] : s.energy_breakdown_pJ) s.energy_pJ += pj;
  s.latency_s = static_cast<double>(s.cycles) / arch.clock_hz;
  std::string busiest;
  int64_t most = -1;
  for (const auto& [unit, cycles] : s.busy_cycles)
    if (cycles > most) {
      most = cycles;
      busiest = unit;
    }
  s.bound = s.roofline_memory_cycles >= most ? "memory" : "compute (" + busiest + ")";
  return s;
}

}  // namespace einsim
