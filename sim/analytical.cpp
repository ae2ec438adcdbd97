#include "sim/analytical.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

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
//   reaches it, and the last tile's ops after its last follow. Otherwise each tile waits for the one before
//   it, and takes the critical path through its ops (an op waits for its unit and for the results it reads, a
//   result latency after the op that computes them). Passes follow each other, in every iteration of the
//   group's own loops: pipelined, each pays its fill and drain there (and its last result's latency when a
//   later pass reads it).
// - Double buffering overlaps memory with compute except at the ends: the first tile of each tensor the group
//   loads arrives (the path's latency after its transfer) before anything can compute (the head), and the
//   last tile of each tensor it stores leaves after the last result is ready (the tail). An untiled group is
//   all head and tail: load, compute, store, one after another.
// - Prefetch distance: with k buffer stages (2: double buffering) a tile's load may start only once the tile k
//   before it is done with its slot (its last reader has run), and its data is ready R later: a result
//   latency, the transfers queued at that moment (the finished tile's stores, then its loads of every tensor
//   loaded as often and read by the same ops, and of partial sums they add to) and the path's latency. At least one
//   reader's work (S per tile) lies between the slot freeing and the data's first reader. So n tiles of C cycles each
//   take at least C + (n - 1) (R + S) / k, whatever the bandwidth.
// - A buffer's ports carry every access of the group: the group takes at least their total over the ports.
// Without double buffering, memory and compute take turns.
class GroupTimer {
  // A pipelined pass is list-scheduled over up to twice this many tiles (scheduled_time), each unit looking
  // at the next kWindow of its jobs, as the cycle engine's units do by default (CycleOptions::unit_queue_depth).
  static constexpr int kPaced = 16;
  static constexpr size_t kWindow = 16;
  // The most tiles of the innermost loops whose computations are scheduled as the walk issues them (pace_jobs).
  static constexpr int64_t kBurstTiles = 32;

 public:
  GroupTimer(const Cascade& cascade, const TileGroup& g, const ArchSpec& arch, const std::string& program_buffer)
      : c_(cascade), g_(g), arch_(arch), program_buffer_(program_buffer), facts_(g.ops.size()) {
    for (size_t i = 0; i < g.ops.size(); ++i) {
      const TileOp& op = g.ops[i];
      Facts& f = facts_[i];
      f.n = g.executions(op);
      if (op.kind == TileOp::Kind::compute) {
        const Einsum& e = c_.einsums[op.einsum];
        for (const Access& a : e.reads) f.reads.push_back(a.tensor);
        f.reads.insert(f.reads.end(), op.reads_through.begin(), op.reads_through.end());
        if (op.accumulates) f.reads.push_back(e.out.tensor);  // its partial sums, loaded back
        f.tensor = e.out.tensor;
        f.buffer = &buffer_of(op.unit);
        f.through_port = streaming(*f.buffer, op.buffer_read_bytes + op.buffer_write_bytes);
        f.occupancy = std::max(op.cycles, f.through_port);
      } else {
        f.tensor = c_.tensor_id(op.tensor);
        f.path = &arch.path(op.from, op.to).name;
        f.buffer = &buffer_of(*f.path);
        f.through_port = op.bypass ? 0 : streaming(*f.buffer, op.bytes);
      }
    }
  }

  GroupTime time(Stats& s) {
    for (size_t i = 0; i < g_.ops.size(); ++i) {
      const TileOp& op = g_.ops[i];
      const Facts& f = facts_[i];
      port_cycles_[*f.buffer] += f.through_port * f.n;
      if (op.kind == TileOp::Kind::compute) {
        result_latency_ = std::max(result_latency_, op.result_latency);
        unit_cycles_[{op.pass, op.unit}] += f.occupancy * f.n;
        s.busy_cycles[op.unit] += op.cycles * f.n;
      } else {
        Path& p = paths_[*f.path];
        if (op.port_Bps > 0) p.port_Bps = op.port_Bps, p.port_latency = op.port_latency;
        p.bytes += op.bytes * f.n;
        p.streaming += f.through_port * f.n;
        // (A ragged loop's partial last tile is neither the first nor, with more than one tile, the one
        // that sets the tail.)
        if (!op.partial) (op.kind == TileOp::Kind::load ? p.head_bytes : p.tail_bytes) += op.bytes;
        // A bypassing tile may run ahead of (a load) or behind (a store) its pass by the unit's `stages` tiles
        // in every iteration of the group's loops; the rest moves while the pass runs.
        if (op.bypass) {
          auto& [all, held] = bypass_bytes_[{op.pass, *f.path}];
          all += op.bytes * f.n;
          held += op.bytes * std::min(f.n, op.stages * outer_iterations());
        }
      }
    }
    GroupTime t;
    const auto [turnarounds, idle_path] = spill_turnarounds();
    const int64_t compute = compute_cycles(t) + turnarounds;
    int64_t memory = 0, head = 0, tail = 0, steady_memory = 0, prefetch = 0;
    for (const auto& [path, p] : paths_) {
      const int64_t cycles = path_cycles(p, path, static_cast<double>(p.bytes));
      memory = std::max(memory, cycles);
      t.load["path " + path] += cycles;  // a PIM is both a unit and a path: keep their loads apart
      const int64_t latency = arch_.find(path)->path()->latency_cycles(arch_.clock_hz) + p.port_latency;
      if (p.head_bytes) head = std::max(head, path_cycles(p, path, static_cast<double>(p.head_bytes)) + latency);
      // (Without pipelining the tiles' critical paths include the last result's latency already.)
      if (p.tail_bytes) {
        const auto lag = lag_bytes_.find(path);
        const int64_t tail_bytes = p.tail_bytes + (lag == lag_bytes_.end() ? 0 : lag->second);
        tail = std::max(
            tail, (g_.pipeline ? last_latency_ : 0) + path_cycles(p, path, static_cast<double>(tail_bytes)) + latency);
      }
      steady_memory = std::max(
          steady_memory, path_cycles(p, path, static_cast<double>(p.bytes - p.head_bytes - p.tail_bytes)) + idle_path);
      prefetch = std::max(prefetch, prefetch_bound(p, path, compute, latency));
    }
    // Single-buffered, memory and compute take turns, and each tile's loads wait for the last tile's readers
    // and then a latency: the prefetch bound's one-stage case. Whatever holds double-buffered holds too (one stage
    // allows nothing two do not): a group of one tile takes its head, its compute and its tail (the prefetch bound
    // has no next tile to wait for).
    t.cycles = head + std::max({compute, steady_memory, prefetch}) + tail;
    if (!g_.double_buffer) t.cycles = std::max(t.cycles, compute + memory);
    // On a many-core chip, the cores' transfers share the backing memory's bandwidth, and the partial results
    // they send its network's reducers.
    t.cycles = std::max(t.cycles, g_.floor_cycles());
    for (const auto& [buffer, cycles] : port_cycles_) {
      const int64_t ports = arch_.find(buffer)->memory()->ports();
      t.cycles = std::max(t.cycles, (cycles + ports - 1) / ports);
      t.load["ports " + buffer] += (cycles + ports - 1) / ports;
    }
    return t;
  }

 private:
  // What is known of an op before any timing: its executions, tensors, and what it costs a unit and a port.
  struct Facts {
    int64_t n = 0;                        // executions
    std::vector<TensorId> reads;          // a computation's operands
    TensorId tensor;                      // a computation's result; a load's or store's tensor
    const std::string* path = nullptr;    // a load's or store's
    const std::string* buffer = nullptr;  // where its tiles stream through
    int64_t through_port = 0;             // cycles per execution through one buffer port
    int64_t occupancy = 0;                // a computation's cycles on its unit per execution
  };
  // When a schedule's units are free, and when its last result is ready (a result latency after its op ends).
  struct Schedule {
    double units = 0, results = 0;
  };

  struct Path {
    int64_t bytes = 0, streaming = 0;        // over the group; `streaming`: cycles through a port
    int64_t head_bytes = 0, tail_bytes = 0;  // a tile of each tensor it loads, stores
    double port_Bps = 0;                     // a core's port's bandwidth, on a many-core chip (0: none)
    int64_t port_latency = 0;
  };

  // Where a unit's or a path's tiles stream through: a place (a PIM) stages them in its own memory, every other
  // unit and the backing path in the program's buffer.
  const std::string& buffer_of(const std::string& who) const {
    const ComponentSpec* c = arch_.find(who);
    return c && c->compute() && c->memory() && c->path() ? c->name : program_buffer_;
  }
  int64_t streaming(const std::string& buffer, int64_t bytes) const {
    return static_cast<int64_t>(
        std::ceil(static_cast<double>(bytes) / arch_.find(buffer)->memory()->bytes_per_port_cycle()));
  }
  bool reads(size_t op, TensorId tensor) const {
    const std::vector<TensorId>& r = facts_[op].reads;
    return std::find(r.begin(), r.end(), tensor) != r.end();
  }
  // The computations that read `tensor`, in op order.
  std::vector<size_t> readers(TensorId tensor) const {
    std::vector<size_t> r;
    for (size_t i = 0; i < g_.ops.size(); ++i)
      if (g_.ops[i].kind == TileOp::Kind::compute && reads(i, tensor)) r.push_back(i);
    return r;
  }
  // A path's time for `bytes`: at its bandwidth, or through a buffer port if that is slower (in proportion to
  // the path's whole traffic, as the ports' share of each transfer is).
  int64_t path_cycles(const Path& p, const std::string& path, double bytes) const {
    const double at_bandwidth = bytes * arch_.clock_hz / (p.port_Bps > 0 ? p.port_Bps : arch_.find(path)->path_Bps());
    const double through_port = static_cast<double>(p.streaming) * bytes / static_cast<double>(p.bytes);
    return static_cast<int64_t>(std::ceil(std::max(at_bandwidth, through_port)));
  }

  // The units' time, pass after pass; every unit's load into `t`.
  int64_t compute_cycles(GroupTime& t) {
    std::map<int, int64_t> pass_cycles;
    for (const auto& [key, cycles] : unit_cycles_) {
      int64_t& p = pass_cycles[key.first];
      p = std::max(p, cycles);
      t.load[key.second] += cycles;
    }
    int64_t compute = 0;
    for (auto& [pass, cycles] : pass_cycles) {
      // A tile that bypasses the buffer has nowhere to wait for the path but between the unit and it, so the
      // pass that computes (or reads) it moves it while it runs: the pass takes at least those tiles' time on
      // their path, whatever the group's other traffic (tests/data/attention-unfused-bypass.yaml: the softmax's
      // probabilities, stored tile by tile in its last pass).
      const int64_t own = pass_time(pass, cycles);
      int64_t pass_cycles_at_least = own;
      for (const auto& [key, bytes] : bypass_bytes_) {
        if (key.first != pass) continue;
        const Path& p = paths_.at(key.second);
        pass_cycles_at_least =
            std::max(pass_cycles_at_least, path_cycles(p, key.second, static_cast<double>(bytes.first - bytes.second)));
        if (path_cycles(p, key.second, static_cast<double>(bytes.first)) > own) add_store_lag(pass, key.second, own);
      }
      compute += pass_cycles_at_least;
    }
    return compute;
  }

  // A pass (taking `own` cycles) whose bypassing stores on `path` are slower than it computes them: they fall
  // behind. Of an iteration's n tiles, computed c cycles apart and stored s apart, n - (n - 1) c / s are still to
  // go when the last is computed (at most the tiles its unit holds); after the last iteration they are the
  // group's tail instead of one tile.
  void add_store_lag(int pass, const std::string& path, int64_t own) {
    for (size_t i = 0; i < g_.ops.size(); ++i) {
      const TileOp& op = g_.ops[i];
      if (op.kind != TileOp::Kind::store || !op.bypass || op.pass != pass || *facts_[i].path != path) continue;
      const auto n = static_cast<double>(facts_[i].n / outer_iterations());
      const double c = static_cast<double>(own) / static_cast<double>(facts_[i].n);
      const auto st = static_cast<double>(path_cycles(paths_.at(path), path, static_cast<double>(op.bytes)));
      const double behind = std::min(static_cast<double>(op.stages), n - (n - 1) * c / st);
      lag_bytes_[path] += std::llround(std::max(0.0, behind - 1) * static_cast<double>(op.bytes));
    }
  }

  // One pass, whose busiest unit is occupied `busiest_cycles`. Pipelined, the group's only pass is its tiles
  // list-scheduled (scheduled_time). Otherwise its first tile is scheduled op by op (an op that runs in only some
  // tiles counts its average share), then pipelined at the busiest unit's pace or, without pipelining, every tile
  // at that critical path.
  int64_t pass_time(int pass, int64_t busiest_cycles) {
    int64_t tiles = 0;
    for (size_t i = 0; i < g_.ops.size(); ++i)
      if (g_.ops[i].kind == TileOp::Kind::compute && g_.ops[i].pass == pass) tiles = std::max(tiles, facts_[i].n);
    if (g_.pipeline && g_.pass_loops.size() <= 1) {
      const Schedule s = scheduled_time(pass, tiles);
      last_latency_ = static_cast<int64_t>(std::ceil(s.results - s.units));
      return std::max(busiest_cycles, static_cast<int64_t>(std::ceil(s.units)));
    }
    last_latency_ = result_latency_;
    std::string busiest;
    for (const auto& [key, busy] : unit_cycles_)
      if (key.first == pass && busy == busiest_cycles) busiest = key.second;
    std::map<std::string, double> unit_free;
    std::vector<double> ready(g_.ops.size(), 0);  // when an op's result is ready: its end and result latency
    double tile = 0, filled = 0;
    double busiest_from = std::numeric_limits<double>::max(), busiest_to = 0;  // its work within the tile
    for (size_t i = 0; i < g_.ops.size(); ++i) {
      const TileOp& op = g_.ops[i];
      if (op.kind != TileOp::Kind::compute || op.pass != pass) continue;
      double start = unit_free[op.unit];
      for (size_t w = 0; w < i; ++w)
        if (g_.ops[w].kind == TileOp::Kind::compute && g_.ops[w].pass == pass && reads(i, facts_[w].tensor))
          start = std::max(start, ready[w]);
      const double share = static_cast<double>(facts_[i].n) / static_cast<double>(tiles);
      unit_free[op.unit] = start + static_cast<double>(facts_[i].occupancy) * share;
      ready[i] = unit_free[op.unit] + static_cast<double>(op.result_latency) * share;
      tile = std::max(tile, ready[i]);
      filled = std::max(filled, unit_free[op.unit]);
      if (op.unit == busiest) busiest_from = std::min(busiest_from, start), busiest_to = unit_free[op.unit];
    }
    // Pipelined passes: the busiest unit starts once the first tile's critical path reaches its first op, and
    // after its last op the last tile's remaining ops on other units follow (to their end: the tail waits for the
    // last result), in every iteration of the group's own loops, since each pass runs after the one before it
    // there; a pass whose results a later pass reads also waits for its last result (a reduction across lanes
    // draining) before the next can start.
    double all = tile * static_cast<double>(tiles);
    if (g_.pipeline) {
      const double fill_and_drain = busiest_from + ((feeds_later_pass(pass) ? tile : filled) - busiest_to);
      all = static_cast<double>(busiest_cycles) + static_cast<double>(outer_iterations()) * fill_and_drain;
    }
    return std::max(busiest_cycles, static_cast<int64_t>(std::ceil(all)));
  }

  // How many tiles (iterations of the group's innermost loops) apart op w's result is read again by the ops at or
  // before it that read it: a recurrence's state, at the next iteration of the innermost loop over its step index;
  // partial sums, at the next of the innermost loop over an index they sum. The trips of the loops inside it.
  int64_t carried_distance(size_t w) const {
    const Einsum& e = c_.einsums[g_.ops[w].einsum];
    const Tensor& t = c_.tensors[e.out.tensor];
    std::vector<std::string> indices;
    if (t.iterative_rank >= 0) {
      const Affine& at = e.out.index[static_cast<size_t>(t.iterative_rank)];
      if (!at.terms.empty()) indices.push_back(e.vars[static_cast<size_t>(at.terms[0].first)].name);
    } else {
      for (int v : e.reduced) indices.push_back(e.vars[static_cast<size_t>(v)].name);
    }
    int64_t d = std::numeric_limits<int64_t>::max();
    int64_t inside = 1;
    for (size_t l = g_.loops.size(); l-- > 0;) {
      const Loop& loop = g_.loops[l];
      if (std::find(indices.begin(), indices.end(), loop.index) != indices.end() && loop.trips > 1) {
        d = inside;
        break;
      }
      inside *= std::max<int64_t>(1, loop.trips);
    }
    return d;
  }

  // A pipelined pass of `tiles` tiles as the cycle engine's units run it: each unit starts the oldest of its next
  // kWindow jobs whose inputs are ready, so that the busiest may wait for another's op queued behind that unit's
  // longer ones where the units hand a tile's work back and forth. Up to 2k tiles are list-scheduled whole (k:
  // kPaced, or whole windows of the innermost loops where computations skip tiles, pace_jobs); beyond, each tile
  // costs what k more add to the makespan of k, the marginal cost of a tile once the schedule has settled (an
  // average over a window of one schedule moved with its length, the units running ahead of the tiles' ends).
  Schedule scheduled_time(int pass, int64_t tiles) const {
    const PaceJobs jobs = pace_jobs(pass, tiles);
    const auto n = static_cast<size_t>(jobs.scheduled);
    if (n == 0) return {};
    if (n <= jobs.tile_end.size()) return makespan(jobs, n);
    const size_t k = jobs.tile_end.size() / 2;
    const Schedule first = makespan(jobs, k), twice = makespan(jobs, 2 * k);
    const double more = static_cast<double>(n - 2 * k) * (twice.units - first.units) / static_cast<double>(k);
    return {twice.units + more, twice.results + more};
  }

  // Consecutive tiles' computations of a pipelined pass as scheduled_time schedules them: each job's unit, cycles
  // and result latency, and the jobs it waits for (each earlier than it).
  struct PaceJobs {
    std::vector<size_t> unit;
    std::vector<double> cycles, latency;
    std::vector<size_t> inputs, inputs_end;  // job j waits for inputs[inputs_end[j - 1], inputs_end[j])
    std::vector<std::vector<size_t>> queue;  // per unit, its jobs in order
    std::vector<size_t> tile_end;            // per tile: one past its last job
    int64_t scheduled = 0;                   // the pass's tiles as scheduled
  };
  // Where some computations run in only some of the tiles of the innermost loops (at the last block of a sum they
  // wait for, say), those loops' tiles are scheduled as the engine's walk issues them: each computation at the
  // iterations its fire rule picks, for its full time, waiting for the latest job of each computation it reads
  // (as the engine's jobs do). Bursts of one unit's work then show: FuseMax's cascade with the keys' block of E
  // outside m1 hands the 1D array all its work in every other half of a block of keys. A computation whose rule
  // or where clause depends on loops further out runs in every tile at its average share, as do all where no
  // computation of the innermost loops skips tiles; a result read at or before its computation in the tile (a
  // recurrence's state, partial sums) then comes from the tile as many iterations back as the loops inside its
  // step or summed index make (carried_distance).
  PaceJobs pace_jobs(int pass, int64_t tiles) const {
    std::vector<size_t> cs;
    for (size_t i = 0; i < g_.ops.size(); ++i)
      if (g_.ops[i].kind == TileOp::Kind::compute && g_.ops[i].pass == pass) cs.push_back(i);
    const size_t n = cs.size();
    // The innermost loops, as many as make at most kBurstTiles iterations: [inner, loops).
    size_t inner = g_.loops.size();
    int64_t window = 1;
    while (inner > 0 && window * g_.loops[inner - 1].trips <= kBurstTiles) window *= g_.loops[--inner].trips;
    // Per computation, the loops of its rule and whether it runs at the last of each (empty: at its average
    // share in every tile).
    std::vector<std::vector<std::pair<int, bool>>> rule(n);
    std::vector<char> bursty(n, 0);
    bool any_skips = false;
    for (size_t a = 0; a < n; ++a) {
      const TileOp& op = g_.ops[cs[a]];
      if (op.rate != kRateOne) continue;
      rule[a] = g_.fire_rule(op, c_);
      std::vector<size_t> decide;  // the loops whose counters decide whether it runs
      for (const auto& r : rule[a])
        if (g_.loops[static_cast<size_t>(r.first)].trips > 1) decide.push_back(static_cast<size_t>(r.first));
      for (const Constraint& w : op.active_when)
        for (const auto& term : w.expr.terms)
          decide.push_back(static_cast<size_t>(op.repeats[static_cast<size_t>(term.first)]));
      bursty[a] = std::all_of(decide.begin(), decide.end(), [&](size_t l) { return l >= inner; });
      any_skips |= bursty[a] && !decide.empty();
    }
    if (!any_skips) std::fill(bursty.begin(), bursty.end(), 0), window = 1;

    PaceJobs p;
    std::vector<std::string> names;
    std::vector<size_t> unit(n);
    for (size_t a = 0; a < n; ++a) {
      const std::string& u = g_.ops[cs[a]].unit;
      const auto it = std::find(names.begin(), names.end(), u);
      unit[a] = static_cast<size_t>(it - names.begin());
      if (it == names.end()) names.push_back(u);
    }
    p.queue.resize(names.size());
    // The tiles: every computation's executions, or where some run in only some tiles, the loops' iterations.
    p.scheduled = tiles;
    if (any_skips) {
      p.scheduled = 1;
      for (const Loop& l : g_.loops) p.scheduled *= l.trips;
    }
    // Per computation, what it reads: (computation, tiles back) for one at its average share, (computation, -1)
    // for one run where it fires (its latest job). Its cycles and latency a job.
    std::vector<std::vector<std::pair<size_t, int64_t>>> reads_of(n);
    std::vector<double> cycles(n), latency(n);
    for (size_t a = 0; a < n; ++a) {
      for (size_t b = 0; b < n; ++b)
        if (reads(cs[a], facts_[cs[b]].tensor))
          reads_of[a].emplace_back(b, bursty[b] ? -1 : b < a ? 0 : carried_distance(cs[b]));
      const double share = bursty[a] ? 1 : static_cast<double>(facts_[cs[a]].n) / static_cast<double>(p.scheduled);
      cycles[a] = static_cast<double>(facts_[cs[a]].occupancy) * share;
      latency[a] = static_cast<double>(g_.ops[cs[a]].result_latency) * share;
    }
    // Twice the tiles whose makespan the pace compares (at least kPaced), or all there are if fewer.
    const int64_t windows = (kPaced + window - 1) / window;
    const auto all_tiles = static_cast<size_t>(std::min(2 * windows * window, p.scheduled));
    std::vector<int64_t> at(g_.loops.size(), 0);
    std::vector<size_t> job_at(all_tiles * n, SIZE_MAX);  // (tile, computation) -> its job there
    std::vector<size_t> latest(n, SIZE_MAX);
    p.tile_end.reserve(all_tiles);
    for (size_t t = 0; t < all_tiles; ++t) {
      for (size_t l = g_.loops.size(), rest = t % static_cast<size_t>(window); l-- > inner;) {
        at[l] = static_cast<int64_t>(rest % static_cast<size_t>(g_.loops[l].trips));
        rest /= static_cast<size_t>(g_.loops[l].trips);
      }
      for (size_t a = 0; a < n; ++a) {
        if (bursty[a] && (!g_.ops[cs[a]].kept(at) || !std::all_of(rule[a].begin(), rule[a].end(), [&](const auto& r) {
              const Loop& l = g_.loops[static_cast<size_t>(r.first)];
              return at[static_cast<size_t>(r.first)] == (r.second ? l.trips - 1 : 0);
            })))
          continue;
        for (const auto& [b, back] : reads_of[a]) {
          if (back < 0) {
            if (latest[b] != SIZE_MAX) p.inputs.push_back(latest[b]);
          } else if (static_cast<size_t>(back) <= t) {
            p.inputs.push_back(job_at[(t - static_cast<size_t>(back)) * n + b]);
          }
        }
        const size_t j = p.unit.size();
        latest[a] = job_at[t * n + a] = j;
        p.unit.push_back(unit[a]);
        p.queue[unit[a]].push_back(j);
        p.cycles.push_back(cycles[a]);
        p.latency.push_back(latency[a]);
        p.inputs_end.push_back(p.inputs.size());
      }
      p.tile_end.push_back(p.unit.size());
    }
    return p;
  }

  // The makespan of the first `tiles` tiles of `p` list-scheduled (scheduled_time).
  static Schedule makespan(const PaceJobs& p, size_t tiles) {
    const size_t jobs = p.tile_end[tiles - 1];
    std::vector<double> end(jobs, -1);  // when a job ends, once it has started
    const size_t units = p.queue.size();
    std::vector<size_t> head(units, 0);
    std::vector<double> free(units, 0);
    auto inputs_at = [&](size_t j) {  // when j's inputs are ready; infinity while one has not started
      double at = 0;
      for (size_t i = j == 0 ? 0 : p.inputs_end[j - 1]; i < p.inputs_end[j]; ++i) {
        const size_t w = p.inputs[i];
        if (end[w] < 0) return std::numeric_limits<double>::infinity();
        at = std::max(at, end[w] + p.latency[w]);
      }
      return at;
    };
    // One pass over the units at each moment something may start: a job started now ends later (unless it takes
    // no time), so it readies nothing else now, and the next moment is the earliest a unit frees or a job waited
    // for is ready (or, for a job waiting on one that just started, when that one's unit frees).
    double now = 0;
    size_t left = jobs;
    while (left > 0) {
      double next = std::numeric_limits<double>::infinity();
      bool instant = false;  // a job started now that took no time: look again now
      for (size_t u = 0; u < units; ++u) {
        const std::vector<size_t>& queue = p.queue[u];
        while (head[u] < queue.size() && queue[head[u]] < jobs && end[queue[head[u]]] >= 0) ++head[u];
        if (free[u] > now) {
          next = std::min(next, free[u]);
          continue;
        }
        size_t seen = 0;
        for (size_t k = head[u]; k < queue.size() && queue[k] < jobs && seen < kWindow; ++k) {
          const size_t j = queue[k];
          if (end[j] >= 0) continue;
          ++seen;
          const double at = inputs_at(j);
          if (at <= now) {
            end[j] = now + p.cycles[j];
            free[u] = end[j];
            --left;
            instant |= end[j] + p.latency[j] <= now;
            next = std::min(next, free[u]);
            break;
          }
          next = std::min(next, at);
        }
      }
      if (instant) continue;
      if (std::isinf(next)) break;
      now = next;
    }
    Schedule last;
    for (size_t j = 0; j < jobs; ++j)
      last.units = std::max(last.units, end[j]), last.results = std::max(last.results, end[j] + p.latency[j]);
    return last;
  }

  // Whether a computation of a later pass reads what one of pass `pass` computes.
  bool feeds_later_pass(int pass) const {
    for (size_t w = 0; w < g_.ops.size(); ++w)
      if (g_.ops[w].kind == TileOp::Kind::compute && g_.ops[w].pass == pass)
        for (size_t r = 0; r < g_.ops.size(); ++r)
          if (g_.ops[r].kind == TileOp::Kind::compute && g_.ops[r].pass > pass && reads(r, facts_[w].tensor))
            return true;
    return false;
  }

  // The iterations of the group's own loops (on a many-core chip, the busiest core's).
  int64_t outer_iterations() const {
    int64_t n = 1;
    for (int l = 0; l < g_.outer_loops; ++l) n *= g_.loops[static_cast<size_t>(l)].trips;
    return n;
  }

  // A pass that loads back what an earlier pass of the group spilled starts once the tensor's last tile is stored
  // and its first is back: in every iteration of the group's own loops, a store and a load, each with the path's
  // latency, that nothing else overlaps (the pass before has finished, the pass after waits for the data). The
  // path idles through the two latencies. Summed over the passes that load a spilled tensor; {all, latencies}.
  std::pair<int64_t, int64_t> spill_turnarounds() const {
    int64_t all = 0, latencies = 0;
    for (const TileOp& load : g_.ops) {
      if (load.kind != TileOp::Kind::load) continue;
      const auto store = std::find_if(g_.ops.begin(), g_.ops.end(), [&](const TileOp& s) {
        return s.kind == TileOp::Kind::store && s.tensor == load.tensor && s.pass < load.pass;
      });
      if (store == g_.ops.end()) continue;
      for (const TileOp* op : {&*store, &load}) {
        const std::string& path = arch_.path(op->from, op->to).name;
        const int64_t latency = arch_.find(path)->path()->latency_cycles(arch_.clock_hz) + op->port_latency;
        all += path_cycles(paths_.at(path), path, static_cast<double>(op->bytes)) + latency;
        latencies += latency;
      }
    }
    return {all * outer_iterations(), latencies * outer_iterations()};
  }

  // The prefetch distance's bound on a path, over every tensor it loads more than once.
  int64_t prefetch_bound(const Path& p, const std::string& path, int64_t compute, int64_t latency) const {
    int64_t bound = 0;
    for (size_t i = 0; i < g_.ops.size(); ++i) {
      const TileOp& op = g_.ops[i];
      const int64_t n = facts_[i].n;
      if (op.kind != TileOp::Kind::load || n < 2 || *facts_[i].path != path) continue;
      // What the path moves when the slot frees: the stores that come due with each tile (on average), and
      // this tile's loads of every tensor loaded as often and read by the same ops (their slots free with it;
      // one channel carries them all).
      const std::vector<size_t> mine = readers(facts_[i].tensor);
      double due = 0;
      for (size_t j = 0; j < g_.ops.size(); ++j) {
        const TileOp& other = g_.ops[j];
        if (other.kind == TileOp::Kind::compute || *facts_[j].path != path) continue;
        if (other.kind == TileOp::Kind::store)
          due += static_cast<double>(other.bytes) * static_cast<double>(facts_[j].n) / static_cast<double>(n);
        else if (facts_[j].n == n && readers(facts_[j].tensor) == mine)
          due += static_cast<double>(other.bytes);
        else if (!other.partial_sum_loops.empty() && readers(facts_[j].tensor) == mine)  // all but the first time
          due += static_cast<double>(other.bytes) * static_cast<double>(facts_[j].n) / static_cast<double>(n);
      }
      // A tile's slot is free once its last reader is done, and the next tile's first reader waits for its
      // data: between the two lies at least one reader's work per tile (the units may run a tile's other ops
      // in any order around them, so no more is certain).
      const double c = static_cast<double>(compute) / static_cast<double>(n);
      double span = 0;
      for (const size_t r : mine)
        span = std::max(span, static_cast<double>(facts_[r].occupancy * facts_[r].n) / static_cast<double>(n));
      const double r = static_cast<double>(result_latency_ + latency + path_cycles(p, path, due));
      bound = std::max(bound, static_cast<int64_t>(std::ceil(c + static_cast<double>(n - 1) * (r + std::min(span, c)) /
                                                                     static_cast<double>(op.stages))));
    }
    return bound;
  }

  const Cascade& c_;
  const TileGroup& g_;
  const ArchSpec& arch_;
  const std::string& program_buffer_;
  std::vector<Facts> facts_;
  std::map<std::pair<int, std::string>, int64_t> unit_cycles_;  // (pass, unit) -> cycles it is occupied
  std::map<std::string, Path> paths_;
  // (pass, path) -> bytes of the tiles bypassing the buffer: all, and those the units' stages may hold
  std::map<std::pair<int, std::string>, std::pair<int64_t, int64_t>> bypass_bytes_;
  std::map<std::string, int64_t> lag_bytes_;    // path -> bypassing stores' tiles left after the last iteration
  std::map<std::string, int64_t> port_cycles_;  // buffer -> cycles its ports are taken
  int64_t result_latency_ = 0;  // the longest wait for a computation's result, which a store may wait for
  // What a pipelined group's stores wait for after its units' last op: the longest result latency, or where a
  // single pass is scheduled, how far its last results' latency reaches beyond the units' last op.
  int64_t last_latency_ = 0;
};

}  // namespace

// Groups run one after another, except that a `concurrent` group runs with the one before it: such a run takes
// as long as its longest group, or as the total that any unit, path or buffer the groups share must carry.
// Actions and energy: every op as many times as the program's loops say (sim/actions), on every core.
Stats evaluate_analytical(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program,
                          BankTransfers* shared) {
  return time_analytical(cascade, arch, program, count_analytical(cascade, arch, program, shared));
}

CountedRun count_analytical(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program,
                            BankTransfers* shared) {
  CountedRun counted{initial_stats(arch, program, Fidelity::analytical), {}};
  Stats& s = counted.stats;
  if (!program.status.ok) return counted;
  // Counts are exact 64-bit integers; refuse points whose totals would not fit rather than wrap.
  double total_cycles = 0;
  bool too_large = false;
  for (const TileGroup& g : program.groups) {
    if (g.collective) total_cycles += static_cast<double>(g.collective->cycles);
    for (const TileOp& op : g.ops) {
      const double n = static_cast<double>(g.executions(op));
      total_cycles += n * static_cast<double>(op.cycles);
      too_large |= n * static_cast<double>(
                           std::max({op.cycles, op.bytes, op.points, op.buffer_read_bytes, op.buffer_write_bytes})) >
                   0x1p62;
    }
  }
  if (too_large || total_cycles > 0x1p62) {
    s.status = EvalStatus{false, "the design point's counts exceed 2^62: too large to evaluate"};
    return counted;
  }
  BankTransfers own;
  counted.run = count_actions(cascade, arch, program, program_executions(program), shared ? *shared : own, s);
  return counted;
}

Stats time_analytical(const Cascade& cascade, const ArchSpec& arch, const TileProgram& program, CountedRun counted) {
  Stats& s = counted.stats;
  if (!program.status.ok || !s.status.ok) return std::move(s);
  const RunWork& run = counted.run;
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
    if (g.collective) {  // its closed form's time, on the interconnect that collectives running together share
      s.groups[g.name] = GroupStats{g.collective->cycles, 1, g.devices, g.buffer_stages};
      run_longest = std::max(run_longest, g.collective->cycles);
      run_load["link " + g.collective->link] += g.collective->cycles;
      continue;
    }
    // Spread over cores, the group takes as long as its busiest core (a copy only where there are cores: this
    // loop is the mapper's inner loop).
    std::optional<TileGroup> core;
    if (g.spread_loops > 0) core = g.busiest();
    const GroupTime t = GroupTimer(cascade, core ? *core : g, arch, program.buffer).time(s);
    s.groups[g.name] = GroupStats{t.cycles, g.cores, g.devices, g.buffer_stages};
    run_longest = std::max(run_longest, t.cycles);
    for (const auto& [who, cycles] : t.load) run_load[who] += cycles;
  }
  close_run();
  finish_run(arch, run, s);
  return std::move(s);
}

}  // namespace einsim
