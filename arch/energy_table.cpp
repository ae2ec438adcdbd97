#include "arch/energy_table.hpp"

#include <fmt/format.h>

#include "workloads/expr.hpp"

namespace einsim {

const EnergyEntry* EnergyTable::find(const std::string& entry) const {
  for (const EnergyEntry& e : entries)
    if (e.name == entry) return &e;
  return nullptr;
}

namespace {

struct Partial {
  double energy = 0;
  std::optional<double> area;
  std::optional<int64_t> bits;
};

Partial eval(const EnergyTable& t, const YNode& node, const Expr& e);
Expr parse_cost(const YNode& node, const std::string& text);

// A figure is a number, or an expression over the entries above it (a derivation the table states, such as
// "0.25 * int8_mul"), evaluated before the table's scale is applied.
double figure(const EnergyTable& so_far, const YNode& node, bool area) {
  const std::string text = node.as_string();
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (!text.empty() && *end == '\0') return v;
  const Partial p = eval(so_far, node, parse_cost(node, text));
  if (!area) return p.energy;
  if (!p.area) node.fail(fmt::format("'{}' names an entry without an area figure", text));
  return *p.area;
}
}  // namespace

EnergyTable load_energy_table(const std::string& file) {
  const YNode root = YNode::load_file(file);
  MapReader top(root);
  EnergyTable t;
  t.file = file;
  read_version(top);
  t.name = top.required("name").as_string();
  t.technology = top.required("technology").as_string();
  double energy_scale = 1, area_scale = 1;
  if (auto scale = top.optional("scale")) {
    MapReader s(*scale);
    if (auto e = s.optional("energy")) energy_scale = e->as_double();
    if (auto a = s.optional("area")) area_scale = a->as_double();
    s.required("note").as_string();  // a scaling factor must say where it comes from
    s.finish();
  }
  MapReader entries(top.required("entries"));
  for (const auto& [name, value] : entries.entries()) {
    MapReader f(value);
    EnergyEntry e;
    e.name = name;
    e.energy_pJ = figure(t, f.required("energy_pJ"), false);
    if (auto bits = f.optional("bits")) e.bits = bits->as_int();
    if (auto area = f.optional("area_um2")) e.area_um2 = figure(t, *area, true);
    e.source = f.required("source").as_string();
    f.finish();
    if (e.energy_pJ < 0) value.fail("energy_pJ must not be negative");
    if (e.source.empty()) value.fail("every figure needs its source");
    if (t.find(name)) value.fail(fmt::format("'{}' is defined twice", name));
    t.entries.push_back(e);
  }
  top.finish();
  t.energy_scale = energy_scale;
  t.area_scale = area_scale;
  return t;
}

namespace {

std::optional<double> sum(const std::optional<double>& a, const std::optional<double>& b) {
  return a && b ? std::optional<double>(*a + *b) : std::nullopt;
}

Partial eval(const EnergyTable& t, const YNode& node, const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::number:
      return {e.value, 0.0, std::nullopt};  // a constant energy, no area
    case Expr::Kind::name: {
      const EnergyEntry* entry = t.find(e.name);
      if (!entry)
        node.fail(fmt::format("unknown table entry '{}' in '{}' (table {})", e.name, node.as_string(), t.file));
      return {entry->energy_pJ * t.energy_scale,
              entry->area_um2 ? std::optional<double>(*entry->area_um2 * t.area_scale) : std::nullopt,
              entry->bits > 0 ? std::optional<int64_t>(entry->bits) : std::nullopt};
    }
    case Expr::Kind::binary: {
      const Partial a = eval(t, node, e.args[0]), b = eval(t, node, e.args[1]);
      if (e.op == '+')
        return {a.energy + b.energy, sum(a.area, b.area),
                a.bits && b.bits ? std::optional<int64_t>(*a.bits + *b.bits) : std::nullopt};
      if (e.op == '*') {
        // One side is a count: scale the other side's energy and area by it.
        const bool a_count = e.args[0].kind == Expr::Kind::number, b_count = e.args[1].kind == Expr::Kind::number;
        if (a_count == b_count) node.fail(fmt::format("'{}': multiply a table entry by a number", node.as_string()));
        const Partial& entry = a_count ? b : a;
        const double k = a_count ? e.args[0].value : e.args[1].value;
        return {entry.energy * k, entry.area ? std::optional<double>(*entry.area * k) : std::nullopt,
                entry.bits ? std::optional<int64_t>(static_cast<int64_t>(static_cast<double>(*entry.bits) * k))
                           : std::nullopt};
      }
      break;
    }
    default:
      break;
  }
  node.fail(fmt::format("'{}': a cost is a sum of table entries, each optionally times a count", node.as_string()));
}

Expr parse_cost(const YNode& node, const std::string& text) {
  try {
    return parse_expression(text);
  } catch (const SyntaxError& s) {
    node.fail(fmt::format("bad cost expression '{}': {}", text, s.message));
  }
}

}  // namespace

Cost evaluate_cost(const EnergyTable& table, const YNode& node, std::string_view dtype) {
  Cost c;
  c.text = node.as_string();
  if (const size_t at = c.text.find("{dtype}"); at != std::string::npos) {
    if (dtype.empty()) node.fail(fmt::format("'{}': {{dtype}} only names a compute unit's dtype", c.text));
    for (size_t i = at; i != std::string::npos; i = c.text.find("{dtype}", i)) c.text.replace(i, 7, dtype);
  }
  const Partial p = eval(table, node, parse_cost(node, c.text));
  c.energy_pJ = p.energy;
  c.area_um2 = p.area;
  c.bits = p.bits;
  return c;
}

}  // namespace einsim
