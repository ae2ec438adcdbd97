#pragma once
// Mapping specs: how a cascade runs on an architecture. Fused groups of Einsums share a loop nest of tiles
// staged from the backing memory into the buffer; each Einsum is bound to a unit with indices spread over its
// dimensions. Tile sizes are expressions of the workload's params, evaluated when the mapping is lowered.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "workloads/cascade.hpp"
#include "workloads/expr.hpp"

namespace einsim {

struct LoopSpec {
  std::string index;
  std::string tile;           // expression; empty: the loop walks the index one element at a time
  bool buffer_level = false;  // a loop over tiles inside the buffer (else over tiles fetched from the backing memory)
  SourceLoc loc;
  std::optional<Expr> tile_expr;  // `tile`, parsed once when the mapping is read (lowering parses it if not)
};

using SpatialMap = std::vector<std::pair<std::string, std::string>>;  // array dimension (rows, cols, lanes) -> index

struct EinsumBinding {
  std::string unit;    // empty for Einsums that only reshape data (splits)
  SpatialMap spatial;  // indices spread over the unit's dimensions
  // Constraints for `einsim map` (`unit: auto`, `spatial` keyed by unit): the units the mapper may bind the
  // Einsum to, each with its spatial map, as listed. A mapping to evaluate names its unit.
  std::vector<std::pair<std::string, SpatialMap>> unit_choices;
  // Constraints (`spatial: auto`): the positions in unit_choices whose maps the mapper makes, every map of the unit
  // that unconstrained() gives it; the unit "*" stands for every unit that can compute the Einsum. Replaced by
  // those maps once the workload and architecture are bound (with_spatial_maps).
  std::vector<size_t> maps_auto;
  SourceLoc loc;
  std::string key;  // YAML path, for messages
};

// One traversal inside a group's loops: its own inner loops and the Einsums that run in them. Passes run one
// after another in every iteration of the group's loops (FLAT's three passes over a block's scores).
struct PassSpec {
  std::vector<LoopSpec> loops;  // outer to inner: the backing memory's loops, then the buffer's
  std::vector<std::pair<std::string, EinsumBinding>> einsums;  // in file order
};

// A collective between the devices of a system (the architecture's interconnect), as a group of its own: it
// starts once the groups before it are done (or with the group before it, `concurrent`). Each device's buffer is
// a tensor's whole size, or `bytes` (an expression of the workload's params).
struct CollectiveSpec {
  std::string op;         // all_reduce, all_gather, reduce_scatter, all_to_all
  std::string algorithm;  // ring, direct, tree; empty: the fastest that applies
  std::string tensor;
  std::string bytes;
  SourceLoc loc;
};

constexpr int kMostStagesFit = 4;

struct GroupSpec {
  std::string name;
  bool pipeline = false;                             // units work on different iterations at once
  // Buffer stages (slots) per loaded tensor: 2 is double buffering (loads of the next iteration overlap this
  // one's compute), 1 none, 3 or more let loads run further ahead. `double_buffer: true|false` is 2 or 1.
  int buffer_stages = 2;
  // `buffer_stages: fit`: the most stages, up to kMostStagesFit, that the group's tiles fit in its buffer, chosen when
  // it is lowered (TileGroup::buffer_stages says which). The mapper's own groups say so: more stages let loads run
  // further ahead at no cost in traffic, so the most that fit are the fastest (docs/mapper.md).
  bool stages_fit = false;
  std::vector<LoopSpec> loops;                       // outer to inner: the backing memory's loops, then the buffer's
  std::vector<PassSpec> passes;                      // a group without `passes:` has one, with no loops of its own
  // Constraints for `einsim map` (`passes: auto`): the loops each pass runs. The group's Einsums sit in one pass
  // until the mapper cuts them (the setting `passes`: every way to cut them, in their order, into passes).
  std::vector<LoopSpec> pass_loops;
  bool passes_cut = false;  // the mapper cut them (cut_into_passes): a spill no cut separates is then infeasible
  std::map<std::string, int> tensor_buffer_stages;   // per-tensor exceptions to buffer_stages
  // Intermediates spilled between the group's passes: the pass that computes one stores it tile by tile to the
  // backing memory and the later passes that read it load it back tile by tile, so that no block of it stays in
  // the buffer (FLAT's scores at long sequences). By name, with where the mapping says so.
  std::map<std::string, SourceLoc> spilled;
  // Constraints for `einsim map` (`spill: auto`): the intermediates whose spilling the mapper chooses, each a
  // setting of the group (`tensors.QK.spill`, false or true) searched as the others are. By name, with where.
  std::map<std::string, SourceLoc> spill_choices;
  // Tensors that bypass the buffer (Timeloop's bypass of a level): an input goes from the backing memory straight
  // to the unit, fetched again for every tile the unit computes; a result goes from the unit straight to the
  // backing memory, tile by tile. Neither is written into the buffer nor read from it. By name.
  std::map<std::string, SourceLoc> bypassed;
  // Where the group runs: empty for the units its Einsums are bound to; a PIM's name (every Einsum on it, its
  // tiles in the PIM's buffer, fed from the banks); or "auto": whichever of those has the least roofline time.
  std::string place;
  bool concurrent = false;  // runs at the same time as the group before it (on other units)
  // On a many-core chip (a noc): the indices of the group's outermost loops whose iterations are spread over
  // the cores, as one flattened range (stream-K: the busiest core runs ceil(iterations / cores) of them).
  std::vector<std::string> cores;
  SourceLoc cores_loc;
  // On a system of several devices (an interconnect): the indices of the group's outermost loops whose iterations
  // are spread over the devices, as one flattened range, each device running its share from its own memory.
  std::vector<std::string> devices;
  SourceLoc devices_loc;
  std::optional<CollectiveSpec> collective;  // a collective's group has no Einsums
  // Constraints for `einsim map` (`order: auto`): the mapper tries every order of the loops at each memory level
  // of the group and of each of its passes. A mapping to evaluate has its loops in order.
  bool order_auto = false;
  SourceLoc order_loc;
  // Constraints for `einsim map`: the group's settings left to it, each with the values it may take, searched as
  // a constraints file's param lists are: `pipeline: auto` (false, true), `buffer_stages: [1, 2, 3]` or `auto` (1
  // to 4), a tensor's `spill: auto` (`tensors.QK.spill`: false, true), `passes: auto` (pass_choices), `cores:
  // auto` (the loops in the backing memory spread over the cores: none, the first, the first two, ...: "[]", "[b]",
  // "[b, kh]" as written, the first loops of the order chosen where the order is `auto` too: cores_choices). By
  // setting name.
  std::vector<std::pair<std::string, std::vector<std::string>>> setting_choices;
  SourceLoc settings_loc;
  SourceLoc loc;
};

struct MappingSpec {
  std::string name;
  std::string description;
  std::string file;
  std::string arch;  // paths resolved against the mapping file's folder
  std::string workload;
  std::string backing = "dram";
  std::string buffer = "glb";
  std::vector<GroupSpec> groups;
  SourceLoc groups_loc;
  // Made by unconstrained(): a group fused of several (fused()) leaves its pipelining to the mapper too.
  bool pipeline_when_fused = false;
  // Constraints that are a choice among other constraints files (FLAT's scores kept in the buffer, or spilled to
  // DRAM with passes of their own): `einsim map` and sweeps' `constraints:` map each and keep the best. Such a
  // file has nothing else (no arch, workload or groups); paths resolved against its folder.
  std::vector<std::string> alternatives;
  SourceLoc alternatives_loc;
  // Workload params the mapping sets (FuseMax's block of keys, M0 = 256, the rows of its 256 x 256 array): over
  // the workload's own and its presets', under --set. Name, value text, as written.
  std::vector<std::pair<std::string, std::string>> params;
  // Constraints for `einsim map`: params given a list of values (`M0: [128, 256, 512]`), every combination of
  // which is searched (the cascade bound to each). A mapping to evaluate gives one value.
  std::vector<std::pair<std::string, std::vector<std::string>>> param_choices;
  SourceLoc params_loc;
};

// The workload overrides a mapping's design point binds its cascade with: its `params:` under `user`'s.
WorkloadOverrides with_mapping_params(const MappingSpec& m, WorkloadOverrides user);
// `m` with the workload params `o` binds pinned in its `params:` (its presets', then its own, as written; those
// `cascade`'s workload has, and dtype): what a mapper writes beside a search, so that the mapping evaluates at the
// params searched unless told otherwise.
MappingSpec with_params_bound(MappingSpec m, const WorkloadOverrides& o, const Cascade& cascade);

MappingSpec load_mapping(const std::string& file);
// A group's `cores:` as a constraints file's `cores: auto` lists its values ("[b, kh]"; "[]" for none), and back.
std::string format_spread(const std::vector<std::string>& indices);
std::vector<std::string> parse_spread(const std::string& text);
// What `cores: auto` lets a group with these loops spread: none, the first, the first two, ... of its loops in the
// backing memory (each index once), as format_spread writes them.
std::vector<std::string> cores_choices(const std::vector<LoopSpec>& loops);
// What `passes: auto` lets a group with these Einsums (in order) run: every way to cut them into consecutive passes,
// the fewest cuts first, each as format_passes writes it ("[QK, GM] [SN, SD] [A, AV]").
std::vector<std::string> pass_choices(const std::vector<std::string>& einsums);
std::string format_passes(const std::vector<PassSpec>& passes);
// `g` (passes: auto, its Einsums in one pass) cut into the passes `value` lists (one of pass_choices), each running
// the group's pass_loops; its pass_loops cleared.
void cut_into_passes(GroupSpec& g, const std::string& value);
// A UserError when `m` lists alternatives: a mapping to evaluate is one of them, chosen (einsim map -o writes it).
void require_one_mapping(const MappingSpec& m);

// What a constraints file leaves open, chosen (the mapper's choice): a value for each `auto` tile, an order for
// each list of loops `order: auto` leaves open (positions in the written order) and a unit for each Einsum whose
// unit is `auto`, as the mapper lists them.
struct MapChoice {
  std::vector<int64_t> tiles;
  std::vector<std::vector<size_t>> orders;
  std::vector<size_t> units;  // for each Einsum whose unit is `auto`, as the mapper lists them: its unit_choices
  std::vector<std::pair<std::string, std::string>> params;  // a value for each of `param_choices`, in its order
  // Groups fused (the mapper's search of fusion, on constraints it made itself: fused() in
  // mappings/unconstrained.hpp): the sizes of the runs of consecutive groups merged into one, the tiles, orders and
  // units above those of the fused mapping; empty: the groups as they are.
  std::vector<size_t> groups;
  bool empty() const { return tiles.empty() && orders.empty() && units.empty() && params.empty() && groups.empty(); }
};

// An expected-invalid design point is a value, not an exception.
struct EvalStatus {
  bool ok = true;
  std::string reason;
};

}  // namespace einsim
