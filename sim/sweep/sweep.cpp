#include "sim/sweep/sweep.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "common/overrides.hpp"
#include "common/yaml.hpp"
#include "mappings/lower.hpp"
#include "mappings/spec_cache.hpp"
#include "sim/analytical.hpp"
#include "sim/sweep/results.hpp"

extern char** environ;

namespace einsim {

namespace {

namespace fs = std::filesystem;

// Columns a sweep writes besides its axes and the Stats fields.
const std::vector<std::string> kFixedColumns = {"point", "fidelity", "status", "reason", "config_hash", "einsim_version", "wall_s"};

std::vector<std::string> placeholders(const std::string& s) {
  std::vector<std::string> out;
  static const std::regex re(R"(\{([A-Za-z_][A-Za-z0-9_]*)\})");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator(); ++it) out.push_back((*it)[1]);
  return out;
}

std::string substitute(std::string s, const std::map<std::string, std::string>& vars) {
  for (const auto& [name, value] : vars)
    for (size_t at = 0; (at = s.find("{" + name + "}", at)) != std::string::npos; at += value.size()) s.replace(at, name.size() + 2, value);
  return s;
}

std::vector<std::string> strings(const YNode& node) {
  std::vector<std::string> out;
  if (node.is_sequence())
    for (const YNode& i : node.items()) out.push_back(i.as_string());
  else
    out.push_back(node.as_string());
  return out;
}

std::map<std::string, std::string> string_map(const YNode& node) {
  std::map<std::string, std::string> out;
  MapReader m(node);
  for (const auto& [k, v] : m.entries()) out[k] = v.as_string();
  return out;
}

}  // namespace

SweepSpec load_sweep(const std::string& file) {
  const YNode root = YNode::load_file(file);
  MapReader top(root);
  SweepSpec spec;
  spec.file = file;
  read_version(top);
  spec.name = top.required("name").as_string();
  if (auto d = top.optional("description")) spec.description = d->as_string();
  const fs::path dir = fs::path(file).parent_path();

  std::set<std::string> known;  // names a template may use
  MapReader axes(top.required("axes"));
  for (const auto& [name, node] : axes.entries()) {
    if (std::find(kFixedColumns.begin(), kFixedColumns.end(), name) != kFixedColumns.end())
      node.fail(fmt::format("'{}' names a results column; call the axis something else", name));
    SweepAxis a;
    a.name = name;
    if (node.is_map()) {  // value -> its variables
      MapReader values(node);
      for (const auto& [value, vars] : values.entries()) {
        a.values.push_back(value);
        a.vars.push_back(vars.is_null() ? std::map<std::string, std::string>{} : string_map(vars));
      }
      for (size_t v = 0; v < a.vars.size(); ++v)
        for (const auto& [var, x] : a.vars[v]) {
          for (const auto& other : a.vars)
            if (!other.count(var)) node.fail(fmt::format("every value of '{}' must set '{}' (value '{}' does not)", name, var, a.values[&other - &a.vars[0]]));
          known.insert(var);
        }
    } else {
      a.values = strings(node);
      a.vars.resize(a.values.size());
    }
    if (a.values.empty()) node.fail(fmt::format("axis '{}' has no values", name));
    known.insert(name);
    spec.axes.push_back(std::move(a));
  }
  auto axis = [&](const YNode& n) {
    const std::string name = n.as_string();
    const auto it = std::find_if(spec.axes.begin(), spec.axes.end(), [&](const SweepAxis& a) { return a.name == name; });
    if (it == spec.axes.end()) n.fail(fmt::format("no axis named '{}'", name));
    return it;
  };
  if (auto z = top.optional("zip")) {
    std::set<std::string> zipped;
    for (const YNode& group : z->items()) {
      std::vector<std::string> names;
      for (const YNode& n : group.items()) {
        const auto a = axis(n);
        if (!zipped.insert(a->name).second) n.fail(fmt::format("axis '{}' is zipped twice", a->name));
        if (a->values.size() != axis(group.items()[0])->values.size()) n.fail("zipped axes must have as many values each");
        names.push_back(a->name);
      }
      spec.zips.push_back(names);
    }
  }
  const YNode fidelity = top.required("fidelity");
  const std::string f = fidelity.as_string();
  if (f == "analytical" || f == "cycle") spec.fidelities = {f};
  else if (f == "both") spec.fidelities = {"analytical", "cycle"};
  else fidelity.fail(fmt::format("unknown fidelity '{}' (analytical, cycle or both)", f));

  auto templated = [&](const YNode& n) {
    const std::string s = n.as_string();
    for (const std::string& p : placeholders(s))
      if (!known.count(p)) n.fail(fmt::format("'{{{}}}' is neither an axis nor a variable of one", p));
    return s;
  };
  auto path = [&](const YNode& n) { return (dir / templated(n)).lexically_normal().string(); };
  MapReader parts(top.required("parts"));
  std::map<std::string, std::string> lower_names;  // result columns (einsum_PART.QK_cycles) ignore case
  for (const auto& [name, node] : parts.entries()) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (const auto [it, added] = lower_names.emplace(lower, name); !added)
      node.fail(fmt::format("part '{}' differs from part '{}' only in case, which the results' column names ignore", name, it->second));
    MapReader p(node);
    SweepPart part;
    part.name = name;
    if (auto w = p.optional("when")) {
      MapReader wm(*w);
      for (const auto& [ax, value] : wm.entries()) {
        const auto a = std::find_if(spec.axes.begin(), spec.axes.end(), [&](const SweepAxis& x) { return x.name == ax; });
        if (a == spec.axes.end()) value.fail(fmt::format("no axis named '{}'", ax));
        if (std::find(a->values.begin(), a->values.end(), value.as_string()) == a->values.end())
          value.fail(fmt::format("'{}' is not a value of axis '{}'", value.as_string(), ax));
        part.when[ax] = value.as_string();
      }
    }
    const YNode mapping = p.required("mapping");
    part.mapping = path(mapping);
    part.locs["mapping"] = mapping.loc();
    if (auto a = p.optional("arch")) {
      part.arch = path(*a);
      part.locs["arch"] = a->loc();
    }
    if (auto w = p.optional("workload")) {
      part.workload = path(*w);
      part.locs["workload"] = w->loc();
    }
    if (auto ps = p.optional("params")) {
      for (const YNode& i : ps->is_sequence() ? ps->items() : std::vector<YNode>{*ps}) part.params.push_back(path(i));
      part.locs["params"] = ps->loc();
    }
    if (auto c = p.optional("count")) {
      part.count = templated(*c);
      part.locs["count"] = c->loc();
    }
    if (auto s = p.optional("set")) {
      MapReader sm(*s);
      for (const auto& [key, value] : sm.entries()) {
        DesignOverrides checked;
        add_override(checked, key, "", value.loc(), "parts." + name + ".set." + key);
        part.sets.emplace_back(key, templated(value));
      }
    }
    p.finish();
    spec.parts.push_back(std::move(part));
  }
  if (spec.parts.empty()) root.fail("a sweep needs at least one part");

  if (auto cs = top.optional("compare"))
    for (const YNode& c : cs->items()) {
      MapReader m(c);
      SweepComparison cmp;
      cmp.name = m.required("name").as_string();
      const YNode ax = m.required("axis");
      const auto a = axis(ax);
      cmp.axis = a->name;
      const YNode base = m.required("baseline");
      cmp.baseline = base.as_string();
      if (std::find(a->values.begin(), a->values.end(), cmp.baseline) == a->values.end())
        base.fail(fmt::format("'{}' is not a value of axis '{}'", cmp.baseline, cmp.axis));
      m.finish();
      spec.comparisons.push_back(cmp);
    }
  if (auto ps = top.optional("published"))
    for (const YNode& node : ps->items()) {
      MapReader m(node);
      PublishedFigure pf;
      const YNode cmp = m.required("compare");
      pf.comparison = cmp.as_string();
      if (std::none_of(spec.comparisons.begin(), spec.comparisons.end(), [&](const SweepComparison& c) { return c.name == pf.comparison; }))
        cmp.fail(fmt::format("no comparison named '{}'", pf.comparison));
      pf.value = m.required("value").as_string();
      if (auto w = m.optional("where")) pf.where = string_map(*w);
      const YNode metric = m.required("metric");
      pf.metric = metric.as_string();
      if (pf.metric != "speedup" && pf.metric != "energy_ratio") metric.fail("metric is speedup or energy_ratio");
      pf.figure = m.required("figure").as_double();
      pf.source = m.required("source").as_string();
      if (auto e = m.optional("explain")) pf.explain = e->as_string();
      m.finish();
      spec.published.push_back(pf);
    }
  if (auto ns = top.optional("notes"))
    for (const YNode& n : ns->items()) spec.notes.push_back(string_map(n));
  if (auto cs = top.optional("columns")) {
    MapReader cm(*cs);
    for (const auto& [name, value] : cm.entries()) {
      DerivedColumn d{name, value.as_string(), {}, value.loc()};
      try {
        d.parsed = parse_expression(d.expression);
        for (const std::string& n : names_in(d.parsed)) {
          if (!known.count(n) && std::find(derived_inputs().begin(), derived_inputs().end(), n) == derived_inputs().end())
            value.fail(fmt::format("'{}' is neither an axis, a variable of one, nor a result ({})", n, fmt::join(derived_inputs(), ", ")));
          // Every value the name takes must be a number.
          for (const SweepAxis& a : spec.axes)
            for (size_t i = 0; i < a.values.size(); ++i) {
              const std::string* v = a.name == n ? &a.values[i] : a.vars[i].count(n) ? &a.vars[i].at(n) : nullptr;
              char* end = nullptr;
              if (v && (std::strtod(v->c_str(), &end), end == v->c_str() || *end))
                value.fail(fmt::format("'{}' is '{}' at {}={}, not a number", n, *v, a.name, a.values[i]));
            }
        }
        evaluate_real(d.parsed, [](const std::string&) { return 1.0; }, [&](const std::string& why) { value.fail(why); });
      } catch (const SyntaxError& e) {
        value.fail(fmt::format("bad expression '{}': {}", d.expression, e.message));
      }
      spec.columns.push_back(d);
    }
  }
  top.finish();
  return spec;
}

std::vector<SweepPoint> enumerate_points(const SweepSpec& spec) {
  // Dimensions: each zip group is one dimension; every other axis is its own.
  std::vector<std::vector<size_t>> dims;  // axis indices per dimension
  std::set<std::string> zipped;
  for (const auto& z : spec.zips) zipped.insert(z.begin(), z.end());
  for (size_t a = 0; a < spec.axes.size(); ++a) {
    const std::string& name = spec.axes[a].name;
    if (!zipped.count(name)) {
      dims.push_back({a});
      continue;
    }
    for (const auto& z : spec.zips)
      if (z[0] == name) {
        dims.emplace_back();
        for (const std::string& n : z)
          for (size_t b = 0; b < spec.axes.size(); ++b)
            if (spec.axes[b].name == n) dims.back().push_back(b);
      }
  }
  std::vector<SweepPoint> points;
  std::vector<size_t> at(dims.size(), 0);
  for (int64_t index = 0;; ++index) {
    std::vector<size_t> value(spec.axes.size());
    for (size_t d = 0; d < dims.size(); ++d)
      for (size_t a : dims[d]) value[a] = at[d];
    std::map<std::string, std::string> vars;
    SweepPoint base;
    for (size_t a = 0; a < spec.axes.size(); ++a) {
      const SweepAxis& ax = spec.axes[a];
      base.axes.emplace_back(ax.name, ax.values[value[a]]);
      vars[ax.name] = ax.values[value[a]];
      for (const auto& [k, v] : ax.vars[value[a]]) vars[k] = v;
    }
    base.vars = vars;
    for (const SweepPart& part : spec.parts) {
      if (std::any_of(part.when.begin(), part.when.end(), [&](const auto& w) { return vars.at(w.first) != w.second; })) continue;
      SweepPart p = part;
      p.mapping = substitute(p.mapping, vars);
      p.arch = substitute(p.arch, vars);
      p.workload = substitute(p.workload, vars);
      for (std::string& f : p.params) f = substitute(f, vars);
      for (auto& [k, v] : p.sets) v = substitute(v, vars);
      p.count = substitute(p.count, vars);
      base.parts.push_back(std::move(p));
    }
    for (const std::string& f : spec.fidelities) {
      SweepPoint pt = base;
      pt.index = index;
      pt.fidelity = f;
      points.push_back(std::move(pt));
    }
    size_t d = dims.size();
    while (d > 0) {
      --d;
      const size_t n = spec.axes[dims[d][0]].values.size();
      if (++at[d] < n) break;
      at[d] = 0;
      if (d == 0) return points;
    }
    if (dims.empty()) return points;
  }
}

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted = true; }

// FNV-1a over what decides a point's result: einsim's version, the fidelity, and for each part its settings and
// every file resolving it reads (the mapping, the arch and workload it names, param presets, the energy table,
// DRAM presets), by the hash of its contents: editing any of them runs the point again on --resume.
std::string config_hash(const SweepPoint& p, const std::string& version, const std::vector<FileList>& part_files) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  mix(version);
  mix(p.fidelity);
  for (size_t i = 0; i < p.parts.size(); ++i) {
    const SweepPart& part = p.parts[i];
    for (const std::string& f : {part.mapping, part.arch, part.workload}) mix(f);
    for (const std::string& f : part.params) mix(f);
    for (const auto& [k, v] : part.sets) mix(k + "=" + v);
    mix(part.count);
    for (const auto& [file, contents] : part_files[i]) mix(fmt::format("{}:{:016x}", file, contents));
  }
  return fmt::format("{:016x}", h);
}

struct Outcome {
  Stats stats;
  std::string status = "ok";  // ok, infeasible, error
  std::string reason;
  bool interrupted = false;
};

// What names a part's Specs: its files, and its `set:` split into workload params and arch fields.
SpecInputs inputs_of(const SweepPart& part) {
  SpecInputs in;
  in.mapping = part.mapping;
  in.arch = part.arch;
  in.workload = part.workload;
  in.workload_overrides.param_files = part.params;
  DesignOverrides o;
  for (const auto& [k, v] : part.sets) add_override(o, k, v, part.locs.at("mapping"), "parts." + part.name + ".set." + k);  // checked on load
  in.workload_overrides.params = std::move(o.workload);
  in.arch_sets = std::move(o.arch);
  return in;
}

// A cycle-level part runs in its own process (SystemC elaborates once per process), so a crash costs one point.
Stats run_worker(const std::string& exe, const SweepPart& part, Outcome& out) {
  std::vector<std::string> args = {exe, "sim", "--json", "--mapping", part.mapping};
  if (!part.arch.empty()) args.insert(args.end(), {"--arch", part.arch});
  if (!part.workload.empty()) args.insert(args.end(), {"--workload", part.workload});
  for (const std::string& f : part.params) args.insert(args.end(), {"--params", f});
  for (const auto& [k, v] : part.sets) args.insert(args.end(), {"--set", k + "=" + v});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) throw InternalError("sweep: pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  std::string text;
  if (rc == 0) {
    char buf[65536];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (rc != 0) {
    out.status = "error";
    out.reason = fmt::format("cannot start {}: {}", exe, std::strerror(rc));
    return {};
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (WIFSIGNALED(st)) {
    if (WTERMSIG(st) == SIGINT || g_interrupted) out.interrupted = true;
    out.status = "error";
    out.reason = fmt::format("{}: the cycle-level worker died of signal {}", part.name, WTERMSIG(st));
    return {};
  }
  if (WEXITSTATUS(st) != 0) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    out.status = "error";
    out.reason = part.name + ": " + text.substr(text.rfind('\n') + 1);
    return {};
  }
  try {
    return stats_from_json(nlohmann::ordered_json::parse(text));
  } catch (const std::exception& e) {
    out.status = "error";
    out.reason = fmt::format("{}: unreadable worker output ({})", part.name, e.what());
    return {};
  }
}

// Throws UserError at the part's `count` unless it is a positive integer at this point.
int64_t part_count(const SweepPart& part, const SweepPoint* at = nullptr) {
  auto fail = [&](const std::string& why) {
    std::string where;
    if (at)
      for (const auto& [ax, v] : at->axes) where += (where.empty() ? " (at " : ", ") + ax + "=" + v;
    throw UserError(part.locs.count("count") ? part.locs.at("count") : SourceLoc{}, "parts." + part.name + ".count",
                    fmt::format("count '{}': {}{}", part.count, why, where.empty() ? "" : where + ")"));
  };
  int64_t n = 0;
  try {
    n = evaluate_integer(parse_expression(part.count), [&](const std::string& name) -> int64_t { fail("unknown name '" + name + "'"); return 0; }, fail);
  } catch (const SyntaxError& e) {
    fail(e.message);
  }
  if (n < 0) fail("a part runs zero or more times");
  return n;
}

// One part's Stats, run `count` times.
Stats evaluate_part(const SweepPart& part, const std::string& fidelity, int64_t count, const std::string& exe, SpecCache& specs, Outcome& out) {
  if (fidelity == "cycle") return repeated(run_worker(exe, part, out), count);
  const ResolvedSpecs r = specs.resolve(inputs_of(part));
  return repeated(evaluate_analytical(*r.cascade, *r.arch, lower(*r.cascade, *r.arch, *r.mapping)), count);
}

Outcome evaluate(const SweepPoint& point, const std::string& exe, SpecCache& specs) {
  Outcome out;
  std::vector<std::pair<std::string, Stats>> parts;
  for (const SweepPart& part : point.parts) {
    // Whatever goes wrong with one point is that point's error row: the sweep and its other points go on.
    auto failed = [&](const std::string& why) {
      out.status = "error";
      out.reason = part.name + ": " + why;
      return out;
    };
    try {
      const int64_t count = part_count(part);
      if (count == 0) continue;  // this point has none of it (a dense model's MoE layers)
      parts.emplace_back(part.name, evaluate_part(part, point.fidelity, count, exe, specs, out));
      if (out.status != "ok") return out;
    } catch (const UserError& e) {
      return failed(e.what());
    } catch (const std::bad_alloc&) {
      return failed("out of memory");
    } catch (const std::exception& e) {
      return failed(fmt::format("internal error: {} (an einsim bug: please report it with this point)", e.what()));
    }
  }
  if (parts.empty()) {
    out.status = "error";
    out.reason = "every part of this point runs zero times";
    return out;
  }
  out.stats = add_parts(parts);
  if (!out.stats.status.ok) {
    out.status = "infeasible";
    out.reason = out.stats.status.reason;
  }
  return out;
}

}  // namespace

namespace {

// The columns results.csv starts with: the point, its axes, its status, the headline results, then the sweep's
// derived columns. The rest follow sorted by name.
std::vector<std::string> csv_leading(const nlohmann::ordered_json& meta) {
  std::vector<std::string> leading = {"point"};
  for (const auto& a : meta.at("axes")) leading.push_back(a.at("name"));
  leading.insert(leading.end(), {"fidelity", "status", "reason", "cycles", "latency_s", "energy_pJ", "area_mm2", "bound"});
  for (const auto& c : meta.at("columns")) leading.push_back(c.at("name"));
  return leading;
}

std::string sweep_meta_json(const SweepSpec& spec) {
  nlohmann::ordered_json j;
  j["name"] = spec.name;
  j["description"] = spec.description;
  j["file"] = spec.file;
  j["fidelities"] = spec.fidelities;
  j["axes"] = nlohmann::ordered_json::array();
  for (const SweepAxis& a : spec.axes) j["axes"].push_back({{"name", a.name}, {"values", a.values}});
  j["compare"] = nlohmann::ordered_json::array();
  for (const SweepComparison& c : spec.comparisons) j["compare"].push_back({{"name", c.name}, {"axis", c.axis}, {"baseline", c.baseline}});
  j["published"] = nlohmann::ordered_json::array();
  for (const PublishedFigure& p : spec.published)
    j["published"].push_back({{"compare", p.comparison}, {"value", p.value}, {"where", p.where}, {"metric", p.metric},
                              {"figure", p.figure}, {"source", p.source}, {"explain", p.explain}});
  j["notes"] = spec.notes;
  j["columns"] = nlohmann::ordered_json::array();
  for (const DerivedColumn& c : spec.columns) j["columns"].push_back({{"name", c.name}, {"expression", c.expression}});
  return j.dump();
}

}  // namespace

const std::vector<std::string>& derived_inputs() {
  static const std::vector<std::string> names = {"cycles", "latency_s", "energy_pJ", "area_mm2"};
  return names;
}

namespace {

void add_derived(const SweepSpec& spec, const SweepPoint& p, const Row& stats, Row& row) {
  for (const DerivedColumn& d : spec.columns) {
    auto lookup = [&](const std::string& name) -> double {
      if (const auto v = p.vars.find(name); v != p.vars.end()) return std::strtod(v->second.c_str(), nullptr);  // checked numeric on load
      for (const auto& [column, cell] : stats)
        if (column == name) {
          if (const auto* i = std::get_if<int64_t>(&cell)) return static_cast<double>(*i);
          return std::get<double>(cell);
        }
      throw InternalError("derived column input " + name + " missing");
    };
    const double v = evaluate_real(d.parsed, lookup, [&](const std::string& why) {
      throw UserError(d.loc, "columns." + d.name, why);  // an unknown function: the only error left after loading
    });
    row.emplace_back(d.name, v);
  }
}

}  // namespace

SweepSummary run_sweep(const SweepSpec& spec, const SweepOptions& options) {
  if (options.shards < 1 || options.shard < 1 || options.shard > options.shards)
    throw UserError(SourceLoc{}, "--shard", fmt::format("expected I/N with 1 <= I <= N, got {}/{}", options.shard, options.shards));
  // A file a point names that does not exist is a mistake in the sweep file, found before anything is written,
  // not a failed point.
  std::vector<SweepPoint> points = enumerate_points(spec);
  std::set<std::string> checked;
  for (const SweepPoint& p : points)
    for (const SweepPart& part : p.parts) {
      part_count(part, &p);
      std::vector<std::pair<std::string, std::string>> files = {{"mapping", part.mapping}, {"arch", part.arch}, {"workload", part.workload}};
      for (const std::string& f : part.params) files.emplace_back("params", f);
      for (const auto& [key, f] : files) {
        if (f.empty() || !checked.insert(f).second) continue;
        if (!fs::is_regular_file(f)) {
          std::string at;
          for (const auto& [ax, v] : p.axes) at += (at.empty() ? "" : ", ") + ax + "=" + v;
          throw UserError(part.locs.at(key), "parts." + part.name + "." + key,
                          fmt::format("{} {} (at {})", f, fs::exists(f) ? "is not a file" : "does not exist", at));
        }
      }
    }
  // Every file is read and parsed once, and each part's Specs resolved once, for the hashes and the evaluations.
  SpecCache specs;

  fs::create_directories(options.out_dir);
  const DirectoryLock writing(options.out_dir);
  ResultsDb db((fs::path(options.out_dir) / "results.sqlite").string());
  if (!options.resume && db.rows() > 0)
    throw UserError(SourceLoc{options.out_dir}, "-o", "the directory already holds results: --resume to complete them, or choose another directory");
  const std::string& version = options.version;
  db.set_meta("sweep", sweep_meta_json(spec));
  db.set_meta("einsim_version", version);

  std::map<std::pair<int64_t, std::string>, std::string> done;
  for (const auto& [key, hash] : db.keys()) done[key] = hash;
  SweepSummary summary;
  std::vector<std::pair<SweepPoint, std::string>> todo;
  for (SweepPoint& p : points) {
    if (p.index % options.shards != options.shard - 1) continue;
    ++summary.points;
    std::vector<FileList> part_files;
    for (const SweepPart& part : p.parts) part_files.push_back(specs.files(inputs_of(part)));
    std::string hash = config_hash(p, version, part_files);
    const auto it = done.find({p.index, p.fidelity});
    if (it != done.end() && it->second == hash) {
      ++summary.skipped;
      continue;
    }
    todo.emplace_back(std::move(p), std::move(hash));
  }

  g_interrupted = false;
  auto* previous = std::signal(SIGINT, on_interrupt);
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::pair<size_t, Outcome>> finished;
  std::atomic<size_t> next{0};
  std::vector<double> wall(todo.size());
  const int jobs = std::max(1, std::min<int>(options.jobs, static_cast<int>(todo.size())));
  std::atomic<int> working{jobs};
  std::atomic<bool> stop{false};  // the database failed: no more points
  std::vector<std::thread> threads;
  // However this function ends, the workers stop and are joined first, and SIGINT is einsim's again.
  struct Joiner {
    std::vector<std::thread>& threads;
    std::atomic<bool>& stop;
    void (*previous)(int);
    ~Joiner() {
      stop = true;
      for (std::thread& t : threads)
        if (t.joinable()) t.join();
      std::signal(SIGINT, previous);
    }
  } joiner{threads, stop, previous};
  for (int t = 0; t < jobs; ++t)
    threads.emplace_back([&] {
      for (size_t i; !g_interrupted && !stop && (i = next++) < todo.size();) {
        const auto t0 = std::chrono::steady_clock::now();
        Outcome o = evaluate(todo[i].first, options.self_exe, specs);
        wall[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::lock_guard lock(m);
        finished.emplace_back(i, std::move(o));
        cv.notify_one();
      }
      std::lock_guard lock(m);
      --working;
      cv.notify_one();
    });
  // This thread alone writes the database, one committed row per point as it finishes.
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return !finished.empty() || working == 0; });
    if (finished.empty()) break;  // every worker is done
    auto [i, o] = std::move(finished.front());
    finished.pop_front();
    lock.unlock();
    if (o.interrupted) continue;  // not a result: --resume runs it again
    const SweepPoint& p = todo[i].first;
    Row results;  // the Stats' columns, then the sweep's derived ones
    if (o.status != "error") {
      results = flatten(o.stats);
      if (o.status == "ok") add_derived(spec, p, Row(results), results);
      if (std::string why = db.clash(results); !why.empty()) {
        o.status = "error";
        o.reason = std::move(why);
        results.clear();
      }
    }
    Row row = {{"point", p.index}, {"fidelity", p.fidelity}};
    for (const auto& [ax, v] : p.axes) row.emplace_back(ax, v);
    row.insert(row.end(), {{"status", o.status}, {"reason", o.reason}, {"config_hash", todo[i].second}, {"einsim_version", version},
                           {"wall_s", wall[i]}});
    row.insert(row.end(), results.begin(), results.end());
    if (o.status == "error") ++summary.failed;
    db.put(row);
    ++summary.ran;
    if (options.progress) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const auto n = static_cast<double>(summary.ran);
      options.progress(summary.ran, static_cast<int64_t>(todo.size()), summary.failed, elapsed / n * (static_cast<double>(todo.size()) - n));
    }
  }
  for (std::thread& t : threads) t.join();
  db.flush();
  summary.interrupted = g_interrupted;

  write_csv(db.all(), csv_leading(nlohmann::ordered_json::parse(sweep_meta_json(spec))), (fs::path(options.out_dir) / "results.csv").string());
  return summary;
}

void merge_results(const std::vector<std::string>& dirs, const std::string& out_dir) {
  fs::create_directories(out_dir);
  const DirectoryLock writing(out_dir);
  ResultsDb out((fs::path(out_dir) / "results.sqlite").string());
  if (out.rows() > 0) throw UserError(SourceLoc{out_dir}, "-o", "the directory already holds results; merge into an empty one");
  std::set<std::pair<int64_t, std::string>> seen;
  std::string sweep;
  for (const std::string& d : dirs) {
    const std::string f = (fs::path(d) / "results.sqlite").string();
    if (!fs::exists(f)) throw UserError(SourceLoc{d}, "merge", "no results.sqlite in this directory");
    ResultsDb in(f);
    const std::string s = in.meta("sweep");
    if (sweep.empty()) {
      sweep = s;
      out.set_meta("sweep", s);
      out.set_meta("einsim_version", in.meta("einsim_version"));
    } else if (s != sweep) {
      throw UserError(SourceLoc{d}, "merge", "these results come from a different sweep than " + dirs[0]);
    }
    for (Row& r : in.all()) {
      const auto point = std::get<int64_t>(r[0].second);
      const auto fidelity = std::get<std::string>(r[1].second);
      if (seen.insert({point, fidelity}).second) out.put(r);
    }
  }
  out.flush();
  write_csv(out.all(), csv_leading(nlohmann::ordered_json::parse(sweep)), (fs::path(out_dir) / "results.csv").string());
}

}  // namespace einsim
