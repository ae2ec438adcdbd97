#pragma once
// The TileProgram: what lowering a mapping produces and the only input of both evaluators. It is
// loop-compressed: each group is a loop nest with trip counts, and each tile operation sits at a depth of that
// nest, executing once per iteration of the loops above it. Its size does not depend on the sequence length.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mappings/spec.hpp"
#include "workloads/analysis.hpp"

namespace einsim {

struct Loop {
  std::string index;
  int64_t trips = 1;
  int64_t tile = 1;           // elements of the index covered by one iteration
  bool buffer_level = false;  // iterates over tiles already in the buffer
  bool ragged = false;        // over an index whose outermost loop's tile leaves a partial last tile
};

struct TileOp {
  enum class Kind { load, store, compute };
  Kind kind = Kind::compute;
  int depth = 0;             // sits below loops[0, depth)
  std::vector<int> repeats;  // the loops it executes once per iteration of
  int pass = 0;              // passes of a group run one after another
  // load / store
  std::string tensor;
  std::string from;  // memory components
  std::string to;
  int64_t bytes = 0;  // per execution
  int stages = 2;     // load: the buffer's slots for the tensor's tiles (2: double buffering); a bypassing
                      // store: the tiles its unit holds while they wait for the path
  // The tile goes between the backing memory and the unit directly (the mapping's `bypass`): the buffer's array
  // and its ports are not touched.
  bool bypass = false;
  // On a many-core chip, a transfer crosses a core's port: at the port's bandwidth, this many cycles beyond the
  // path's latency. 0: the path's own bandwidth.
  double port_Bps = 0;
  int64_t port_latency = 0;
  // What the backing memory sees of it over the whole run, in tiles; -1: one tile an execution. A load the cores
  // share, on a NoC that multicasts or has an L2: read once for the cores that need it (each delivery an
  // execution). A store of partial results the NoC reduces (`reduced`): each result written once.
  int64_t backing_transfers = -1;
  int64_t fetched(int64_t executions) const { return backing_transfers >= 0 ? backing_transfers : executions; }
  // A store of a partial result: its Einsum sums (or takes the maximum) over a loop spread over the cores, each
  // item sends its partial through its port and the NoC's reducers combine them on the way to the memory.
  bool reduced = false;
  // compute
  EinsumId einsum;
  std::string unit;
  OpCounts ops;                    // per execution
  int64_t points = 0;              // iteration points per execution
  int64_t cycles = 0;              // per execution, from the unit's cycle model: how long it occupies the unit
  int64_t result_latency = 0;      // cycles after that until its result is ready (a reduction tree draining)
  int64_t buffer_read_bytes = 0;   // per execution: operands from the buffer
  int64_t buffer_write_bytes = 0;  // per execution: results to the buffer
  // Tensors it reads through gathers of its group (KK = KC[..., I[...]]): their loaded tiles are its operands, so
  // their buffer slots stay taken until it has run.
  std::vector<TensorId> reads_through;
  // Tensors it reads through splits of its group (BK = K, which computes nothing and is not loaded: BQK reads K's
  // loaded tiles): it waits for them to arrive, but their slots are not held for it (docs/model.md, Measured gaps).
  std::vector<TensorId> reads_through_splits;
  // It adds to partial sums of its result loaded back from the backing memory (a load of its result before it in
  // the group, at some of its executions): it waits for that load.
  bool accumulates = false;
  // A load of partial sums (a result stored at every iteration of loops over an index its Einsum sums over, loaded
  // back at every later one): the positions in `repeats` of those loops. The tile it loads is the one the store at
  // the same counters of the other loops wrote last.
  std::vector<int> partial_sum_loops;
  // An Einsum with a `where` clause (and the loads and stores only it needs) skips the executions whose tile
  // holds no point the clause keeps. `active_when` is over the loops of `repeats` (variable j: the counter of
  // loop repeats[j]); an execution runs when every constraint holds. A tile it runs costs its full time (the PEs
  // at masked points idle), but only its kept points count as operations.
  std::vector<Constraint> active_when;
  int64_t runs = -1;         // executions that run, when active_when skips some
  // A tile that does not divide its index (a ragged loop's) leaves a partial last tile, and inside it the loops
  // over that index have iterations past its end. An op whose tiles differ in size is split into variants, one a
  // size, each with `active_when` picking its executions; an op that only repeats over those empty iterations
  // keeps the executions that hold some of the index. `partial`: this variant's tile is the partial last one in
  // some ragged index (the first tile never is).
  bool ragged = false;
  bool partial = false;
  int64_t kept_points = -1;  // a computation with a where clause: the points all its executions compute
  // A guarded Einsum (`when G[...]`), its store, and the loads only it reads run where their tile's guard element
  // is one of the `rate` (of kRateOne) share of the guard's `guard_elements` that thinned_runs picks: the guard's
  // expected density, not its values. The element at an execution is the sum of counter * stride over
  // `guard_terms` (loop position, stride).
  int64_t rate = kRateOne;
  int64_t guard_elements = 1;
  std::vector<std::pair<int, int64_t>> guard_terms;
  // Whether the execution at these loop counters (every loop's, by position in the group) runs.
  bool active(const std::vector<int64_t>& counters) const;
  // Whether its where clauses and ragged tiles (`active_when`) let it run there, whatever its guard's rate.
  bool kept(const std::vector<int64_t>& counters) const;

  // The operations of `count` per full execution over `n` executions: fewer where a where clause masks points.
  int64_t total_ops(int64_t count, int64_t n) const {
    return kept_points >= 0 ? count / points * kept_points : count * n;
  }
};

// One place a `place: auto` group could run, by its roofline: ops at the place's peak against bytes at the
// bandwidth of its path from DRAM. Ops count a MAC as 2 (FLOPs), so op_per_byte reads as the papers' Op/B.
struct PlaceOption {
  std::string place;     // a PIM's name, or the group's own units joined by '+'
  double ops = 0;        // per run of the group
  double bytes = 0;      // between DRAM and the place's buffer
  double compute_s = 0;  // at the units' peak
  double memory_s = 0;   // at the path's bandwidth
  double roofline_s() const { return compute_s > memory_s ? compute_s : memory_s; }
  double op_per_byte() const { return bytes > 0 ? ops / bytes : 0; }
  double ridge() const {
    return compute_s > 0 && memory_s > 0 ? (ops / compute_s) / (bytes / memory_s) : 0;
  }  // peak / bandwidth
};

// A collective between the devices (the mapping's collective group), costed when lowered by its algorithm's
// closed form on the interconnect (arch/collectives.hpp): both evaluators take its time as it is.
struct CollectiveRun {
  std::string link;    // the interconnect
  int64_t cycles = 0;  // of the architecture's clock
  double link_bytes = 0;
  double energy_pJ = 0;
};

struct TileGroup {
  std::string name;
  std::string buffer;                // where its tiles are staged: the program's buffer, or the PIM it runs on
  std::string place;                 // the PIM it runs on; empty: its Einsums' own units
  bool concurrent = false;           // runs at the same time as the group before it
  std::vector<PlaceOption> options;  // `place: auto`: every candidate, its own units first, then each PIM
  std::vector<Loop> loops;           // the group's own loops, then each pass's
  int outer_loops = 0;               // how many of `loops` are the group's own
  std::vector<std::pair<int, int>> pass_loops;  // per pass: [begin, end) in `loops`
  std::vector<TileOp> ops;                      // in dependency order within each pass
  bool pipeline = false;
  bool double_buffer = true;  // buffer_stages above 1: loads of the next iteration overlap this one's compute
  int buffer_stages = 2;      // the group's own (its mapping's, or what `buffer_stages: fit` chose); 0: a collective
  int64_t buffer_bytes = 0;   // the buffer space the group's tiles need
  // On a many-core chip or a system of devices: the first `spread_loops` loops are spread over `cores` cores (or
  // `devices` devices) as one flattened range, the busiest running `spread_trips` of their iterations. 0 loops:
  // the group runs on one core (or chip) of one device.
  int spread_loops = 0;
  int64_t cores = 1;
  int64_t devices = 1;
  int64_t spread_trips = 0;
  // What the cores of a many-core chip share, each a time the group takes at least, however fast its busiest
  // core: every core's transfers at the backing memory's bandwidth (the memory's `shared_bandwidth`), and the partial
  // results its network's reducers combine at theirs (the noc's `reduce_bandwidth`), and every byte through the
  // ports at the rate that fills a mesh's narrowest cut (the noc's `mesh_bandwidth`). The cycle engine waits out what
  // the busiest core leaves of each as that component's stall of that cause. (Devices each have their own.)
  struct Floor {
    std::string component;
    std::string cause;
    int64_t cycles = 0;
  };
  std::vector<Floor> floors;
  int64_t floor_cycles() const;  // the largest floor's (0: none)

  // Product of the trips of op.repeats, or the executions that run when a where clause or a guard skips some.
  int64_t executions(const TileOp& op) const;
  // When `op` fires within the loops of the group (and of its pass) it does not repeat over: each (loop, whether
  // at its last iteration, else its first). Loads at their first iteration (the tile then stays), stores at their
  // last (the tile is complete), computations at the first, or at the last when they read what a computation
  // repeating over that loop produces (a recurrence's final value). Both the cycle engine and the tile-order
  // interpreter walk the loops and fire ops by it.
  std::vector<std::pair<int, bool>> fire_rule(const TileOp& op, const Cascade& c) const;
  std::optional<CollectiveRun> collective;  // a collective's group: no loops, no ops

  // What the busiest core (or device) runs: the spread loops folded into one of `spread_trips` iterations. Its timing
  // is the group's; the whole group's counts are this group's.
  TileGroup busiest() const;
};

struct TileProgram {
  std::string backing;  // memory components: where tensors live, and the buffer tiles are staged in
  std::string buffer;
  // What the backing memory holds for the point on each device: the workload's inputs and outputs and the
  // intermediates it stores, a tensor a group spreads over the devices by one of its indices a device's share.
  int64_t footprint_bytes = 0;
  // Per tensor, how many devices share it (each holds ceil(bytes / shares)), 0 for one the backing memory does not
  // keep: what footprint_bytes adds up, kept so that a sweep can count it again at other params (`fit:`). Empty when
  // lowering stopped before every group was lowered.
  IdVector<TensorId, int64_t> held_shares;
  std::vector<TileGroup> groups;
  EvalStatus status;
  // Infeasible because a group's tiles do not fit its buffer (on every place it may run): larger tiles need at
  // least as much, so the mapper skips them without lowering.
  bool buffer_too_small = false;
};

// Every group as its busiest core or device runs it (TileGroup::busiest).
TileProgram busiest(const TileProgram& program);

}  // namespace einsim
