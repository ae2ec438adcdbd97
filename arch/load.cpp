// Architecture YAML -> ArchSpec: each component read and built by its registered kind.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "arch/spec.hpp"
#include "common/units.hpp"
#include "common/yaml.hpp"

namespace einsim {
namespace {

std::string kind_names() {
  std::vector<std::string> names;
  for (const auto& [name, kind] : component_kinds()) names.push_back(name);
  return fmt::format("{}", fmt::join(names, ", "));
}

ComponentSpec read_component(const std::string& name, const YNode& node, const EnergyTable& table) {
  MapReader f(node);
  const YNode kind_node = f.required("kind");
  const ComponentKind* kind = find_kind(kind_node.as_string());
  if (!kind)
    kind_node.fail(fmt::format("unknown component kind '{}' (known: {})", kind_node.as_string(), kind_names()));
  ComponentSpec c;
  c.name = name;
  c.loc = node.loc();
  c.kind_name = kind->name;
  c.params = ParamValues(kind->params, node);
  c.model = kind->build(c.params, BuildContext{table});
  return c;
}

}  // namespace

const std::map<std::string, OpSpec>* ComponentSpec::ops() const { return compute() ? &compute()->ops() : nullptr; }
int64_t ComponentSpec::parallelism() const { return compute() ? compute()->parallelism() : 0; }
int64_t ComponentSpec::op_slots() const { return compute() ? compute()->op_slots() : 0; }
double ComponentSpec::op_rate(double arch_clock_hz) const { return compute() ? compute()->op_rate(arch_clock_hz) : 0; }
double ComponentSpec::path_Bps() const { return path() ? path()->bandwidth_Bps() : 0; }

const ComponentSpec* ArchSpec::find(const std::string& component) const {
  for (const ComponentSpec& c : components)
    if (c.name == component) return &c;
  return nullptr;
}

const ComponentSpec* ArchSpec::noc() const {
  for (const ComponentSpec& c : components)
    if (c.cores()) return &c;
  return nullptr;
}

const ComponentSpec* ArchSpec::interconnect() const {
  for (const ComponentSpec& c : components)
    if (c.devices()) return &c;
  return nullptr;
}

const DevicesRole* ArchSpec::devices() const {
  const ComponentSpec* c = interconnect();
  return c ? c->devices() : nullptr;
}

int64_t ArchSpec::copies(const std::string& component) const {
  const ComponentSpec* n = noc();
  if (!n) return 1;
  const std::vector<std::string>& per_core = n->cores()->per_core();
  return std::find(per_core.begin(), per_core.end(), component) != per_core.end() ? n->cores()->count() : 1;
}

const ComponentSpec& ArchSpec::path(const std::string& from, const std::string& to) const {
  // The most specific path: one inside the other end's memory (a PIM's own path from its banks) before a
  // memory's interface.
  const ComponentSpec* a = find(from);
  const ComponentSpec* b = find(to);
  for (const auto& [end, other] : {std::pair{b, from}, std::pair{a, to}})
    if (end && end->path() && end->path()->inside() == other) return *end;
  for (const ComponentSpec* end : {b, a})
    if (end && end->path() && end->path()->holds_tensors()) return *end;
  throw InternalError(fmt::format("no path between '{}' and '{}'", from, to));
}

namespace {
ArchSpec read_arch(const std::string& file);
}  // namespace

ArchSpec load_arch(const std::string& file, const std::vector<std::pair<std::string, std::string>>& sets) {
  ArchSpec a = read_arch(file);
  return sets.empty() ? a : override_arch(std::move(a), sets);
}

ArchSpec override_arch(ArchSpec a, const std::vector<std::pair<std::string, std::string>>& sets) {
  std::set<std::string> touched;
  for (const auto& [path, value] : sets) {
    const std::vector<std::string> keys = split_path(path);
    const std::string option = "--set arch." + path;
    const auto c = std::find_if(a.components.begin(), a.components.end(),
                                [&](const ComponentSpec& x) { return x.name == keys[0]; });
    if (keys.size() > 1 && c != a.components.end()) {
      c->params.set(std::vector<std::string>(keys.begin() + 1, keys.end()), value, option);
      touched.insert(c->name);
    } else if (keys == std::vector<std::string>{"clock"}) {
      const YNode clock(YAML::Node(value), a.file, "clock");
      a.clock_hz = parse_frequency(clock);
      if (a.clock_hz <= 0) clock.fail("the clock must be positive");
    } else if (keys == std::vector<std::string>{"name"}) {
      a.name = value;
    } else if (keys == std::vector<std::string>{"description"}) {
      a.description = value;
    } else {
      throw UserError(SourceLoc{}, option, fmt::format("{} has no '{}'", a.file, keys[0]));
    }
  }
  for (ComponentSpec& c : a.components)
    if (touched.count(c.name)) c.model = find_kind(c.kind_name)->build(c.params, BuildContext{a.table});
  for (const ComponentSpec& c : a.components) c.model->check(a, c.name);
  return a;
}

namespace {

ArchSpec read_arch(const std::string& file) {
  const YNode root = YNode::load_file(file);
  MapReader top(root);
  ArchSpec a;
  a.file = file;
  read_version(top);
  const YNode name = top.required("name");
  const auto description = top.optional("description");
  const YNode clock = top.required("clock");
  const YNode table = top.required("energy_table");
  const YNode components = top.required("components");
  top.finish();
  a.name = name.as_string();
  if (description) a.description = description->as_string();
  a.clock_hz = parse_frequency(clock);
  if (a.clock_hz <= 0) clock.fail("the clock must be positive");
  // The table path is relative to the arch file, so configs move together.
  const std::filesystem::path table_path = std::filesystem::path(file).parent_path() / table.as_string();
  try {
    a.table = load_energy_table(table_path.string());
  } catch (const UserError& e) {
    if (!std::filesystem::exists(table_path)) table.fail(fmt::format("energy table {} not found", table_path.string()));
    throw;
  }
  MapReader comps(components);
  for (const auto& [cname, value] : comps.entries()) a.components.push_back(read_component(cname, value, a.table));
  if (a.components.empty()) components.fail("an architecture needs at least one component");
  for (const ComponentSpec& c : a.components) c.model->check(a, c.name);
  return a;
}

}  // namespace

}  // namespace einsim
