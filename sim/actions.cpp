#include "sim/actions.hpp"

#include <algorithm>
#include <cmath>

namespace einsim {

OpExecutions program_executions(const TileProgram& program) {
  OpExecutions out;
  for (const TileGroup& g : program.groups) {
    out.emplace_back();
    for (const TileOp& op : g.ops) out.back().push_back(g.executions(op));
  }
  return out;
}

Stats initial_stats(const ArchSpec& arch, const TileProgram& program, Fidelity fidelity) {
  Stats s;
  s.fidelity = fidelity;
  s.status = program.status;
  s.footprint_bytes = program.footprint_bytes;
  for (const ComponentSpec& c : arch.components)
    if (auto area = c.area_um2()) {  // of every copy, on a many-core chip
      const double mm2 = *area * static_cast<double>(arch.copies(c.name)) / 1e6;
      s.area_breakdown_mm2[c.name] = mm2;
      s.area_mm2 += mm2;
    }
  return s;
}

int64_t memory_roofline_cycles(const ArchSpec& arch, const TileProgram& program, const OpExecutions& executions) {
  std::map<std::string, double> path_total;  // path -> bytes over the whole run
  for (size_t gi = 0; gi < program.groups.size(); ++gi)
    for (size_t o = 0; o < program.groups[gi].ops.size(); ++o) {
      const TileOp& op = program.groups[gi].ops[o];
      if (op.kind != TileOp::Kind::compute)
        path_total[arch.path(op.from, op.to).name] += static_cast<double>(op.bytes * op.fetched(executions[gi][o]));
    }
  // Every device has its own memories and paths.
  const double devices = arch.devices() ? static_cast<double>(arch.devices()->count()) : 1;
  int64_t cycles = 0;
  for (const auto& [path, bytes] : path_total)
    cycles = std::max(cycles,
                      static_cast<int64_t>(std::ceil(bytes * arch.clock_hz / (arch.find(path)->path_Bps() * devices))));
  return cycles;
}

RunWork count_actions(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program,
                      const OpExecutions& executions, BankTransfers& transfers, Stats& s) {
  RunWork run;
  std::map<EinsumId, double> einsum_work;    // of its ops (a ragged loop's variants are several)
  for (size_t gi = 0; gi < program.groups.size(); ++gi) {
    const TileGroup& g = program.groups[gi];
    int64_t network = 0;
    for (const TileGroup::Floor& f : g.floors)
      if (arch.noc() && f.component == arch.noc()->name) network = std::max(network, f.cycles);
    run.network_cycles += network;
    if (g.collective) {  // the bytes the links carry, at the interconnect's energy per byte
      s.traffic_bytes[g.collective->link].write += static_cast<int64_t>(g.collective->link_bytes);
      s.energy_by_action_pJ[g.collective->link]["transfer"] += g.collective->energy_pJ;
    }
    for (size_t o = 0; o < g.ops.size(); ++o) {
      const TileOp& op = g.ops[o];
      const int64_t n = executions[gi][o];
      if (op.kind == TileOp::Kind::compute) {
        const Einsum& e = cascade.einsums[op.einsum];
        EinsumStats& es = s.einsums[e.name];
        es.unit = op.unit;
        es.cycles += op.cycles * n;
        for (const auto& [kind, count] : op.ops) es.ops[kind] += op.total_ops(count, n);
        const ComponentSpec& unit = *arch.find(op.unit);
        // Work: the PE- or lane-cycles its ops occupy (the busiest function unit's).
        const double op_work = busiest_function_unit(*unit.ops(), op.ops, [&](int64_t count, int64_t issue) {
          return static_cast<double>(op.total_ops(count, n)) * static_cast<double>(issue);
        });
        const ComputeRole& compute = *unit.compute();
        for (const auto& [kind, count] : op.ops) {
          const auto ops = static_cast<double>(op.total_ops(count, n));
          s.energy_by_action_pJ[op.unit][kind] += ops * unit.ops()->at(kind).cost.energy_pJ;
          // Each op reads its operands from the PE's (or lane's) register file and updates its result there.
          if (compute.regfile_read_pJ() > 0)
            s.energy_by_action_pJ[op.unit]["regfile_read"] += ops * op_operands(kind) * compute.regfile_read_pJ();
          if (compute.regfile_write_pJ() > 0)
            s.energy_by_action_pJ[op.unit]["regfile_write"] += ops * compute.regfile_write_pJ();
        }
        run.work[op.unit] += op_work;
        const double work = einsum_work[op.einsum] += op_work;
        // (A computation whose where clause keeps nothing never runs: no cycles, no utilization.)
        es.utilization = es.cycles ? work / (static_cast<double>(es.cycles) * unit.op_rate(arch.clock_hz)) : 0;
        // Operands come from the buffer and results go back to it.
        s.traffic_bytes[g.buffer].read += op.buffer_read_bytes * n;
        s.traffic_bytes[g.buffer].write += op.buffer_write_bytes * n;
      } else {
        // What crosses the path (a multicast load is read once for the cores that share it, reduced partials are
        // written once combined) and what the cores' buffers receive or send.
        // (Bypassing the buffer, a tile is neither written into it nor read out of it.)
        const int64_t bytes = op.bytes * n, fetched = op.bytes * op.fetched(n);
        const bool load = op.kind == TileOp::Kind::load;
        if (load || !op.bypass) s.traffic_bytes[op.from].read += load ? fetched : bytes;
        if (!load || !op.bypass) s.traffic_bytes[op.to].write += load ? bytes : fetched;
        const ComponentSpec& path = arch.path(op.from, op.to);
        const PathRole& role = *path.path();
        role.charge_transfers(op.bytes, op.fetched(n), !load, transfers, s.energy_by_action_pJ[path.name]);
        if (role.holds_tensors())
          (load ? run.external[op.from].read : run.external[op.to].write) += fetched;  // across its interface
        // Through a core's port, on a many-core chip.
        if (op.port_Bps > 0) {
          const ComponentSpec& noc = *arch.noc();
          s.energy_by_action_pJ[noc.name]["transfer"] += static_cast<double>(bytes) * noc.cores()->port_pJ_per_byte();
          if (noc.cores()->mean_hops() > 0)
            s.energy_by_action_pJ[noc.name]["hops"] +=
                static_cast<double>(bytes) * noc.cores()->mean_hops() * noc.cores()->hop_pJ_per_byte();
          if (op.reduced)
            s.energy_by_action_pJ[noc.name]["reduce"] += static_cast<double>(bytes) * noc.cores()->reduce_pJ_per_byte();
        }
      }
    }
    if (!g.options.empty()) {
      PlacementStats& pl = s.placements[g.name];
      for (const PlaceOption& option : g.options) {
        pl.options[option.place] = PlaceRoofline{option.ridge(), option.roofline_s()};
        if (option.place == g.place || (g.place.empty() && &option == &g.options.front())) {
          pl.place = option.place;
          pl.op_per_byte = option.op_per_byte();
        }
      }
    }
  }
  s.roofline_memory_cycles = memory_roofline_cycles(arch, program, executions);
  return run;
}

namespace {

// Calls `f(component, energy)` with what each memory that moved bytes charges for the run's traffic had it taken
// `cycles` (a system of devices: each has every component, and the run's traffic is all of theirs).
template <class F>
void charge_memories(const ArchSpec& arch, const RunWork& run, const Stats& s, int64_t cycles, F f) {
  const int64_t devices = arch.devices() ? arch.devices()->count() : 1;
  for (const ComponentSpec& c : arch.components) {
    const auto it = s.traffic_bytes.find(c.name);
    if (it == s.traffic_bytes.end()) continue;
    const auto x = run.external.find(c.name);
    const Traffic external = x == run.external.end() ? Traffic{} : x->second;
    ActionEnergy energy;
    c.model->charge_run(RunTraffic{it->second.read, it->second.write, external.read, external.write,
                                   static_cast<double>(cycles) / arch.clock_hz, devices},
                        energy);
    f(c, energy);
  }
}

}  // namespace

double energy_at(const ArchSpec& arch, const RunWork& run, const Stats& s, int64_t cycles) {
  double pj = 0;
  for (const auto& [component, actions] : s.energy_by_action_pJ)
    for (const auto& [action, e] : actions) pj += e;
  // What finish_run charges for the memories' traffic replaces what is there under the same action.
  charge_memories(arch, run, s, cycles, [&](const ComponentSpec& c, const ActionEnergy& energy) {
    const auto had = s.energy_by_action_pJ.find(c.name);
    for (const auto& [action, e] : energy) {
      pj += e;
      if (had == s.energy_by_action_pJ.end()) continue;
      if (const auto old = had->second.find(action); old != had->second.end()) pj -= old->second;
    }
  });
  return pj;
}

void finish_run(const ArchSpec& arch, const RunWork& run, Stats& s) {
  charge_memories(arch, run, s, s.cycles, [&](const ComponentSpec& c, const ActionEnergy& energy) {
    for (const auto& [action, pj] : energy) s.energy_by_action_pJ[c.name][action] = pj;
  });
  // A system of devices: each has every component, and the run's work is all of theirs.
  const int64_t devices = arch.devices() ? arch.devices()->count() : 1;
  for (const ComponentSpec& c : arch.components) {
    if (!c.compute()) continue;
    // every core's, on every device
    const double par = c.op_rate(arch.clock_hz) * static_cast<double>(arch.copies(c.name) * devices);
    const auto w = run.work.find(c.name);
    const double work = w == run.work.end() ? 0 : w->second;
    s.roofline_compute_cycles = std::max(s.roofline_compute_cycles, static_cast<int64_t>(std::ceil(work / par)));
    s.utilization[c.name] = s.cycles ? work / (static_cast<double>(s.cycles) * par) : 0;
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
  // A buffer whose ports carry more than either roofline takes (every byte it reads or writes goes through one of
  // them: a 2D array's folds reading an operand again, docs/model.md) names the bound instead.
  for (const ComponentSpec& c : arch.components) {
    const auto it = s.traffic_bytes.find(c.name);
    if (!c.memory() || c.path() || it == s.traffic_bytes.end()) continue;
    const double per_cycle = c.memory()->bytes_per_port_cycle() * static_cast<double>(c.memory()->ports()) *
                             static_cast<double>(arch.copies(c.name) * devices);
    const auto ports =
        static_cast<int64_t>(std::ceil(static_cast<double>(it->second.read + it->second.write) / per_cycle));
    if (ports > std::max(s.roofline_memory_cycles, most)) {
      most = ports;
      s.bound = "buffer (" + c.name + ")";
    }
  }
  if (run.network_cycles > std::max(s.roofline_memory_cycles, most)) s.bound = "network (" + arch.noc()->name + ")";
}

}  // namespace einsim
