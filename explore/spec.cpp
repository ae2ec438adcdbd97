// Sweep files -> SweepSpec: axes, parts, comparisons, published figures, derived columns; checked on load.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

#include "common/overrides.hpp"
#include "common/yaml.hpp"
#include "explore/sweep.hpp"
#include "workloads/expr.hpp"

namespace einsim {

namespace {

namespace fs = std::filesystem;

// Columns a sweep writes besides its axes and the Stats fields.
const std::vector<std::string> kFixedColumns = {"point",       "fidelity",       "status", "reason",
                                                "config_hash", "einsim_version", "wall_s"};

std::vector<std::string> placeholders(const std::string& s) {
  std::vector<std::string> out;
  static const std::regex re(R"(\{([A-Za-z_][A-Za-z0-9_]*)\})");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
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
            if (!other.count(var))
              node.fail(fmt::format("every value of '{}' must set '{}' (value '{}' does not)", name, var,
                                    a.values[&other - &a.vars[0]]));
          known.insert(var);
        }
    } else {
      a.values = strings(node);
      a.vars.resize(a.values.size());
    }
    if (a.values.empty()) node.fail(fmt::format("axis '{}' has no values", name));
    for (size_t v = 0; v < a.values.size(); ++v)  // a repeated value would only repeat points
      if (std::find(a.values.begin(), a.values.begin() + static_cast<std::ptrdiff_t>(v), a.values[v]) !=
          a.values.begin() + static_cast<std::ptrdiff_t>(v))
        node.fail(fmt::format("axis '{}' has the value '{}' twice", name, a.values[v]));
    known.insert(name);
    spec.axes.push_back(std::move(a));
  }
  auto axis = [&](const YNode& n) {
    const std::string name = n.as_string();
    const auto it =
        std::find_if(spec.axes.begin(), spec.axes.end(), [&](const SweepAxis& a) { return a.name == name; });
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
        if (a->values.size() != axis(group.items()[0])->values.size())
          n.fail("zipped axes must have as many values each");
        names.push_back(a->name);
      }
      spec.zips.push_back(names);
    }
  }
  const YNode fidelity = top.required("fidelity");
  const std::string f = fidelity.as_string();
  if (const auto one = parse_fidelity(f))
    spec.fidelities = {*one};
  else if (f == "both")
    spec.fidelities = {Fidelity::analytical, Fidelity::cycle};
  else
    fidelity.fail(fmt::format("unknown fidelity '{}' (analytical, cycle or both)", f));

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
    // Column names are case-blind and carry letters, digits and '_' only (att-x and att_x are one column).
    std::string lower = name;
    for (char& c : lower)
      c = std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                                                      : '_';
    if (const auto [it, added] = lower_names.emplace(lower, name); !added)
      node.fail(
          fmt::format("part '{}' and part '{}' give the same result columns (names ignore case, and every "
                      "character but letters and digits reads as '_')",
                      name, it->second));
    MapReader p(node);
    SweepPart part;
    part.name = name;
    if (auto w = p.optional("when")) {
      MapReader wm(*w);
      for (const auto& [ax, value] : wm.entries()) {
        const auto a =
            std::find_if(spec.axes.begin(), spec.axes.end(), [&](const SweepAxis& x) { return x.name == ax; });
        if (a == spec.axes.end()) value.fail(fmt::format("no axis named '{}'", ax));
        if (std::find(a->values.begin(), a->values.end(), value.as_string()) == a->values.end())
          value.fail(fmt::format("'{}' is not a value of axis '{}'", value.as_string(), ax));
        part.when[ax] = value.as_string();
      }
    }
    // A mapping, or constraints whose `auto` tiles the mapper chooses at each point (`einsim map`'s choice).
    // `mapping: auto` says the same as naming constraints alone: the mapper maps the part at each point.
    // `mapping: auto` alone: the mapper searches every Einsum's mapping (unconstrained()), from the part's own
    // workload and arch.
    auto mapping = p.optional("mapping");
    const auto constraints = p.optional("constraints");
    std::optional<YNode> unconstrained_at;
    if (mapping && mapping->is_scalar() && mapping->as_string() == "auto") {
      if (!constraints) unconstrained_at = mapping;
      part.locs["mapping"] = mapping->loc();
      mapping.reset();
    }
    if (mapping && constraints) constraints->fail("a part names a mapping or constraints, not both");
    if (!mapping && !constraints && !unconstrained_at) p.required("mapping");
    part.map = constraints.has_value() || unconstrained_at.has_value();
    if (!unconstrained_at) {
      part.mapping = path(mapping ? *mapping : *constraints);
      part.locs["mapping"] = (mapping ? *mapping : *constraints).loc();
    }
    if (constraints) part.locs["constraints"] = constraints->loc();
    if (auto r = p.optional("ragged")) {
      if (!part.map) r->fail("ragged: the mapper's search of a part's constraints; this part names a mapping");
      part.ragged = r->as_bool();
    }
    if (auto k = p.optional("rerank_cycle")) {
      if (!part.map) k->fail("re-ranks the mapper's choices for a part's constraints; this part names a mapping");
      const int64_t n = k->as_int();
      if (n < 0 || n > 100) k->fail("give how many of the mapper's best to simulate at cycle level, 0 to 100");
      part.rerank_cycle = static_cast<int>(n);
    }
    if (auto fuse = p.optional("fuse")) {
      if (!part.map) fuse->fail("searches fusion for a part the mapper maps (`mapping: auto`, or constraints)");
      const int64_t n = fuse->as_int();
      if (n < 1 || n > 64) fuse->fail("give how many consecutive groups the mapper may fuse into one, 1 to 64");
      part.fuse = static_cast<int>(n);
    }
    if (auto a = p.optional("arch")) {
      part.arch = path(*a);
      part.locs["arch"] = a->loc();
    }
    if (auto w = p.optional("workload")) {
      part.workload = path(*w);
      part.locs["workload"] = w->loc();
    }
    if (unconstrained_at && (part.arch.empty() || part.workload.empty()))
      unconstrained_at->fail(
          "auto without `constraints:` searches every Einsum's mapping, from the part's `workload:` and `arch:`: "
          "give both (or constraints, the groups and bindings the mapper keeps)");
    if (auto ps = p.optional("params")) {
      for (const YNode& i : ps->is_sequence() ? ps->items() : std::vector<YNode>{*ps}) part.params.push_back(path(i));
      part.locs["params"] = ps->loc();
    }
    if (auto c = p.optional("count")) {
      part.count = templated(*c);
      part.locs["count"] = c->loc();
    }
    if (auto r = p.optional("resident")) {
      part.resident = templated(*r);
      part.locs["resident"] = r->loc();
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

  if (auto pl = top.optional("pipeline")) {
    MapReader m(*pl);
    PipelineSpec pipe;
    pipe.loc = pl->loc();
    pipe.stages = templated(m.required("stages"));
    if (auto mb = m.optional("micro_batches")) pipe.micro_batches = templated(*mb);
    pipe.send_bytes = templated(m.required("send_bytes"));
    if (auto s = m.optional("schedule")) {
      const std::string name = s->as_string();
      if (name == "steady")
        pipe.schedule = PipelineSchedule::steady;
      else if (name != "fill_drain")
        s->fail(
            fmt::format("unknown schedule '{}' (fill_drain: one pass of the batch; steady: decode steps that "
                        "keep the pipeline full)",
                        name));
    }
    m.finish();
    spec.pipeline = std::move(pipe);
  }
  if (auto fit = top.optional("fit")) {
    const auto a = axis(*fit);
    if (std::any_of(a->vars.begin(), a->vars.end(), [](const auto& v) { return !v.empty(); }))
      fit->fail(fmt::format("axis '{}' sets variables with its values: `fit` searches numbers between them", a->name));
    for (const std::string& v : a->values)
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v[0] == '0' || v.size() > 12)
        fit->fail(
            fmt::format("axis '{}' has the value '{}': `fit` searches positive integers up to 10^12", a->name, v));
    spec.fit = FitSpec{a->name, fit->loc()};
  }
  // A stage keeps every micro-batch's cache beside one copy of its weights, and a part's footprint is one
  // micro-batch's: which of it grows with the batch is told by counting it at another value of `fit:`'s axis.
  if (spec.pipeline && !spec.fit)
    for (const SweepPart& part : spec.parts)
      if (!part.resident.empty())
        throw UserError(part.locs.at("resident"), "parts." + part.name + ".resident",
                        "a pipeline's stages keep every micro-batch's cache beside one copy of the weights: name the "
                        "axis that counts the batch with `fit:` so that einsim can tell them apart");

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
      if (auto vs = m.optional("values"))
        for (const YNode& v : vs->items()) {
          cmp.values.push_back(v.as_string());
          if (std::find(a->values.begin(), a->values.end(), cmp.values.back()) == a->values.end())
            v.fail(fmt::format("'{}' is not a value of axis '{}'", cmp.values.back(), cmp.axis));
        }
      m.finish();
      spec.comparisons.push_back(cmp);
    }
  if (auto cs = top.optional("columns")) {
    MapReader cm(*cs);
    for (const auto& [name, value] : cm.entries()) {
      DerivedColumn d{name, value.as_string(), {}, value.loc()};
      try {
        d.parsed = parse_expression(d.expression);
        for (const std::string& n : names_in(d.parsed)) {
          const bool a_part_figure = std::any_of(spec.parts.begin(), spec.parts.end(), [&](const SweepPart& part) {
            return std::any_of(part_figures().begin(), part_figures().end(),
                               [&](const std::string& figure) { return n == part_column(part.name, figure); });
          });
          if (!known.count(n) && !n.starts_with("traffic_") && !a_part_figure &&
              std::find(derived_inputs().begin(), derived_inputs().end(), n) == derived_inputs().end())
            value.fail(
                fmt::format("'{}' is neither an axis, a variable of one, nor a result ({}, traffic_*, "
                            "part_PART_cycles, _latency_s, _energy_pJ)",
                            n, fmt::join(derived_inputs(), ", ")));
          // Every value the name takes must be a number.
          for (const SweepAxis& a : spec.axes)
            for (size_t i = 0; i < a.values.size(); ++i) {
              const std::string* v = a.name == n ? &a.values[i] : a.vars[i].count(n) ? &a.vars[i].at(n) : nullptr;
              char* end = nullptr;
              if (v && (std::strtod(v->c_str(), &end), end == v->c_str() || *end))
                value.fail(fmt::format("'{}' is '{}' at {}={}, not a number", n, *v, a.name, a.values[i]));
            }
        }
        evaluate_real(
            d.parsed, [](const std::string&) { return 1.0; }, [&](const std::string& why) { value.fail(why); });
      } catch (const SyntaxError& e) {
        value.fail(fmt::format("bad expression '{}': {}", d.expression, e.message));
      }
      spec.columns.push_back(d);
    }
  }
  if (auto ps = top.optional("published"))
    for (const YNode& node : ps->items()) {
      MapReader m(node);
      PublishedFigure pf;
      const YNode cmp = m.required("compare");
      pf.comparison = cmp.as_string();
      if (std::none_of(spec.comparisons.begin(), spec.comparisons.end(),
                       [&](const SweepComparison& c) { return c.name == pf.comparison; }))
        cmp.fail(fmt::format("no comparison named '{}'", pf.comparison));
      pf.value = m.required("value").as_string();
      if (auto w = m.optional("where")) pf.where = string_map(*w);
      const YNode metric = m.required("metric");
      pf.metric = metric.as_string();
      if (pf.metric != "speedup" && pf.metric != "energy_ratio" &&
          std::none_of(spec.columns.begin(), spec.columns.end(),
                       [&](const DerivedColumn& d) { return d.name == pf.metric; }))
        metric.fail("metric is speedup, energy_ratio or one of the sweep's columns");
      pf.figure = m.required("figure").as_double();
      pf.source = m.required("source").as_string();
      if (auto e = m.optional("explain")) pf.explain = e->as_string();
      m.finish();
      spec.published.push_back(pf);
    }
  if (auto ns = top.optional("notes"))
    for (const YNode& n : ns->items()) spec.notes.push_back(string_map(n));
  top.finish();
  return spec;
}

std::string part_column(const std::string& part, const std::string& figure) {
  std::string lower = part;
  for (char& c : lower)
    c = std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                                                    : '_';
  return "part_" + lower + "_" + figure;
}

const std::vector<std::string>& part_figures() {
  static const std::vector<std::string> names = {"cycles", "latency_s", "energy_pJ"};
  return names;
}

const std::vector<std::string>& derived_inputs() {
  static const std::vector<std::string> names = {"cycles", "latency_s", "energy_pJ", "area_mm2"};
  return names;
}

}  // namespace einsim
