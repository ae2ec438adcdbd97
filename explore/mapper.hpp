#pragma once
// The mapper: given constraints, a mapping whose groups and passes are fixed and some of whose loop tiles say
// `auto`, groups `order: auto` and Einsums `unit: auto`, finds the choice that minimizes the objective under the
// analytical model. The space is every combination of each searched Einsum's units, each searched list's orders
// and each searched index's tiles; it is searched exhaustively, in a fixed order, so the answer is the exact
// optimum of that space and the same on every run. Infeasible combinations (a tile that does not divide the
// tile around it, a buffer too small, a unit without the Einsum's ops) are counted, not evaluated.
#include <cstdint>
#include <optional>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "arch/spec.hpp"
#include "mappings/spec.hpp"
#include "mappings/spec_cache.hpp"
#include "mappings/unconstrained.hpp"
#include "sim/stats.hpp"
#include "workloads/cascade.hpp"

namespace einsim {

enum class MapObjective { latency, energy, edp };
std::string_view objective_name(MapObjective o);

struct MapOptions {
  MapObjective objective = MapObjective::latency;
  int top = 5;                         // candidates kept, best first
  // A larger space is refused (pin some tiles) rather than searched for hours. Unset: 50,000,000 where branch and
  // bound prunes (objective latency without a front: most combinations are counted, not lowered; FuseMax's 1-pass
  // attention unconstrained, 37.8 million, takes 12.8 s), 2,000,000 where every feasible one is evaluated.
  std::optional<int64_t> max_candidates;
  int64_t space_limit() const;
  // Tiles that do not divide their index too (ragged, the last tile partial): each `auto` tile takes, for every
  // number of tiles k, the smallest tile that covers the index in k, ceil(extent / k) (every divisor is one).
  bool ragged = false;
  // Also keep the Pareto front of latency against energy: every candidate no other is both faster than (or as
  // fast) and as frugal as (MapResult::pareto).
  bool pareto = false;
  int jobs = 1;  // threads; the answer and the certificate are the same for any number
  // Seconds after which the search stops (0: none): the best found so far, with a lower bound on what the rest
  // could have found. A space larger than space_limit() is searched too, until then.
  double time_limit_s = 0;
};

// A loop whose tile the mapper chooses: where it is, and the values it may take.
struct SearchedTile {
  std::string group;
  std::string index;
  bool buffer_level = false;
  SourceLoc loc;
  std::vector<int64_t> values;  // the divisors of the index's extent (or with ragged tiles, see MapOptions), ascending
};

// A list of loops whose order the mapper chooses (a group's `order: auto`): one memory level of the group's own
// loops or of one of its passes'. Loops over one index keep their order (an inner loop splits the outer's tile).
// Loops that every tensor access and Einsum of the group uses both or neither of (batch and head in attention)
// give the same counts in either order when next to each other: only one of such orders is listed.
struct SearchedOrder {
  std::string group;
  int pass = -1;  // -1: the group's own loops
  bool buffer_level = false;
  std::vector<std::string> indices;         // as written
  std::vector<std::vector<size_t>> orders;  // each a list of positions in the written order; the first as written
};

// An Einsum whose unit the mapper chooses (`unit: auto`): the units it may take, as listed.
struct SearchedBinding {
  std::string group;
  std::string einsum;
  std::vector<std::string> units;
};

// A group's setting whose value the mapper chooses (`pipeline: auto`, `buffer_stages: [1, 2, 3]`, a tensor's
// `spill: auto`, `cores: auto`): searched with the group's run, as its units and orders are. `cores: auto` in a
// group whose order is `auto` too spreads that many of the first loops of the order chosen (the value names them).
struct SearchedSetting {
  std::string group;
  std::string name;                 // as a choice names it: "attention.buffer_stages", "z.cores"
  std::vector<std::string> values;  // as listed
};

struct MapCandidate {
  // A tile per SearchedTile, an order (of SearchedOrder::orders) per SearchedOrder, a unit (an index into
  // SearchedBinding::units) per SearchedBinding, and in choice.params a value per SearchedSetting (after the
  // workload params the search was bound to, where the constraints list some).
  MapChoice choice;
  Stats stats;
  double score = 0;  // the objective: cycles, pJ, or cycles x pJ
};

// A fused group the search of fusion considered (map_fused): groups [first, last) of the constraints merged.
struct SearchedSegment {
  size_t first = 0, last = 0;
  std::string name;
  double space = 0;           // its combinations
  bool searched = false;      // false: not fusable (`unfusable`), or more combinations than the mapper searches
  bool descended = false;     // searched by descent over its bindings (too many to search all, under a time limit)
  std::string unfusable;      // why its groups cannot be fused, if they cannot
  std::optional<Stats> best;  // its best when it was searched and something was feasible
};

struct MapResult {
  std::vector<SearchedTile> searched;
  std::vector<SearchedOrder> orders;
  std::vector<SearchedBinding> bindings;
  std::vector<SearchedSetting> settings;
  // Up to MapOptions::top, best first; ties go to the lower energy (objective latency) or the fewer cycles
  // (energy, edp), then to the earlier combination.
  std::vector<MapCandidate> best;
  // With MapOptions::pareto, the candidates no other matches or beats in both cycles and energy, fewest cycles
  // first (of equal figures, the earlier in the space). Empty when the runs' figures do not add up (see below).
  std::vector<MapCandidate> pareto;
  // The certificate: every combination was considered; those not evaluated were infeasible for the reason counted.
  // With runs > 1 each run of groups was searched on its own (its own combinations counted, `space` is their
  // product): runs follow one another, so the best of each is part of the best of the whole.
  int runs = 1;
  double space = 1;
  int64_t combinations = 0;
  int64_t not_dividing = 0;  // an inner tile of an index that does not divide its outer tile
  int64_t infeasible = 0;    // refused by lowering (a buffer too small, ...)
  int64_t evaluated = 0;
  // Branch and bound: combinations not evaluated because a lower bound on them exceeded the top-th best score found
  // (their binding's compute or energy floor or roofline, their tiles' compute floor, or once lowered their memory
  // roofline, or their actions' energy), and with a Pareto front, a point found before covered their bounds too.
  int64_t pruned = 0;
  // Combinations that are an earlier one's mapping: their orders differ only in where loops of one iteration sit (a
  // group's outermost loop over an index whose tile is the whole index), so they move and repeat the same; counted,
  // not lowered.
  int64_t equivalent = 0;
  // Shapes (a value per searched setting, a unit per searched Einsum and an order per searched list) in the space, and
  // those searched: fewer when the time limit stopped the search.
  int64_t shapes = 0, shapes_searched = 0;
  // Bindings a descent visited (map_fused's fused groups with more combinations than the mapper searches, under a
  // time limit): their searches' counts are above, and the best is a local optimum, not proven.
  int64_t bindings_descended = 0;
  bool complete() const { return shapes_searched == shapes && bindings_descended == 0; }
  // No mapping of the space scores lower. A complete search's is its best's; one the time limit stopped takes the
  // least, among the bindings it did not search, of each one's floor in the objective (for latency its compute
  // floor, its compute roofline or the traffic floor, whichever is higher; for energy its energy floor), each run's
  // summed.
  double lower_bound = 0;
  // The cycles no mapping of the space is below for the bytes that must cross the backing memory's path: each
  // tensor read or needed whole once, at the path's bandwidth (each run's, summed; 0 where not counted).
  double traffic_floor = 0;
  std::string first_infeasible_reason;  // when nothing was feasible, why the first combination was not
  // The search of fusion (map_fused): every fused group considered, the ways to fuse the groups that the
  // segments searched make, and the sizes of the fused groups chosen (`searched`, `orders` and `bindings` above
  // are the fused mapping's). Empty when fusion was not searched.
  std::vector<SearchedSegment> segments;
  double ways_to_fuse = 0;
  std::vector<size_t> fused_groups;
};

// Whether `a` ranks before `b`: the lower score, or of equal scores the lower secondary objective (energy for
// latency, cycles otherwise); the mapper's ranking, used between alternatives.
bool better(const MapCandidate& a, const MapCandidate& b, MapObjective objective);

// A lower bound on the cycles of groups [first, last) of mapping `m` (its units and spatial maps bound) that no order,
// tile or setting changes: for each unit, its Einsums' work (their points at the busiest function unit's issue
// cycles, as the compute roofline counts it) at the most ops a cycle their spatial maps let it start
// (ComputeRole::rate_when_spread: a dimension holds at most the product of the extents of the indices mapped to it),
// every copy of it on every device busy; the largest of the units'. A where clause's kept points count (a tile that
// runs takes its full time); a guarded Einsum, one its unit cannot run and a group placed on a PIM count nothing.
int64_t compute_floor(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& m, size_t first, size_t last);

// A lower bound on the energy (pJ) of groups [first, last) of mapping `m` (its units bound) that no order, tile or
// setting changes: the ops of each Einsum compute_floor counts at its unit's energy per op (with the register
// file's reads of its operands and write of its result), and the compulsory traffic (each tensor the run reads whole
// from outside it loaded once, each it writes whole and is needed after it stored once) at the backing memory's
// energy per byte. Buffers, the path's per-transfer energy (a bank-level DRAM's activations) and time's (refresh)
// count nothing: a bound, not the energy.
double energy_floor(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& m, size_t first, size_t last);

// The values candidate `c` of search `r` took for the settings it searched (SearchedSetting), by name.
std::vector<std::pair<std::string, std::string>> chosen_settings(const MapResult& r, const MapCandidate& c);

// The loops of `templ` whose tile is `auto`, with their candidate values for `cascade`.
std::vector<SearchedTile> searched_tiles(const Cascade& cascade, const MappingSpec& templ, bool ragged = false);

// Searches the `auto` tiles of `templ`. A template without any is evaluated as it is (one combination). No
// feasible combination is a MapResult with empty `best` (and the first reason); a space larger than
// options.space_limit() is a UserError.
MapResult map_tiles(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& templ, const MapOptions& options);

// Searches how to fuse the groups of `templ` (constraints as unconstrained() makes them, or a user's: groups of one
// pass that run one after another) as well as each fused group's units, orders and tiles: every way to cut the
// groups into runs of consecutive groups, at most `max_fused` long, each run fused into one group (fused()); runs
// whose groups are unfusable are left out. A fused group's
// figures do not depend on how the groups around it are fused, and the figures of groups that run one after another
// add, so each fused group is searched once, on its own, and the best way to fuse found from theirs (each way's
// best is the sum of its fused groups' best): the optimum of the whole space, which is the sum over the ways of the
// product of their groups' spaces. A fused group with more combinations than options.space_limit() is left out
// (r.segments says which) unless a time limit is given; the groups alone (max_fused 1) is map_tiles. The
// candidates are those of the best way to fuse (choice.groups gives it). Latency or energy: the energy-delay
// product does not add (a UserError).
MapResult map_fused(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& templ, const MapOptions& options,
                    size_t max_fused);

// The lists of loops of `templ` whose order is `auto`, with every order they may take on `cascade`.
std::vector<SearchedOrder> searched_orders(const Cascade& cascade, const MappingSpec& templ);

// The Einsums of `templ` whose unit is `auto`, with the units each may take.
std::vector<SearchedBinding> searched_bindings(const MappingSpec& templ);
// The groups' settings of `templ` left to the mapper, with the values each may take, group by group.
std::vector<SearchedSetting> searched_settings(const MappingSpec& templ);
// "the values of N settings", for the summaries of a search; empty when none was searched.
std::string settings_searched(const std::vector<SearchedSetting>& settings);
// "the units of N Einsums" (or "the units and spatial maps of ...", where a unit is listed with several maps), for
// the summaries of a search; empty when none was searched.
std::string bindings_searched(const std::vector<SearchedBinding>& bindings);
// How far a search a time limit stopped got: "after 8 of 2880 shapes (settings, units and orders)", with " and
// descents over 369 bindings" where some runs were searched by descent ("after descents over ..." where all were);
// `number` writes the counts.
std::string stopped_after(
    const MapResult& r, std::string (*number)(int64_t) = [](int64_t n) { return std::to_string(n); });

// The template with its `auto` tiles set to choice.tiles (one per searched tile, in searched_tiles' order), the
// loops of searched_orders' i-th list in order choice.orders[i], and the i-th `auto` unit of searched_bindings set
// to its choice.units[i]-th unit (with that unit's spatial map); choice.params, when given, pin the params and
// settings the template lists to those values (with_params).
MappingSpec with_choice(const MappingSpec& templ, const MapChoice& choice);

// Every combination of the values the constraints' `params:` lists for workload params (one empty combination when
// it lists none), the first param's values outermost. The mapper binds the cascade to each and searches each on
// its own (the groups' settings are searched within: SearchedSetting); a candidate's choice.params says which it
// was searched with.
std::vector<std::vector<std::pair<std::string, std::string>>> param_combinations(const MappingSpec& templ);

// The template with each of `params`, a workload param ("M0") or a group's setting ("attention.pipeline") it lists,
// pinned to the value given, which must be one it lists (for `cores: auto`, the loops that many of the group's
// first loops are); those not given stay listed. One it already holds may be given again.
MappingSpec with_params(const MappingSpec& templ, const std::vector<std::pair<std::string, std::string>>& params);
// An error's message without the source excerpt under it: what a table cell or a list of reasons shows.
std::string first_line(const std::string& text);
// The params as a JSON object, and as a label for tables and messages ("M0=256", after the file when named).
nlohmann::ordered_json params_json(const std::vector<std::pair<std::string, std::string>>& params);
std::string params_label(const std::string& file, const std::vector<std::pair<std::string, std::string>>& params,
                         bool name_file);

// What a sweep part that names constraints evaluates: the best for latency (map_tiles' first). A UserError at the
// constraints file when no combination is feasible, saying why the first was not.
MapChoice best_choice(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& templ, bool ragged = false);
std::string no_feasible_mapping(const MapResult& r);  // that error's message

// What a sweep part that names constraints evaluates: `in` with the mapper's choice for latency (best_choice's),
// and where the constraints list alternatives, `mapping` the alternative whose best has the fewest cycles (ties to
// the lower energy, then to the earlier in the list); with the search (search_json of the chosen alternative, its
// `top` best and the Pareto front, and each alternative's best). A UserError at the constraints when none has a
// feasible combination, saying why for each.
ChosenMapping choose_mapping(const SpecInputs& in, SpecCache& specs, int top = 5);

// `chosen` re-ranked at cycle level (a sweep part's `rerank_cycle: K`): each of its K best simulated by `simulate`
// (a worker process; its cycles, or empty when the simulation failed), the fewest cycles kept (ties to the better
// analytical rank); the search records each figure and the rank kept. The same choice when none simulates.
ChosenMapping reranked(ChosenMapping chosen, int k,
                       const std::function<std::optional<int64_t>(const SpecInputs&)>& simulate);

// A search as JSON, what `einsim map --json` prints and a sweep saves beside each point's mapping: the certificate,
// the loops searched, and each candidate (`top`, ranked, and with options.pareto the `pareto` front) with its
// choice, figures (cycles, energy, bound, utilization per unit, traffic per memory) and loop nest.
nlohmann::ordered_json search_json(const MappingSpec& templ, const MapResult& r, const MapOptions& options);

// Candidate `candidate` (0: the best) as a mapping file written at `out_file` (arch and workload paths relative to
// its folder), under a header saying how it was found.
std::string mapped_yaml(const std::string& template_file, const std::string& out_file, const MapResult& result,
                        const MapOptions& options, size_t candidate = 0);
// The same from a template in memory (the constraints unconstrained() makes), `source` saying how it was given.
std::string mapped_yaml(const MappingSpec& templ, const std::string& source, const std::string& out_file,
                        const MapResult& result, const MapOptions& options, size_t candidate = 0);

}  // namespace einsim
