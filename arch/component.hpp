#pragma once
// A component kind is a registered implementation (arch/kinds/<kind>/): it owns its parameter table, reads and
// validates its parameters into a Component, and says which roles the component plays. Lowering and both
// evaluators ask for roles (compute, memory, path) and never ask which kind a component is.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "arch/energy_table.hpp"
#include "arch/params.hpp"

namespace einsim {

struct ArchSpec;
class BankTransfers;

// An operation a compute unit supports, on one PE or lane: the function unit that runs it, how long from its
// operands to its result, how often that function unit can start one, and its cost. Ops on different function
// units of a PE run at once (a subtract feeding an exp unit takes one slot on each); the PE's shared datapath
// ("") runs every op that names no function unit, one after another.
struct OpSpec {
  int64_t latency_cycles = 1;
  int64_t interval_cycles = 0;  // between starts on its function unit; 0: latency_cycles (not pipelined)
  std::string function_unit;
  Cost cost;
  // How partial results of this op combine across PEs or lanes when an index is reduced over them: through a
  // tree (log2(width) levels), or passed along a chain of the PEs (width cycles; `reduce: chain`).
  bool chain_reduction = false;

  int64_t issue_cycles() const { return interval_cycles ? interval_cycles : latency_cycles; }
};

// The cycles `counts` ops occupy one PE or lane, after `from`: each function unit issues its ops one interval
// apart and the function units work at once, so the busiest decides. `cycles(count, issue_cycles)` is one op
// kind's share in the caller's arithmetic, added per function unit in the order of the kinds.
template <class Cycles, class T = decltype(std::declval<Cycles>()(int64_t{}, int64_t{}))>
T busiest_function_unit(const std::map<std::string, OpSpec>& specs, const std::map<std::string, int64_t>& counts,
                        Cycles cycles, T from = 0) {
  std::map<std::string, T> per_unit;
  for (const auto& [kind, count] : counts) {
    const OpSpec& spec = specs.at(kind);
    per_unit.try_emplace(spec.function_unit, from).first->second += cycles(count, spec.issue_cycles());
  }
  T busiest = from;
  for (const auto& [unit, c] : per_unit) busiest = std::max(busiest, c);
  return busiest;
}

// pJ by action ("mac", "read", "activate", ...), of one component.
using ActionEnergy = std::map<std::string, double>;

// One computation's tile as lowering sees it: `points` index points, each costing `cycles_per_point` op cycles
// on one PE or lane, with the product of the tile extents spread over each spatial dimension (`spread`) and of
// those the Einsum reduces (`reduced`).
struct TileWork {
  int64_t points = 0;
  int64_t cycles_per_point = 0;
  std::map<std::string, int64_t> spread;
  std::map<std::string, int64_t> reduced;
  bool chain_reduction = false;  // the combining op passes partials along the PEs instead of up a tree
};

struct TileTiming {
  int64_t cycles = 0;          // the unit is busy
  int64_t result_latency = 0;  // the result trails the busy cycles by this much (a reduction tree's levels)
};

class ComputeRole {
 public:
  virtual ~ComputeRole() = default;
  virtual const std::map<std::string, OpSpec>& ops() const = 0;
  virtual int64_t parallelism() const = 0;  // PEs or lanes
  // Ops it can start per cycle of its own clock, and per cycle of the architecture's.
  virtual int64_t op_slots() const { return parallelism(); }
  virtual double op_rate(double /*arch_clock_hz*/) const { return static_cast<double>(op_slots()); }
  virtual int64_t regfile_entries() const { return 0; }  // per PE or lane
  // Energy of one register-file read and one write (pJ): each op reads its operands there and updates its result
  // there (Timeloop's convention). Zero where the unit gives none.
  virtual double regfile_read_pJ() const { return 0; }
  virtual double regfile_write_pJ() const { return 0; }
  // Whether a mapping spreads indices over its named dimensions; a unit that spreads its operands by itself
  // (over banks) ignores a binding's spatial ranks.
  virtual bool maps_spatially() const { return true; }
  // Whether a tile wider than the unit runs fold by fold, each fold a pass over the tile's indices in time (a 2D
  // array whose dataflow keeps one operand in the PEs for the fold), so that an operand the fold's spread does not
  // index is read again in each fold (mappings/fold_reads.hpp). A lane array instead may sweep its folds inside
  // its other loops, keeping each point's operands in registers: each operand read once.
  virtual bool folds_in_passes() const { return false; }
  // The size of a spatial dimension ("rows", "cols", "lanes"), if it has one of that name.
  virtual std::optional<int64_t> dimension(std::string_view /*name*/) const { return std::nullopt; }
  virtual TileTiming tile_timing(const TileWork& work, double arch_clock_hz) const = 0;
  // The most ops it starts per cycle of the architecture's clock when a tile can spread over each spatial dimension at
  // most the given points (a dimension not named: one), as when a map puts 2 KV heads on 256 rows: the other rows
  // idle whatever the tiles. The mapper bounds shapes with it (explore/mapper.hpp, compute_floor), so no tile_timing
  // may beat it: a tile's cycles are at least its points x cycles_per_point over this rate. Without spatial
  // dimensions, every op slot.
  virtual double rate_when_spread(const std::map<std::string, int64_t>& /*most*/, double arch_clock_hz) const {
    return op_rate(arch_clock_hz);
  }
};

// The points `most` lets a dimension of `size` hold: at most its size, one where `most` does not name it.
int64_t spread_at_most(const std::map<std::string, int64_t>& most, const std::string& dim, int64_t size);

// A memory that holds tiles: a buffer, or a PIM's units' buffers.
class MemoryRole {
 public:
  virtual ~MemoryRole() = default;
  virtual double capacity_bytes() const = 0;
  virtual int64_t ports() const = 0;                // accessors at a time (the cycle engine)
  virtual double bytes_per_port_cycle() const = 0;  // what one accessor moves per cycle
  // Whether a mapping may name it as its buffer (memory.buffer); a PIM's buffers hold only the tiles of the
  // groups placed on it.
  virtual bool stages_tiles() const { return true; }
};

// What a tile transfer between the backing memory and a buffer goes through.
class PathRole {
 public:
  virtual ~PathRole() = default;
  virtual double bandwidth_Bps() const = 0;
  virtual int64_t latency_cycles(double arch_clock_hz) const = 0;
  virtual int64_t dma_engines(const ArchSpec& arch) const = 0;
  // Whether its DMA engines take the oldest request that may run now (ready_first) rather than strictly the
  // oldest (in_order, the default), which makes every request wait behind one that waits.
  virtual bool dma_ready_first(const ArchSpec& /*arch*/) const { return false; }
  // The memory whose banks it reads from inside (a PIM's), or empty for a memory's own interface.
  virtual std::string inside() const { return ""; }
  // The name of its module in the cycle engine (stall and trace names).
  virtual std::string engine_name(const std::string& self) const { return self; }
  // A detailed timing model's cycles (of the architecture's clock) for one transfer of `bytes`, when it has
  // one beyond bandwidth.
  virtual std::optional<int64_t> timed_cycles(int64_t /*bytes*/, bool /*write*/, BankTransfers& /*memo*/,
                                              double /*arch_clock_hz*/) const {
    return std::nullopt;
  }
  // The energy of `count` transfers of `bytes` each.
  virtual void charge_transfers(int64_t bytes, int64_t count, bool write, BankTransfers& memo,
                                ActionEnergy& energy) const = 0;
  // Whether it is a memory's interface, holding the tensors a mapping's backing memory holds (memory.backing),
  // and the bytes it moves count as that memory's external traffic.
  virtual bool holds_tensors() const { return false; }
  // What a memory holding tensors can hold (on each device of a system); 0: not given, not checked.
  virtual double capacity_bytes() const { return 0; }
};

// The cores of a many-core chip: how many, the components each core has its own copy of (its buffer and
// arrays), and each core's port to the memory outside the cores. A mapping spreads a group's outer loops over
// the cores; every tile a core loads or stores crosses its port.
class CoresRole {
 public:
  virtual ~CoresRole() = default;
  virtual int64_t count() const = 0;
  virtual const std::vector<std::string>& per_core() const = 0;
  virtual double port_Bps() const = 0;
  virtual int64_t port_latency_cycles() const = 0;  // added to a transfer's, between the memory and a core
  virtual double port_pJ_per_byte() const = 0;      // what a byte crossing a port costs
  // A tile that cores running at once all load is read from the memory once and delivered to each of them.
  virtual bool multicast() const = 0;
  // The L2 between the ports and the memory, bytes (0: none): a tile the items of a group share is read from the
  // memory once a group while the tensors they share fit in it, else once for the cores running at once.
  virtual double l2_bytes() const = 0;
  // Reducers between the ports and the memory (an L2's atomic adds, or a network that reduces): the partial
  // results of items spread over a rank their Einsum sums (or takes the maximum) over are combined on their way
  // to the memory, which receives each result once. Bytes of partials a second, all reducers together; 0: none,
  // such a spread is refused.
  virtual double reduce_Bps() const = 0;
  virtual double reduce_pJ_per_byte() const = 0;  // what combining a byte of a partial result costs
  // A mesh of routers joining the cores to the memory's interfaces, spread evenly over its nodes: the hops a
  // transfer takes on average, the cycles they add to it (rounded), and what a byte costs a hop. 0 without a mesh.
  virtual double mean_hops() const = 0;
  virtual int64_t hops_latency_cycles() const = 0;
  virtual double hop_pJ_per_byte() const = 0;
  // The rate of all the cores' transfers, spread evenly, at which the mesh's narrowest cut saturates (B/s); 0: not
  // limited (no mesh, or no link_bandwidth).
  virtual double mesh_Bps() const = 0;
};

// The devices of a system: the architecture is one of `count` identical devices, joined by links in a ring
// (each device to its two neighbours) or through a switch (each device by one port to a non-blocking switch).
// Collectives between them are costed on it (arch/collectives.hpp).
enum class Topology { ring, switched };
inline std::string_view topology_name(Topology t) { return t == Topology::ring ? "ring" : "switch"; }
class DevicesRole {
 public:
  virtual ~DevicesRole() = default;
  virtual int64_t count() const = 0;
  virtual Topology topology() const = 0;
  virtual double link_Bps() const = 0;        // each direction of a device's link (or switch port)
  virtual double link_latency_s() const = 0;  // a message's, from one device to the next
  virtual double link_pJ_per_byte() const = 0;
};

// What a run moved at a component: bytes read from it and written to it, those of them that crossed its
// interface, and how long the run took.
struct RunTraffic {
  int64_t read = 0, written = 0;
  int64_t external_read = 0, external_written = 0;
  double seconds = 0;
  int64_t devices = 1;  // of a system: each has the component, for the whole run (each refreshes its own DRAM)
};

// A configured component of some kind. Immutable once built; an override builds a new one from edited params.
class Component {
 public:
  virtual ~Component() = default;
  virtual const ComputeRole* compute() const { return nullptr; }
  virtual const MemoryRole* memory() const { return nullptr; }
  virtual const PathRole* path() const { return nullptr; }
  virtual const CoresRole* cores() const { return nullptr; }
  virtual const DevicesRole* devices() const { return nullptr; }
  virtual std::optional<double> area_um2() const { return std::nullopt; }
  // Whether a missing area figure leaves the chip's area incomplete (a DRAM is off chip).
  virtual bool counts_area() const { return true; }
  // The energy of what a run moved at it (row accesses, accesses across its interface, refresh over the run),
  // for components that moved anything.
  virtual void charge_run(const RunTraffic& /*traffic*/, ActionEnergy& /*energy*/) const {}
  // For `einsim arch`: the JSON fields that describe it, and a one-line summary of its size.
  virtual void describe(nlohmann::ordered_json& fields, std::string& summary) const = 0;
  // Checks that need the whole architecture (a PIM's memory must be a DRAM of it); `self` is its name.
  virtual void check(const ArchSpec& /*arch*/, const std::string& /*self*/) const {}
};

// What a kind's build() gets beside its params.
struct BuildContext {
  const EnergyTable& table;
};

struct ComponentKind {
  std::string name;
  std::string description;
  ParamTable params;
  std::string example;  // a minimal component of this kind, as YAML (its tests build every kind from it)
  std::shared_ptr<const Component> (*build)(const ParamValues& params, const BuildContext& context);
};

// Every registered kind, by name (arch/kinds/registry.cpp).
const std::map<std::string, ComponentKind>& component_kinds();
const ComponentKind* find_kind(std::string_view name);

// Helpers the array kinds share: the steps a tile takes when its spread indices fold over dimensions of these
// sizes, and the levels of the adder (or max) trees that combine indices reduced across them.
int64_t spatial_steps(const TileWork& work, const std::map<std::string, int64_t>& sizes);
int64_t reduction_levels(const TileWork& work, const std::map<std::string, int64_t>& sizes);
int64_t ceil_div(int64_t a, int64_t b);

}  // namespace einsim
