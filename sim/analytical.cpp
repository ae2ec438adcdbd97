#include "sim/analytical.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/actions.hpp"

namespace einsim {
namespace {

// What one group costs, and what it asks of each unit, path and buffer (for groups that run concurrently).
struct GroupTime {
  int64_t cycles = 0;
  std::map<std::string, int64_t> load;  // unit, "path P" or "ports B" -> cycles
};

// Timing of one group, in closed form. Each term is a cost the cycle engine (sim/cycle) pays too:
// - A compute op occupies its unit for the longer of its cycles and the time its operands and results take
//   to stream through one buffer port (bytes / the port's bytes per cycle: the engine's `buffer_bandwidth`).
// - A memory path (the DRAM's interface, or a PIM's path from its banks) moves bytes at its bandwidth, or
//   through a buffer port if that is slower.
// - Units that pipeline overlap each other: the busiest sets the pace once the first tile's critical path
//   reaches it, and the last tile's ops after its last follow. Otherwise each tile waits for the one before it, and takes the
//   critical path through its ops (an op waits for its unit and for the results it reads, a result latency
//   after the op that computes them). Passes follow each other.
// - Double buffering overlaps memory with compute except at the ends: the first tile of each tensor the group
//   loads arrives (the path's latency after its transfer) before anything can compute (the head), and the
//   last tile of each tensor it stores leaves after the last result is ready (the tail). An untiled group is
//   all head and tail: load, compute, store, one after another.
// - Prefetch distance: with k buffer stages (2: double buffering) a tile's load may start only once the tile k
//   before it is done with its slot (its last reader has run), and its data is ready R later: a result latency, the transfers
//   queued at that moment (the finished tile's stores, then its loads of every tensor loaded as often and read
//   by the same ops) and the path's latency. At least one
//   reader's work (S per tile) lies between the slot freeing and the data's first reader. So n tiles of C
//   cycles each take at least C + (n - 1) (R + S) / k, whatever the bandwidth.
// - A buffer's ports carry every access of the group: the group takes at least their total over the ports.
// Without double buffering, memory and compute take turns.
GroupTime time_group(const Cascade& cascade, const TileGroup& g, const ArchSpec& arch, const std::string& program_buffer,
                     Stats& s) {
  // Where a unit's or a path's tiles stream through: a place (a PIM) stages them in its own memory, every other
  // unit and the backing path in the program's buffer.
  auto buffer_of = [&](const std::string& who) -> const std::string& {
    const ComponentSpec* c = arch.find(who);
    return c && c->compute() && c->memory() && c->path() ? c->name : program_buffer;
  };
  auto streaming = [&](const std::string& buffer, int64_t bytes) {
    return static_cast<int64_t>(
        std::ceil(static_cast<double>(bytes) / arch.find(buffer)->memory()->bytes_per_port_cycle()));
  };
  // How long a compute op occupies its unit, per execution.
  auto occupancy = [&](const TileOp& op) {
    return std::max(op.cycles, streaming(buffer_of(op.unit), op.buffer_read_bytes + op.buffer_write_bytes));
  };
  auto reads = [&](const TileOp& op, const std::string& tensor) {
    for (const Access& a : cascade.einsums[op.einsum].reads)
      if (cascade.tensors[a.tensor].name == tensor) return true;
    return false;
  };
  std::map<std::pair<int, std::string>, int64_t> unit_cycles;  // (pass, unit) -> cycles it is occupied
  std::map<std::string, int64_t> memory_bytes;                 // path -> bytes
  std::map<std::string, int64_t> memory_streaming;             // path -> cycles its tiles take through a port
  std::map<std::string, int64_t> port_cycles;                  // buffer -> cycles its ports are taken
  std::map<std::string, int64_t> head_bytes, tail_bytes;       // path -> a tile of each tensor it loads, stores
  int64_t result_latency = 0;  // the longest wait for a computation's result, which a store may wait for
  for (const TileOp& op : g.ops) {
    const int64_t n = g.executions(op);
    if (op.kind == TileOp::Kind::compute) {
      result_latency = std::max(result_latency, op.result_latency);
      const std::string& buffer = buffer_of(op.unit);
      unit_cycles[{op.pass, op.unit}] += occupancy(op) * n;
      port_cycles[buffer] += streaming(buffer, op.buffer_read_bytes + op.buffer_write_bytes) * n;
      s.busy_cycles[op.unit] += op.cycles * n;
    } else {
      const std::string& path = arch.path(op.from, op.to).name;
      const int64_t through = streaming(buffer_of(path), op.bytes);
      memory_bytes[path] += op.bytes * n;
      memory_streaming[path] += through * n;
      (op.kind == TileOp::Kind::load ? head_bytes : tail_bytes)[path] += op.bytes;
      port_cycles[buffer_of(path)] += through * n;
    }
  }
  GroupTime t;
  std::map<int, int64_t> pass_cycles;
  for (const auto& [key, cycles] : unit_cycles) {
    int64_t& p = pass_cycles[key.first];
    p = std::max(p, cycles);  // pipelined units overlap: the busiest sets the pace
    t.load[key.second] += cycles;
  }
  // Without pipelining each tile computes once the one before it has, but within a tile the units run what
  // they can at once: a tile takes its critical path, each op starting when its unit is free and the ops
  // before it that write what it reads are done (an op that runs in only some tiles counts its average share).
  for (auto& [pass, cycles] : pass_cycles) {
      int64_t tiles = 0;
      for (const TileOp& op : g.ops)
        if (op.kind == TileOp::Kind::compute && op.pass == pass) tiles = std::max(tiles, g.executions(op));
      std::string busiest;  // the unit that sets a pipelined group's pace
      for (const auto& [key, busy] : unit_cycles)
        if (key.first == pass && busy == cycles) busiest = key.second;
      std::map<std::string, double> unit_free;
      std::vector<double> ready(g.ops.size(), 0);  // when an op's result is ready: its end and result latency
      double tile = 0, filled = 0;
      double busiest_from = std::numeric_limits<double>::max(), busiest_to = 0;  // its work within the tile
      for (size_t i = 0; i < g.ops.size(); ++i) {
        const TileOp& op = g.ops[i];
        if (op.kind != TileOp::Kind::compute || op.pass != pass) continue;
        double start = unit_free[op.unit];
        for (size_t w = 0; w < i; ++w)
          if (g.ops[w].kind == TileOp::Kind::compute && g.ops[w].pass == pass &&
              reads(op, cascade.tensors[cascade.einsums[g.ops[w].einsum].out.tensor].name))
            start = std::max(start, ready[w]);
        const double share = static_cast<double>(g.executions(op)) / static_cast<double>(tiles);
        unit_free[op.unit] = start + static_cast<double>(occupancy(op)) * share;
        ready[i] = unit_free[op.unit] + static_cast<double>(op.result_latency) * share;
        tile = std::max(tile, ready[i]);
        filled = std::max(filled, unit_free[op.unit]);
        if (op.unit == busiest) busiest_from = std::min(busiest_from, start), busiest_to = unit_free[op.unit];
      }
      // Pipelined, the busiest unit sets the pace: it starts once the first tile's critical path reaches its
      // first op, and after its last op the last tile's remaining ops on other units follow (to their end: the
      // tail waits for the last result). Otherwise every tile takes its critical path.
      const double all = g.pipeline ? busiest_from + static_cast<double>(cycles) + (filled - busiest_to)
                                    : tile * static_cast<double>(tiles);
      cycles = std::max(cycles, static_cast<int64_t>(std::ceil(all)));
    }
  int64_t compute = 0;
  for (const auto& [pass, cycles] : pass_cycles) compute += cycles;

  // A path's time for `bytes`: at its bandwidth, or through a buffer port if that is slower (in proportion to
  // the path's whole traffic, as the ports' share of each transfer is).
  auto path_cycles = [&](const std::string& path, double bytes) {
    const double at_bandwidth = bytes * arch.clock_hz / arch.find(path)->path_Bps();
    const double through_port =
        static_cast<double>(memory_streaming[path]) * bytes / static_cast<double>(memory_bytes[path]);
    return static_cast<int64_t>(std::ceil(std::max(at_bandwidth, through_port)));
  };
  int64_t memory = 0, head = 0, tail = 0, steady_memory = 0, prefetch = 0;
  for (const auto& [path, bytes] : memory_bytes) {
    const int64_t cycles = path_cycles(path, static_cast<double>(bytes));
    memory = std::max(memory, cycles);
    t.load["path " + path] += cycles;  // a PIM is both a unit and a path: keep their loads apart
    const int64_t latency = arch.find(path)->path()->latency_cycles(arch.clock_hz);
    if (head_bytes[path]) head = std::max(head, path_cycles(path, static_cast<double>(head_bytes[path])) + latency);
    // (Without pipelining the tiles' critical paths include the last result's latency already.)
    if (tail_bytes[path])
      tail = std::max(tail, (g.pipeline ? result_latency : 0) + path_cycles(path, static_cast<double>(tail_bytes[path])) +
                                latency);
    steady_memory = std::max(
        steady_memory, path_cycles(path, static_cast<double>(bytes - head_bytes[path] - tail_bytes[path])));
    // Prefetch distance, per tensor the path loads more than once.
    for (const TileOp& op : g.ops) {
      const int64_t n = g.executions(op);
      if (op.kind != TileOp::Kind::load || n < 2 || arch.path(op.from, op.to).name != path) continue;
      // What the path moves when the slot frees: the stores that come due with each tile (on average), and
      // this tile's loads of every tensor loaded as often and read by the same ops (their slots free with it;
      // one channel carries them all).
      auto readers = [&](const std::string& tensor) {
        std::vector<size_t> r;
        for (size_t i = 0; i < g.ops.size(); ++i)
          if (g.ops[i].kind == TileOp::Kind::compute && reads(g.ops[i], tensor)) r.push_back(i);
        return r;
      };
      const std::vector<size_t> mine = readers(op.tensor);
      double due = 0;
      for (const TileOp& other : g.ops) {
        if (other.kind == TileOp::Kind::compute || arch.path(other.from, other.to).name != path) continue;
        if (other.kind == TileOp::Kind::store)
          due += static_cast<double>(other.bytes) * static_cast<double>(g.executions(other)) / static_cast<double>(n);
        else if (g.executions(other) == n && readers(other.tensor) == mine)
          due += static_cast<double>(other.bytes);
      }
      // A tile's slot is free once its last reader is done, and the next tile's first reader waits for its
      // data: between the two lies at least one reader's work per tile (the units may run a tile's other ops
      // in any order around them, so no more is certain).
      const double c = static_cast<double>(compute) / static_cast<double>(n);
      double span = 0;
      for (const TileOp& reader : g.ops)
        if (reader.kind == TileOp::Kind::compute && reads(reader, op.tensor))
          span = std::max(span, static_cast<double>(occupancy(reader) * g.executions(reader)) / static_cast<double>(n));
      const double r = static_cast<double>(result_latency + latency + path_cycles(path, due));
      prefetch = std::max(prefetch, static_cast<int64_t>(std::ceil(c + static_cast<double>(n - 1) *
                                                                             (r + std::min(span, c)) /
                                                                             static_cast<double>(op.stages))));
    }
  }
  t.cycles = g.double_buffer ? head + std::max({compute, steady_memory, prefetch}) + tail : compute + memory;
  for (const auto& [buffer, cycles] : port_cycles) {
    const int64_t ports = arch.find(buffer)->memory()->ports();
    t.cycles = std::max(t.cycles, (cycles + ports - 1) / ports);
    t.load["ports " + buffer] += (cycles + ports - 1) / ports;
  }
  return t;
}

}  // namespace

// Groups run one after another, except that a `concurrent` group runs with the one before it: such a run takes
// as long as its longest group, or as the total that any unit, path or buffer the groups share must carry.
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
  std::map<std::string, int64_t> run_load;  // unit, path or buffer -> its cycles in them
  auto close_run = [&] {
    int64_t t = run_longest;
    for (const auto& [who, cycles] : run_load) t = std::max(t, cycles);
    s.cycles += t;
    run_longest = 0;
    run_load.clear();
  };
  for (const TileGroup& g : program.groups) {
    if (!g.concurrent) close_run();
    const GroupTime t = time_group(cascade, g, arch, program.buffer, s);
    run_longest = std::max(run_longest, t.cycles);
    for (const auto& [who, cycles] : t.load) run_load[who] += cycles;
  }
  close_run();
  finish_run(arch, run, s);
  return s;
}

}  // namespace einsim
