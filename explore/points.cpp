// A sweep's points: the axes' values in a fixed order, each part with its placeholders filled in.
#include <fmt/format.h>

#include <set>

#include "explore/sweep.hpp"

namespace einsim {

namespace {

std::string substitute(std::string s, const std::map<std::string, std::string>& vars) {
  for (const auto& [name, value] : vars)
    for (size_t at = 0; (at = s.find("{" + name + "}", at)) != std::string::npos; at += value.size())
      s.replace(at, name.size() + 2, value);
  return s;
}

}  // namespace

SweepPart substituted(SweepPart p, const std::map<std::string, std::string>& vars) {
  p.mapping = substitute(p.mapping, vars);
  p.arch = substitute(p.arch, vars);
  p.workload = substitute(p.workload, vars);
  for (std::string& f : p.params) f = substitute(f, vars);
  for (auto& [k, v] : p.sets) v = substitute(v, vars);
  p.count = substitute(p.count, vars);
  p.resident = substitute(p.resident, vars);
  return p;
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
    if (spec.pipeline) {
      base.pipeline = spec.pipeline;
      for (std::string* s : {&base.pipeline->stages, &base.pipeline->micro_batches, &base.pipeline->send_bytes})
        *s = substitute(*s, vars);
    }
    for (const SweepPart& part : spec.parts) {
      if (std::any_of(part.when.begin(), part.when.end(), [&](const auto& w) { return vars.at(w.first) != w.second; }))
        continue;
      base.parts.push_back(substituted(part, vars));
      if (spec.fit) base.part_templates.push_back(part);
    }
    if (spec.fit) base.fit = spec.fit->axis;
    for (const Fidelity f : spec.fidelities) {
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

}  // namespace einsim
