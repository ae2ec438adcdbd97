#include "explore/mapper.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "mappings/lower.hpp"
#include "sim/analytical.hpp"

namespace einsim {

std::string_view objective_name(MapObjective o) {
  switch (o) {
    case MapObjective::latency:
      return "latency";
    case MapObjective::energy:
      return "energy";
    case MapObjective::edp:
      return "edp";
  }
  return "?";
}

namespace {

// Where a searched loop sits in a MappingSpec: its group, its pass (-1: the group's own loops) and its position.
struct LoopAddress {
  size_t group = 0;
  int pass = -1;
  size_t loop = 0;
};

template <class Spec>  // MappingSpec or const MappingSpec
auto& loop_at(Spec& m, const LoopAddress& a) {
  auto& g = m.groups[a.group];
  return a.pass < 0 ? g.loops[a.loop] : g.passes[static_cast<size_t>(a.pass)].loops[a.loop];
}

void set_tile(LoopSpec& loop, int64_t tile) {
  loop.tile = std::to_string(tile);
  loop.tile_expr = parse_expression(loop.tile);
}

std::vector<LoopAddress> auto_loops(const MappingSpec& m) {
  std::vector<LoopAddress> out;
  for (size_t g = 0; g < m.groups.size(); ++g) {
    for (size_t l = 0; l < m.groups[g].loops.size(); ++l)
      if (m.groups[g].loops[l].tile == "auto") out.push_back({g, -1, l});
    for (size_t p = 0; p < m.groups[g].passes.size(); ++p)
      for (size_t l = 0; l < m.groups[g].passes[p].loops.size(); ++l)
        if (m.groups[g].passes[p].loops[l].tile == "auto") out.push_back({g, static_cast<int>(p), l});
  }
  return out;
}

std::vector<int64_t> divisors(int64_t n) {
  std::vector<int64_t> small, large;
  for (int64_t d = 1; d * d <= n; ++d)
    if (n % d == 0) {
      small.push_back(d);
      if (d != n / d) large.push_back(n / d);
    }
  small.insert(small.end(), large.rbegin(), large.rend());
  return small;
}

// The smallest tile for each number of tiles that covers n: ceil(n / k) for k = 1..n, ascending.
std::vector<int64_t> tiles_by_count(int64_t n) {
  std::vector<int64_t> out;
  for (int64_t k = n; k >= 1;) {
    const int64_t tile = (n + k - 1) / k;
    out.push_back(tile);
    k = (n + tile - 1) / tile - 1;  // the counts from ceil(n / tile) up all fit in tiles of `tile`
  }
  return out;
}

double score_of(const Stats& s, MapObjective o) {
  switch (o) {
    case MapObjective::latency:
      return static_cast<double>(s.cycles);
    case MapObjective::energy:
      return s.energy_pJ;
    case MapObjective::edp:
      return static_cast<double>(s.cycles) * s.energy_pJ;
  }
  return 0;
}

// What decides between equal scores: the energy for latency, the cycles otherwise (so that of two equally fast
// mappings the one that moves less data wins, not whichever the space lists first). It adds over runs as well.
double tie_break_of(const Stats& s, MapObjective o) {
  return o == MapObjective::latency ? s.energy_pJ : static_cast<double>(s.cycles);
}

}  // namespace

std::vector<SearchedTile> searched_tiles(const Cascade& cascade, const MappingSpec& templ, bool ragged) {
  std::vector<SearchedTile> out;
  for (const LoopAddress& a : auto_loops(templ)) {
    const LoopSpec& loop = loop_at(templ, a);
    int64_t extent = 0;
    for (const Einsum& e : cascade.einsums)
      for (const Var& v : e.vars)
        if (v.name == loop.index) extent = v.extent;
    if (extent <= 0)
      throw UserError(loop.loc.file.empty() ? SourceLoc{templ.file} : loop.loc, "tile",
                      fmt::format("auto: '{}' is not an index of the workload's Einsums", loop.index));
    out.push_back({templ.groups[a.group].name, loop.index, loop.buffer_level, loop.loc,
                   ragged ? tiles_by_count(extent) : divisors(extent)});
  }
  return out;
}

namespace {

// A run of groups: the first group and those after it that run with it (`concurrent`). Runs follow one another,
// so a mapping's cycles are the sum of its runs' and its energy the sum of their actions: the tiles of each run
// can be chosen on their own.
struct Run {
  size_t first = 0, last = 0;  // groups [first, last)
  size_t from = 0, to = 0;     // its searched tiles [from, to) (auto_loops lists them group by group)
};

std::vector<Run> runs_of(const MappingSpec& m, const std::vector<LoopAddress>& where) {
  std::vector<Run> runs;
  for (size_t g = 0; g < m.groups.size(); ++g)
    if (runs.empty() || !m.groups[g].concurrent)
      runs.push_back({g, g + 1, 0, 0});
    else
      runs.back().last = g + 1;
  for (Run& run : runs) {
    run.from = run.to = static_cast<size_t>(
        std::find_if(where.begin(), where.end(), [&](const LoopAddress& a) { return a.group >= run.first; }) -
        where.begin());
    while (run.to < where.size() && where[run.to].group < run.last) ++run.to;
  }
  return runs;
}

// One combination of a range of searched tiles, as the search ranks it.
struct Partial {
  std::vector<size_t> digits;  // an index into each tile's values
  std::vector<int64_t> tiles;
  Stats stats;
  double score = 0;
  double tie_break = 0;  // tie_break_of
  std::pair<double, double> rank() const { return {score, tie_break}; }
};

// Every combination of the searched tiles [from, to), evaluated on the groups [first, last): the `top` best,
// best first (ties: the secondary objective, then the earlier combination). The counts go to the certificate in `r`.
std::vector<Partial> search(const Cascade& cascade, const ArchSpec& arch, MappingSpec& m,
                            const std::vector<LoopAddress>& where, size_t from, size_t to, size_t first, size_t last,
                            const MapOptions& options, MapResult& r) {
  const size_t n = to - from;
  // A searched tile's searched outer tiles: the same index further out in the same group's nest.
  std::vector<std::vector<size_t>> outer(n);
  for (size_t k = 0; k < n; ++k)
    for (size_t j = 0; j < k; ++j)
      if (where[from + j].group == where[from + k].group && r.searched[from + j].index == r.searched[from + k].index)
        outer[k].push_back(j);

  std::vector<Partial> best;
  std::vector<size_t> digit(n, 0);
  std::vector<int64_t> tiles(n);
  for (bool more = true; more; ++r.combinations) {
    for (size_t k = 0; k < n; ++k) tiles[k] = r.searched[from + k].values[digit[k]];
    bool divides = true;
    for (size_t k = 0; k < n && divides; ++k)
      for (size_t j : outer[k]) divides = divides && tiles[j] % tiles[k] == 0;
    if (!divides) {
      ++r.not_dividing;
    } else {
      for (size_t k = 0; k < n; ++k) set_tile(loop_at(m, where[from + k]), tiles[k]);
      const TileProgram program = lower_groups(cascade, arch, m, first, last);
      // Lowering refuses what cannot run (a buffer too small); the evaluator what it cannot count.
      Stats stats = program.status.ok ? evaluate_analytical(cascade, arch, program) : Stats{};
      const EvalStatus& status = program.status.ok ? stats.status : program.status;
      if (!status.ok) {
        ++r.infeasible;
        if (r.first_infeasible_reason.empty()) r.first_infeasible_reason = status.reason;
      } else {
        ++r.evaluated;
        const std::pair<double, double> rank{score_of(stats, options.objective),
                                             tie_break_of(stats, options.objective)};
        // Best first; among equal ranks the earlier combination stays ahead (upper_bound), so the answer
        // does not depend on anything but the order of the space.
        const auto at =
            std::upper_bound(best.begin(), best.end(), rank,
                             [](const std::pair<double, double>& x, const Partial& b) { return x < b.rank(); });
        if (static_cast<int>(at - best.begin()) < options.top) {
          best.insert(at, Partial{digit, tiles, std::move(stats), rank.first, rank.second});
          if (static_cast<int>(best.size()) > options.top) best.pop_back();
        }
      }
    }
    // The next combination: the last searched tile varies fastest.
    more = false;
    for (size_t k = n; k-- > 0;) {
      if (++digit[k] < r.searched[from + k].values.size()) {
        more = true;
        break;
      }
      digit[k] = 0;
    }
  }
  return best;
}

// The `top` best combinations of one choice per run, by the sum of the runs' scores (ties: the sum of their
// secondary objectives, then the earlier combination, the runs' digits read in order): a best-first walk from
// every run's best.
std::vector<std::vector<size_t>> best_sums(const std::vector<std::vector<Partial>>& per_run, int top) {
  using Choice = std::vector<size_t>;  // an index into each run's list
  auto sum = [&](const Choice& c) {
    std::pair<double, double> s{0, 0};
    for (size_t u = 0; u < c.size(); ++u) s.first += per_run[u][c[u]].score, s.second += per_run[u][c[u]].tie_break;
    return s;
  };
  auto digits = [&](const Choice& c) {
    std::vector<size_t> d;
    for (size_t u = 0; u < c.size(); ++u)
      d.insert(d.end(), per_run[u][c[u]].digits.begin(), per_run[u][c[u]].digits.end());
    return d;
  };
  // (sums, digits): ordered as the search ranks them
  std::set<std::pair<std::pair<double, double>, std::vector<size_t>>> frontier;
  std::map<std::vector<size_t>, Choice> choice_of;            // digits -> the choice
  auto push = [&](const Choice& c) {
    std::vector<size_t> d = digits(c);
    if (choice_of.emplace(d, c).second) frontier.emplace(sum(c), std::move(d));
  };
  std::vector<std::vector<size_t>> out;
  push(Choice(per_run.size(), 0));
  while (!frontier.empty() && static_cast<int>(out.size()) < top) {
    const auto next = frontier.begin();
    const Choice c = choice_of.at(next->second);
    frontier.erase(next);
    out.push_back(c);
    for (size_t u = 0; u < c.size(); ++u)
      if (c[u] + 1 < per_run[u].size()) {
        Choice d = c;
        ++d[u];
        push(d);
      }
  }
  return out;
}

}  // namespace

MapResult map_tiles(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& templ, const MapOptions& options) {
  MapResult r;
  r.searched = searched_tiles(cascade, templ, options.ragged);
  const std::vector<LoopAddress> where = auto_loops(templ);
  const size_t n = r.searched.size();
  const std::vector<Run> runs = runs_of(templ, where);

  r.space = 1;
  for (const SearchedTile& s : r.searched) r.space *= static_cast<double>(s.values.size());
  // Latency and energy add over runs, so each run's tiles are searched on their own; the energy-delay product
  // does not, so it searches the whole space.
  const size_t searched_runs =
      static_cast<size_t>(std::count_if(runs.begin(), runs.end(), [](const Run& run) { return run.to > run.from; }));
  const bool by_run = options.objective != MapObjective::edp && searched_runs > 1;
  double considered = by_run ? 0 : r.space;
  if (by_run)
    for (const Run& run : runs) {
      double space = 1;
      for (size_t k = run.from; k < run.to; ++k) space *= static_cast<double>(r.searched[k].values.size());
      considered += space;
    }
  if (considered > static_cast<double>(options.max_candidates))
    throw UserError(SourceLoc{templ.file}, "tile",
                    fmt::format("auto: {:.3g} combinations of tiles, more than the mapper searches ({}): give some "
                                "of the {} auto tiles a value",
                                considered, options.max_candidates, n));

  MappingSpec m = templ;
  auto search_whole = [&] {
    r.runs = 1;
    for (Partial& p : search(cascade, arch, m, where, 0, n, 0, templ.groups.size(), options, r))
      r.best.push_back(MapCandidate{std::move(p.tiles), std::move(p.stats), p.score});
    return r;
  };
  if (!by_run) return search_whole();

  r.runs = static_cast<int>(runs.size());
  std::vector<std::vector<Partial>> per_run;
  for (const Run& run : runs) {
    per_run.push_back(search(cascade, arch, m, where, run.from, run.to, run.first, run.last, options, r));
    if (per_run.back().empty()) return r;  // this run cannot be mapped, so neither can the whole
  }
  // The best combinations of the runs' best, each evaluated whole: its figures are the sum of its runs'.
  for (const std::vector<size_t>& choice : best_sums(per_run, options.top)) {
    MapCandidate c;
    double parts = 0;
    for (size_t u = 0; u < runs.size(); ++u) {
      const Partial& p = per_run[u][choice[u]];
      c.tiles.insert(c.tiles.end(), p.tiles.begin(), p.tiles.end());
      parts += p.score;
      for (size_t k = runs[u].from; k < runs[u].to; ++k) set_tile(loop_at(m, where[k]), p.tiles[k - runs[u].from]);
    }
    const TileProgram program = lower(cascade, arch, m);
    c.stats = evaluate_analytical(cascade, arch, program);
    c.score = score_of(c.stats, options.objective);
    if (!program.status.ok || !c.stats.status.ok || std::abs(c.score - parts) > 1e-9 * std::max(1.0, std::abs(parts))) {
      // A figure that does not add over runs (a bank-level DRAM's refreshes count whole refresh intervals of the
      // whole run): the runs cannot be searched apart, so the whole space is, if it is small enough.
      if (r.space > static_cast<double>(options.max_candidates))
        throw UserError(
            SourceLoc{templ.file}, "tile",
            fmt::format("auto: the {} of the runs of groups does not add up to the whole's ({:.6g} "
                        "apart, {:.6g} together), so the mapper searches every combination at once: "
                        "{:.3g}, more than it searches ({}); give some of the {} auto tiles a value",
                        objective_name(options.objective), parts, c.score, r.space, options.max_candidates, n));
      MapResult fresh;
      fresh.searched = std::move(r.searched);
      fresh.space = r.space;
      r = std::move(fresh);
      m = templ;
      return search_whole();
    }
    r.best.push_back(std::move(c));
  }
  return r;
}

MappingSpec with_tiles(const MappingSpec& templ, const std::vector<int64_t>& tiles) {
  const std::vector<LoopAddress> where = auto_loops(templ);
  if (where.size() != tiles.size())
    throw UserError(SourceLoc{templ.file}, "tile",
                    fmt::format("auto: {} tiles given for the {} auto tiles", tiles.size(), where.size()));
  MappingSpec m = templ;
  for (size_t k = 0; k < where.size(); ++k) set_tile(loop_at(m, where[k]), tiles[k]);
  return m;
}

std::string no_feasible_mapping(const MapResult& r) {
  return fmt::format(
      "no feasible mapping among {} combinations of the auto tiles ({} with an inner tile not "
      "dividing its outer one, {} infeasible{})",
      r.combinations, r.not_dividing, r.infeasible,
      r.first_infeasible_reason.empty() ? "" : ": first, " + r.first_infeasible_reason);
}

std::vector<int64_t> best_tiles(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& templ) {
  MapOptions options;
  options.top = 1;
  const MapResult r = map_tiles(cascade, arch, templ, options);
  if (r.best.empty()) throw UserError(SourceLoc{templ.file}, "", no_feasible_mapping(r));
  return r.best.front().tiles;
}

std::string mapped_yaml(const std::string& template_file, const std::string& out_file, const MapResult& result,
                        const MapOptions& options, size_t candidate) {
  const MapCandidate& chosen = result.best.at(candidate);
  namespace fs = std::filesystem;
  std::vector<std::string> lines;
  {
    std::ifstream in(template_file);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  // Each `auto` replaced at its loop's place, from the end of a line back so earlier columns stay put.
  std::vector<size_t> order(result.searched.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const SourceLoc &x = result.searched[a].loc, &y = result.searched[b].loc;
    return std::pair(x.line, x.col) > std::pair(y.line, y.col);
  });
  for (size_t k : order) {
    const SourceLoc& loc = result.searched[k].loc;
    if (loc.line < 1 || static_cast<size_t>(loc.line) > lines.size()) continue;
    std::string& line = lines[static_cast<size_t>(loc.line - 1)];
    const size_t at = line.find("auto", static_cast<size_t>(std::max(loc.col - 1, 0)));
    if (at != std::string::npos) line.replace(at, 4, std::to_string(chosen.tiles[k]));
  }
  // The arch and workload, as the template resolved them, relative to where the mapping is written.
  const fs::path from = fs::absolute(fs::path(template_file)).parent_path();
  const fs::path to = fs::absolute(fs::path(out_file)).parent_path();
  static const std::regex path_line(R"(^(arch|workload):(\s*)(\S+)(.*)$)");
  for (std::string& line : lines) {
    std::smatch m;
    if (!std::regex_match(line, m, path_line)) continue;
    const fs::path target = (from / m[3].str()).lexically_normal();
    line = m[1].str() + ":" + m[2].str() + target.lexically_relative(to).generic_string() + m[4].str();
  }

  std::ostringstream out;
  out << fmt::format("# Found by `einsim map --constraints {}{}` (objective: {}).\n", template_file,
                     options.ragged ? " --ragged" : "", objective_name(options.objective));
  const char* candidates = options.ragged ? "tiles (the smallest for each number of tiles)" : "divisors";
  if (result.runs > 1)
    out << fmt::format(
        "# Each of the {} runs of groups on its own (their times add), every combination of the {} of\n"
        "# its tiles ({} tiles left to the mapper): {} in all, {} with an\n",
        result.runs, candidates, result.searched.size(), result.combinations, result.not_dividing);
  else
    out << fmt::format("# Every combination of the {} of the {} tiles left to the mapper: {} in all, {} with an\n",
                       candidates, result.searched.size(), result.combinations, result.not_dividing);
  out << fmt::format("# inner tile not dividing its outer one, {} infeasible, {} evaluated analytically.\n",
                     result.infeasible, result.evaluated);
  out << fmt::format(
      "# {}: {} cycles, {:.6g} pJ.\n",
      candidate == 0 ? std::string("The best") : fmt::format("Candidate {} of the analytical ranking", candidate + 1),
      chosen.stats.cycles, chosen.stats.energy_pJ);
  // The constraints' own opening comments describe the constraints, not this mapping: they are left out.
  size_t first = 0;
  while (first < lines.size() && (lines[first].empty() || lines[first].starts_with("#"))) ++first;
  for (size_t i = first; i < lines.size(); ++i) out << lines[i] << '\n';
  return out.str();
}

}  // namespace einsim
