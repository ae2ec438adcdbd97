#pragma once
// The one Stats schema both evaluators emit (names are stable: sweeps and reports key on them).
#include <cstdint>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "mappings/spec.hpp"
#include "workloads/analysis.hpp"

namespace einsim {

struct EinsumStats {
  std::string unit;
  int64_t cycles = 0;      // busy cycles of its unit
  double utilization = 0;  // work / (cycles x the unit's PEs or lanes)
  OpCounts ops;
};

// One group of the mapping: how long it ran (from its first operation to its last; groups that run together
// overlap), on how many cores (1 on a chip without cores) and devices (a collective's: those it runs between).
struct GroupStats {
  int64_t cycles = 0;
  int64_t cores = 1;
  int64_t devices = 1;
  int64_t buffer_stages = 2;  // its tensors' tiles in the buffer at a time (`buffer_stages: fit`: the most that fit);
                              // 0 for a collective, which stages none
};

struct Traffic {
  int64_t read = 0;  // bytes
  int64_t write = 0;
};

// Where a `place: auto` group ran and why: its Op/B (ops, a MAC counting 2, per byte from DRAM) against each
// candidate's ridge (peak ops per byte of its path's bandwidth), and each candidate's roofline time.
struct PlaceRoofline {
  double ridge_op_per_byte = 0;
  double roofline_s = 0;
};
struct PlacementStats {
  std::string place;
  double op_per_byte = 0;
  std::map<std::string, PlaceRoofline> options;
};

// How closely an evaluator models the hardware; its name is what Stats and results print.
enum class Fidelity { analytical, cycle };
std::string_view fidelity_name(Fidelity f);
std::optional<Fidelity> parse_fidelity(std::string_view name);

struct Stats {
  Fidelity fidelity = Fidelity::analytical;
  EvalStatus status;
  int64_t cycles = 0;
  double latency_s = 0;
  double energy_pJ = 0;
  double area_mm2 = 0;
  // What the backing memory holds for the point on each device (TileProgram::footprint_bytes).
  int64_t footprint_bytes = 0;
  std::map<std::string, double> utilization;     // unit -> fraction of its PEs busy over the whole run
  std::map<std::string, int64_t> busy_cycles;    // unit -> cycles with work
  std::map<std::string, Traffic> traffic_bytes;  // memory level -> bytes
  std::map<std::string, EinsumStats> einsums;
  std::map<std::string, GroupStats> groups;           // the mapping's groups, by name
  std::map<std::string, PlacementStats> placements;   // group -> where it ran (groups with place: auto)
  std::map<std::string, double> energy_breakdown_pJ;  // component -> pJ
  std::map<std::string, std::map<std::string, double>>
      energy_by_action_pJ;                           // component -> action (mac, read, ...) -> pJ
  std::map<std::string, double> area_breakdown_mm2;  // components with an area figure
  int64_t roofline_compute_cycles = 0;
  int64_t roofline_memory_cycles = 0;
  std::string bound;  // what dominates: "memory", "compute (pe2d)", or on a many-core chip "network (noc)"
  // Cycle fidelity only: cycles each unit waited, by cause ("data": loads; "dependency": other units' results;
  // "buffer_port": all buffer ports taken; "buffer_bandwidth": operands streamed slower than computed), and
  // (cycle - analytical) / analytical.
  std::map<std::string, std::map<std::string, int64_t>> stall_cycles;
  std::optional<double> gap_vs_analytical;
  std::optional<int64_t> buffer_conflict_cycles;  // cycles jobs waited for a buffer port (all units)
};

// Every operation on a whole Stats below follows one description of its fields (sim/stats.cpp): the JSON key,
// the result column, and how the field combines over repeats and parts.
nlohmann::ordered_json to_json(const Stats& s);
Stats stats_from_json(const nlohmann::ordered_json& j);  // the inverse of to_json

// A flattened Stats field: an integer, a real, a text, or empty (an unset optional).
using Cell = std::variant<std::monostate, int64_t, double, std::string>;
using Row = std::vector<std::pair<std::string, Cell>>;

// Every Stats field as a column: cycles, energy_pJ, utilization_pe2d, traffic_dram_read, energy_glb_read_pJ,
// einsum_QK_cycles, stall_pe1d_data, ...; for each `place: auto` group, place_<group> (where it ran),
// place_<group>_op_per_byte and, per candidate, place_<group>_<candidate>_ridge_op_per_byte and _roofline_s.
// Names have every character other than a letter, a digit or '_' replaced by '_'.
Row flatten(const Stats& s);

// How people read the Stats (`einsim model` and `sim`): each field the schema labels, in schema order, as a cell
// of a table: headline figures (one row each), per compute unit, per component (memory levels and units), per
// Einsum. `kind` splits a cell that holds counts by kind (an Einsum's ops: mac, exp, ...).
enum class StatsTable { headline, unit, component, einsum, group };
enum class Show { text, count, counts, real, percent, signed_percent, seconds };
struct PrintedCell {
  StatsTable table;
  std::string row;     // headline: empty
  std::string column;  // the field's label
  std::string kind;    // Show::counts: the kind counted
  Cell value;
  Show show;
};
std::vector<PrintedCell> printed_cells(const Stats& s);

// A part's Stats when it runs `n` times in a row: counts, cycles and energies times n.
Stats repeated(const Stats& s, int64_t n);

// The Stats of a point whose parts run one after another: counts, cycles and energies add; utilization is
// weighted by cycles; area is the largest part's (one chip runs them all); Einsums and placements are named
// PART.NAME when there is more than one part. A point with an infeasible part is infeasible: the first such
// part's Stats, its reason prefixed with the part's name.
Stats add_parts(const std::vector<std::pair<std::string, Stats>>& parts);

}  // namespace einsim
