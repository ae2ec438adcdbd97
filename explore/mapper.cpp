#include "explore/mapper.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
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

}  // namespace

std::vector<SearchedTile> searched_tiles(const Cascade& cascade, const MappingSpec& templ) {
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
    out.push_back({templ.groups[a.group].name, loop.index, loop.buffer_level, loop.loc, divisors(extent)});
  }
  return out;
}

MapResult map_tiles(const Cascade& cascade, const ArchSpec& arch, const MappingSpec& templ, const MapOptions& options) {
  MapResult r;
  r.searched = searched_tiles(cascade, templ);
  const std::vector<LoopAddress> where = auto_loops(templ);
  const size_t n = r.searched.size();

  double space = 1;
  for (const SearchedTile& s : r.searched) space *= static_cast<double>(s.values.size());
  if (space > static_cast<double>(options.max_candidates))
    throw UserError(SourceLoc{templ.file}, "tile",
                    fmt::format("auto: {:.3g} combinations of tiles, more than the mapper searches ({}): give some "
                                "of the {} auto tiles a value",
                                space, options.max_candidates, n));

  // A searched tile's searched outer tiles: the same index further out in the same group's nest.
  std::vector<std::vector<size_t>> outer(n);
  for (size_t k = 0; k < n; ++k)
    for (size_t j = 0; j < k; ++j)
      if (where[j].group == where[k].group && r.searched[j].index == r.searched[k].index) outer[k].push_back(j);

  MappingSpec m = templ;
  std::vector<size_t> digit(n, 0);  // the combination: an index into each searched tile's values
  std::vector<int64_t> tiles(n);
  for (bool more = true; more; ++r.combinations) {
    for (size_t k = 0; k < n; ++k) tiles[k] = r.searched[k].values[digit[k]];
    bool divides = true;
    for (size_t k = 0; k < n && divides; ++k)
      for (size_t j : outer[k]) divides = divides && tiles[j] % tiles[k] == 0;
    if (!divides) {
      ++r.not_dividing;
    } else {
      for (size_t k = 0; k < n; ++k) {
        LoopSpec& loop = loop_at(m, where[k]);
        loop.tile = std::to_string(tiles[k]);
        loop.tile_expr = parse_expression(loop.tile);
      }
      const TileProgram program = lower(cascade, arch, m);
      // Lowering refuses what cannot run (a buffer too small); the evaluator what it cannot count.
      Stats stats = program.status.ok ? evaluate_analytical(cascade, arch, program) : Stats{};
      const EvalStatus& status = program.status.ok ? stats.status : program.status;
      if (!status.ok) {
        ++r.infeasible;
        if (r.first_infeasible_reason.empty()) r.first_infeasible_reason = status.reason;
      } else {
        ++r.evaluated;
        const double score = score_of(stats, options.objective);
        // Best first; among equal scores the earlier combination stays ahead (upper_bound), so the answer
        // does not depend on anything but the order of the space.
        const auto at = std::upper_bound(r.best.begin(), r.best.end(), score,
                                         [](double s, const MapCandidate& b) { return s < b.score; });
        if (static_cast<int>(at - r.best.begin()) < options.top) {
          r.best.insert(at, MapCandidate{tiles, std::move(stats), score});
          if (static_cast<int>(r.best.size()) > options.top) r.best.pop_back();
        }
      }
    }
    // The next combination: the last searched tile varies fastest.
    more = false;
    for (size_t k = n; k-- > 0;) {
      if (++digit[k] < r.searched[k].values.size()) {
        more = true;
        break;
      }
      digit[k] = 0;
    }
  }
  return r;
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
  out << fmt::format("# Found by `einsim map --constraints {}` (objective: {}).\n", template_file,
                     objective_name(options.objective));
  out << fmt::format("# Every combination of the divisors of the {} tiles left to the mapper: {} in all, {} with an\n",
                     result.searched.size(), result.combinations, result.not_dividing);
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
