#include "sim/stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <concepts>
#include <type_traits>

namespace einsim {

namespace {

using Json = nlohmann::ordered_json;

// How a field combines when its part runs n times in a row, and when parts run one after another.
enum class Combine {
  add,        // counts, cycles, energies: times n; parts add up
  same,       // properties of the run (a fidelity, an Einsum's utilization, a placement): the first part's
  max,        // area: one chip runs every part, so the largest
  by_cycles,  // utilization over the whole run: the mean over parts weighted by their cycles
  dominant,   // what bounds the run: the part with the most cycles names it ("part: memory")
  per_part,   // Einsums and placements: each part keeps its own entries, named PART.KEY
  gap,        // (cycle - analytical) / analytical: over the summed cycles of both fidelities
  status,     // ok only when every part is (add_parts checks it first)
};

// One field of a record. `json` is its key (a second key nests it: roofline_cycles.compute); `column` starts its
// result column's name ("" adds nothing to the name, nullptr means no column) and `tail` ends it, after the keys
// of any maps in between: energy_by_action_pJ -> energy_<component>_<action>_pJ. `table` and `label` say where
// people read it (nullptr: not printed); a label with {} takes the key of an inner map: "stalled on {}".
struct Field {
  const char* json;
  const char* json_inner = nullptr;
  const char* column = nullptr;
  const char* tail = nullptr;
  Combine combine = Combine::same;
  StatsTable table = StatsTable::headline;
  const char* label = nullptr;
  Show show = Show::text;
};

// The field lists: the only place a record's fields are written out. Member order is JSON order.
template <class V, class T, class... More>
void fields(V&& v, T& r, More&... more) {
  using R = std::remove_const_t<T>;
  if constexpr (std::is_same_v<R, EvalStatus>) {
    v(Field{"ok"}, r.ok, more.ok...);
    v(Field{"reason"}, r.reason, more.reason...);
  } else if constexpr (std::is_same_v<R, Traffic>) {
    v(Field{"read", nullptr, "read", nullptr, Combine::add, StatsTable::component, "read bytes", Show::count}, r.read,
      more.read...);
    v(Field{"write", nullptr, "write", nullptr, Combine::add, StatsTable::component, "written bytes", Show::count},
      r.write, more.write...);
  } else if constexpr (std::is_same_v<R, EinsumStats>) {
    v(Field{"unit", nullptr, "unit", nullptr, Combine::same, StatsTable::einsum, "unit"}, r.unit, more.unit...);
    v(Field{"cycles", nullptr, "cycles", nullptr, Combine::add, StatsTable::einsum, "cycles", Show::count}, r.cycles,
      more.cycles...);
    v(Field{"utilization", nullptr, "utilization", nullptr, Combine::same, StatsTable::einsum, "utilization",
            Show::percent},
      r.utilization, more.utilization...);
    v(Field{"ops", nullptr, "ops", nullptr, Combine::add, StatsTable::einsum, "ops", Show::counts}, r.ops, more.ops...);
  } else if constexpr (std::is_same_v<R, GroupStats>) {
    v(Field{"cycles", nullptr, "cycles", nullptr, Combine::add, StatsTable::group, "cycles", Show::count}, r.cycles,
      more.cycles...);
    v(Field{"cores", nullptr, "cores", nullptr, Combine::same, StatsTable::group, "cores", Show::count}, r.cores,
      more.cores...);
    v(Field{"devices", nullptr, "devices", nullptr, Combine::same, StatsTable::group, "devices", Show::count},
      r.devices, more.devices...);
    v(Field{"buffer_stages", nullptr, "buffer_stages", nullptr, Combine::same, StatsTable::group, "buffer stages",
            Show::count},
      r.buffer_stages, more.buffer_stages...);
  } else if constexpr (std::is_same_v<R, PlaceRoofline>) {
    v(Field{"ridge_op_per_byte", nullptr, "ridge_op_per_byte"}, r.ridge_op_per_byte, more.ridge_op_per_byte...);
    v(Field{"roofline_s", nullptr, "roofline_s"}, r.roofline_s, more.roofline_s...);
  } else if constexpr (std::is_same_v<R, PlacementStats>) {
    v(Field{"place", nullptr, ""}, r.place, more.place...);
    v(Field{"op_per_byte", nullptr, "op_per_byte"}, r.op_per_byte, more.op_per_byte...);
    v(Field{"options", nullptr, ""}, r.options, more.options...);
  } else {
    static_assert(std::is_same_v<R, Stats>);
    v(Field{"fidelity"}, r.fidelity, more.fidelity...);
    v(Field{"status", nullptr, nullptr, nullptr, Combine::status}, r.status, more.status...);
    using enum StatsTable;
    v(Field{"cycles", nullptr, "cycles", nullptr, Combine::add, headline, "cycles", Show::count}, r.cycles,
      more.cycles...);
    v(Field{"latency_s", nullptr, "latency_s", nullptr, Combine::add, headline, "latency", Show::seconds}, r.latency_s,
      more.latency_s...);
    v(Field{"energy_pJ", nullptr, "energy_pJ", nullptr, Combine::add, headline, "energy (pJ)", Show::real}, r.energy_pJ,
      more.energy_pJ...);
    v(Field{"area_mm2", nullptr, "area_mm2", nullptr, Combine::max, headline, "area (mm2)", Show::real}, r.area_mm2,
      more.area_mm2...);
    v(Field{"bound", nullptr, "bound", nullptr, Combine::dominant, headline, "bound by"}, r.bound, more.bound...);
    v(Field{"footprint_bytes", nullptr, "footprint_bytes", nullptr, Combine::max, headline, "memory footprint (bytes)",
            Show::count},
      r.footprint_bytes, more.footprint_bytes...);
    v(Field{"utilization", nullptr, "utilization", nullptr, Combine::by_cycles, unit, "utilization", Show::percent},
      r.utilization, more.utilization...);
    v(Field{"busy_cycles", nullptr, "busy_cycles", nullptr, Combine::add, unit, "busy cycles", Show::count},
      r.busy_cycles, more.busy_cycles...);
    v(Field{"traffic_bytes", nullptr, "traffic", nullptr, Combine::add, component}, r.traffic_bytes,
      more.traffic_bytes...);
    v(Field{"einsums", nullptr, "einsum", nullptr, Combine::per_part, einsum}, r.einsums, more.einsums...);
    v(Field{"groups", nullptr, "group", nullptr, Combine::per_part, group}, r.groups, more.groups...);
    // Printed with why each group went where it did (app/model.cpp), not as a table of its fields.
    v(Field{"placements", nullptr, "place", nullptr, Combine::per_part}, r.placements, more.placements...);
    v(Field{"energy_breakdown_pJ", nullptr, "energy", "pJ", Combine::add, component, "energy (pJ)", Show::real},
      r.energy_breakdown_pJ, more.energy_breakdown_pJ...);
    v(Field{"energy_by_action_pJ", nullptr, "energy", "pJ", Combine::add, component, "{} (pJ)", Show::real},
      r.energy_by_action_pJ, more.energy_by_action_pJ...);
    v(Field{"area_breakdown_mm2", nullptr, "area", "mm2", Combine::max, component, "area (mm2)", Show::real},
      r.area_breakdown_mm2, more.area_breakdown_mm2...);
    v(Field{"roofline_cycles", "compute", "roofline_compute_cycles", nullptr, Combine::add, headline,
            "roofline: compute cycles", Show::count},
      r.roofline_compute_cycles, more.roofline_compute_cycles...);
    v(Field{"roofline_cycles", "memory", "roofline_memory_cycles", nullptr, Combine::add, headline,
            "roofline: memory cycles", Show::count},
      r.roofline_memory_cycles, more.roofline_memory_cycles...);
    v(Field{"stall_cycles", nullptr, "stall", nullptr, Combine::add, unit, "stalled on {}", Show::count},
      r.stall_cycles, more.stall_cycles...);
    v(Field{"gap_vs_analytical", nullptr, "gap_vs_analytical", nullptr, Combine::gap, headline,
            "against the analytical model", Show::signed_percent},
      r.gap_vs_analytical, more.gap_vs_analytical...);
    v(Field{"buffer_conflict_cycles", nullptr, "buffer_conflict_cycles", nullptr, Combine::add, headline,
            "cycles waiting for a buffer port", Show::count},
      r.buffer_conflict_cycles, more.buffer_conflict_cycles...);
  }
}

template <class T>
concept Record = std::is_same_v<T, Stats> || std::is_same_v<T, EvalStatus> || std::is_same_v<T, Traffic> ||
    std::is_same_v<T, EinsumStats> || std::is_same_v<T, GroupStats> || std::is_same_v<T, PlaceRoofline> ||
    std::is_same_v<T, PlacementStats>;
template <class T>
struct is_map : std::false_type {};
template <class V>
struct is_map<std::map<std::string, V>> : std::true_type {};
template <class T>
struct is_optional : std::false_type {};
template <class V>
struct is_optional<std::optional<V>> : std::true_type {};

// ---- JSON, both ways ----

template <class T>
Json json_of(const T& v) {
  if constexpr (Record<T>) {
    Json j = Json::object();
    fields([&](const Field& f,
               const auto& member) { (f.json_inner ? j[f.json][f.json_inner] : j[f.json]) = json_of(member); },
           v);
    return j;
  } else if constexpr (is_map<T>::value) {
    Json j = Json::object();
    for (const auto& [key, value] : v) j[key] = json_of(value);
    return j;
  } else if constexpr (is_optional<T>::value) {
    return v ? json_of(*v) : Json(nullptr);
  } else if constexpr (std::is_same_v<T, Fidelity>) {
    return Json(fidelity_name(v));
  } else {
    return Json(v);
  }
}

template <class T>
void read_json(const Json& j, T& v) {
  if constexpr (Record<T>) {
    fields([&](const Field& f,
               auto& member) { read_json(f.json_inner ? j.at(f.json).at(f.json_inner) : j.at(f.json), member); },
           v);
  } else if constexpr (is_map<T>::value) {
    for (const auto& [key, value] : j.items()) read_json(value, v[key]);
  } else if constexpr (is_optional<T>::value) {
    if (j.is_null())
      v.reset();
    else
      read_json(j, v.emplace());
  } else if constexpr (std::is_same_v<T, Fidelity>) {
    const auto f = parse_fidelity(j.get<std::string>());
    if (!f) throw std::invalid_argument("unknown fidelity " + j.get<std::string>());
    v = *f;
  } else {
    v = j.get<T>();
  }
}

// ---- result columns ----

std::string column_name(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  return s;
}

// `name` so far: the field's column and the keys of the maps above `v`, joined by '_'; each level appends its
// part and takes it off again, so a column's name is built once.
template <class T>
void columns(const T& v, std::string& name, const char* tail, Row& out) {
  const size_t keep = name.size();
  auto append = [&name](std::string_view part) {
    if (part.empty()) return;
    if (!name.empty()) name += '_';
    name += part;
  };
  if constexpr (Record<T>) {
    fields(
        [&](const Field& f, const auto& member) {
          if (!f.column) return;
          append(f.column);
          columns(member, name, f.tail ? f.tail : tail, out);
          name.resize(keep);
        },
        v);
  } else if constexpr (is_map<T>::value) {
    for (const auto& [key, value] : v) {
      append(key);
      columns(value, name, tail, out);
      name.resize(keep);
    }
  } else {
    Cell cell;
    if constexpr (is_optional<T>::value) {
      if (v) cell = *v;
    } else if constexpr (std::is_same_v<T, bool>) {
      cell = int64_t{v};
    } else if constexpr (std::is_same_v<T, Fidelity>) {
      cell = std::string(fidelity_name(v));
    } else {
      cell = v;
    }
    if (tail) append(tail);
    out.emplace_back(column_name(name), std::move(cell));
    name.resize(keep);
  }
}

// ---- printing ----

// Where a value is printed: its table, its row (the key of the map it sits in) and its column.
struct Place {
  StatsTable table;
  std::string row;
  std::string column;
  Show show;
};

template <class T>
void printed(const T& v, const Place& at, std::vector<PrintedCell>& out) {
  if constexpr (Record<T>) {
    fields(
        [&](const Field& f, const auto& member) {
          // A field with a label is printed; a map of records with a table (Einsums, traffic) prints their fields.
          if (f.label || f.table != StatsTable::headline)
            printed(member, Place{f.table, at.row, f.label ? f.label : "", f.show}, out);
        },
        v);
  } else if constexpr (is_map<T>::value) {
    for (const auto& [key, value] : v) {
      if (at.row.empty() && at.table != StatsTable::headline)  // the outer map: its keys are the table's rows
        printed(value, Place{at.table, key, at.column, at.show}, out);
      else if (at.show == Show::counts)  // counts by kind: one cell
        printed(value, Place{at.table, at.row, at.column + "\x1f" + key, at.show}, out);
      else  // an inner map: its keys name columns
        printed(value, Place{at.table, at.row, fmt::format(fmt::runtime(at.column), key), at.show}, out);
    }
  } else if constexpr (is_optional<T>::value) {
    if (v) printed(*v, at, out);
  } else {
    Cell cell;
    if constexpr (std::is_same_v<T, bool>) {
      cell = int64_t{v};
    } else if constexpr (std::is_same_v<T, Fidelity>) {
      cell = std::string(fidelity_name(v));
    } else {
      cell = v;
    }
    std::string column = at.column, kind;
    if (const size_t k = column.find('\x1f'); k != std::string::npos) {
      kind = column.substr(k + 1);
      column.resize(k);
    }
    out.push_back(PrintedCell{at.table, at.row, column, kind, std::move(cell), at.show});
  }
}

// ---- repeats ----

template <class T>
void scale(T& v, int64_t n, Combine c) {
  if constexpr (Record<T>) {
    fields([&](const Field& f, auto& member) { scale(member, n, f.combine); }, v);
  } else if constexpr (is_map<T>::value) {
    for (auto& [key, value] : v) scale(value, n, c);
  } else if constexpr (is_optional<T>::value) {
    if (v) scale(*v, n, c);
  } else if constexpr (std::is_same_v<T, int64_t>) {
    if (c == Combine::add) v *= n;
  } else if constexpr (std::is_same_v<T, double>) {
    if (c == Combine::add) v *= static_cast<double>(n);
  }
}

// ---- parts ----

struct Part {
  const std::string& name;
  const Stats& stats;
  bool first;     // the first part
  bool dominant;  // the first part with the most cycles
};

template <class T>
void accumulate(T& sum, const T& part, Combine c, const Part& p) {
  if constexpr (Record<T>) {
    fields([&](const Field& f, auto& s, const auto& x) { accumulate(s, x, f.combine, p); }, sum, part);
  } else if constexpr (is_map<T>::value) {
    for (const auto& [key, value] : part) {
      if (c == Combine::per_part)
        sum[p.name + "." + key] = value;
      else
        accumulate(sum[key], value, c, p);
    }
  } else if constexpr (is_optional<T>::value) {
    if (part) accumulate(sum ? *sum : sum.emplace(), *part, c, p);
  } else if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    if (c == Combine::add)
      sum += part;
    else if (c == Combine::max)
      sum = std::max(sum, part);
    else if constexpr (std::is_same_v<T, double>) {
      if (c == Combine::by_cycles)
        sum += part * static_cast<double>(p.stats.cycles);  // divided at the end
      else if (c == Combine::gap)
        sum += static_cast<double>(p.stats.cycles) / (1 + part);  // analytical cycles
      else if (p.first)
        sum = part;
    } else if (p.first) {
      sum = part;
    }
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (c == Combine::dominant) {
      if (p.dominant) sum = p.name + ": " + part;
    } else if (p.first) {
      sum = part;
    }
  } else {
    if (p.first) sum = part;
  }
}

template <class T>
void finish(T& sum, Combine c, const Stats& total, bool first_has_gap) {
  if constexpr (is_map<T>::value) {
    for (auto& [key, value] : sum) finish(value, c, total, first_has_gap);
  } else if constexpr (is_optional<T>::value) {
    if constexpr (std::is_same_v<T, std::optional<double>>)
      if (c == Combine::gap) {
        if (sum && first_has_gap)
          *sum = static_cast<double>(total.cycles) / *sum - 1;  // from analytical cycles
        else
          sum.reset();
      }
  } else if constexpr (std::is_same_v<T, double>) {
    if (c == Combine::by_cycles) sum = total.cycles ? sum / static_cast<double>(total.cycles) : 0;
  }
}

}  // namespace

std::string_view fidelity_name(Fidelity f) { return f == Fidelity::analytical ? "analytical" : "cycle"; }

std::optional<Fidelity> parse_fidelity(std::string_view name) {
  if (name == "analytical") return Fidelity::analytical;
  if (name == "cycle") return Fidelity::cycle;
  return std::nullopt;
}

Json to_json(const Stats& s) { return json_of(s); }

Stats stats_from_json(const Json& j) {
  Stats s;
  read_json(j, s);
  return s;
}

std::vector<PrintedCell> printed_cells(const Stats& s) {
  std::vector<PrintedCell> out;
  printed(s, Place{StatsTable::headline, "", "", Show::text}, out);
  return out;
}

Row flatten(const Stats& s) {
  Row r;
  r.reserve(256);
  std::string name;
  columns(s, name, nullptr, r);
  return r;
}

Stats repeated(const Stats& s, int64_t n) {
  if (n == 1 || !s.status.ok) return s;
  Stats r = s;
  scale(r, n, Combine::same);
  return r;
}

Stats add_parts(const std::vector<std::pair<std::string, Stats>>& parts) {
  if (parts.size() == 1) return parts[0].second;
  for (const auto& [name, p] : parts)
    if (!p.status.ok) {
      Stats s = p;
      s.status.reason = name + ": " + p.status.reason;
      return s;
    }
  size_t dominant = 0;
  for (size_t i = 1; i < parts.size(); ++i)
    if (parts[i].second.cycles > parts[dominant].second.cycles) dominant = i;
  Stats s;
  for (size_t i = 0; i < parts.size(); ++i)
    accumulate(s, parts[i].second, Combine::same, Part{parts[i].first, parts[i].second, i == 0, i == dominant});
  const bool first_has_gap = parts[0].second.gap_vs_analytical.has_value();
  fields([&](const Field& f, auto& member) { finish(member, f.combine, s, first_has_gap); }, s);
  return s;
}

}  // namespace einsim
