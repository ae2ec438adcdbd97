#include "arch/params.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "common/units.hpp"
#include "workloads/dtype.hpp"

namespace einsim {

std::string_view param_type_name(ParamType t) {
  switch (t) {
    case ParamType::count:
      return "count";
    case ParamType::bytes:
      return "bytes";
    case ParamType::bandwidth:
      return "bandwidth";
    case ParamType::frequency:
      return "frequency";
    case ParamType::duration:
      return "duration";
    case ParamType::flag:
      return "flag";
    case ParamType::choice:
      return "choice";
    case ParamType::dtype:
      return "dtype";
    case ParamType::text:
      return "name";
    case ParamType::names:
      return "list of names";
    case ParamType::cost:
      return "cost";
    case ParamType::ops:
      return "ops";
    case ParamType::per_dtype:
      return "count or {dtype: count}";
    case ParamType::preset:
      return "DRAM preset";
  }
  return "?";
}

std::string_view param_unit(ParamType t) {
  switch (t) {
    case ParamType::bytes:
      return "B";
    case ParamType::bandwidth:
      return "B/s";
    case ParamType::frequency:
      return "Hz";
    case ParamType::duration:
      return "s";
    case ParamType::cost:
      return "pJ, um2";
    default:
      return "";
  }
}

namespace {

ParamValue read(const ParamDef& def, const YNode& n) {
  ParamValue v;
  v.node = n;
  switch (def.type) {
    case ParamType::count:
      v.value = read_count(n, def.name);
      break;
    case ParamType::bytes:
      v.value = parse_bytes(n);
      break;
    case ParamType::bandwidth:
      v.value = parse_bandwidth(n);
      break;
    case ParamType::frequency:
      v.value = parse_frequency(n);
      break;
    case ParamType::duration:
      v.value = parse_duration(n);
      break;
    case ParamType::flag:
      v.value = n.as_bool();
      break;
    case ParamType::choice: {
      const std::string s = n.as_string();
      if (std::find(def.choices.begin(), def.choices.end(), s) == def.choices.end())
        n.fail(fmt::format("unknown {} '{}' (known: {})", def.name, s, fmt::join(def.choices, ", ")));
      v.value = s;
      break;
    }
    case ParamType::dtype: {
      const std::string s = n.as_string();
      if (!parse_dtype(s)) n.fail(fmt::format("unknown dtype '{}' (known: {})", s, dtype_names()));
      v.value = s;
      break;
    }
    case ParamType::text:
      v.value = n.as_string();
      break;
    case ParamType::names: {  // [a, b], or one name (as `--set` gives it)
      std::vector<std::string> names;
      for (const YNode& item : n.is_sequence() ? n.items() : std::vector<YNode>{n}) names.push_back(item.as_string());
      v.value = std::move(names);
      break;
    }
    case ParamType::cost:
    case ParamType::ops:
    case ParamType::per_dtype:
    case ParamType::preset:
      break;  // built by the kind, from the node
  }
  return v;
}

}  // namespace

int64_t read_count(const YNode& n, const std::string& what) {
  const int64_t v = n.as_int();
  if (v < 1 || v > (int64_t{1} << 40)) n.fail(fmt::format("{} must be between 1 and 2^40, got {}", what, v));
  return v;
}

ParamValues::ParamValues(const ParamTable& table, const YNode& component) : table_(&table), component_(component) {
  MapReader m(component);
  m.optional("kind");  // the registry's, already read
  for (const ParamDef& def : table) {
    std::optional<YNode> n = def.required ? std::optional<YNode>(m.required(def.name)) : m.optional(def.name);
    if (!n && !def.default_value.empty()) {
      ParamValue v =
          read(def, YNode(YAML::Load(def.default_value), component.file(), component.path() + "." + def.name));
      v.node.reset();
      values_.emplace(def.name, std::move(v));
    } else if (n) {
      values_.emplace(def.name, read(def, *n));
    }
  }
  m.finish();
}

void ParamValues::set(const std::vector<std::string>& path, const std::string& value, const std::string& option) {
  const auto def = std::find_if(table_->begin(), table_->end(), [&](const ParamDef& d) { return d.name == path[0]; });
  if (def == table_->end()) {
    std::vector<std::string> names;
    for (const ParamDef& d : *table_) names.push_back(d.name);
    throw UserError(SourceLoc{}, option,
                    path[0] == "kind" ? "a component's kind cannot be overridden"
                                      : fmt::format("unknown key (expected one of: {})", fmt::join(names, ", ")));
  }
  const std::string where = component_.path() + "." + path[0];
  YNode node(YAML::Node(value), component_.file(), where);
  if (path.size() > 1) {  // an edit inside the parameter's map, on a copy of it
    const auto it = values_.find(path[0]);
    if (it == values_.end() || !it->second.node)
      throw UserError(SourceLoc{}, option, fmt::format("{} has no '{}' to edit inside", component_.path(), path[0]));
    node = YNode(YAML::Clone(it->second.node->raw()), component_.file(), where);
    set_path(node, std::vector<std::string>(path.begin() + 1, path.end()), value, option);
  }
  values_[path[0]] = read(*def, node);
}

const ParamValue& ParamValues::at(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end())
    throw InternalError(fmt::format("parameter '{}' read but not set (give it a default or check has())", name));
  return it->second;
}

int64_t ParamValues::count(const std::string& name) const { return std::get<int64_t>(at(name).value); }
double ParamValues::real(const std::string& name) const { return std::get<double>(at(name).value); }
bool ParamValues::flag(const std::string& name) const { return std::get<bool>(at(name).value); }
const std::string& ParamValues::text(const std::string& name) const { return std::get<std::string>(at(name).value); }
const std::vector<std::string>& ParamValues::names(const std::string& name) const {
  return std::get<std::vector<std::string>>(at(name).value);
}

const YNode& ParamValues::node(const std::string& name) const {
  const ParamValue& v = at(name);
  if (!v.node) throw InternalError(fmt::format("parameter '{}' has no node: it took its default", name));
  return *v.node;
}

std::optional<YNode> ParamValues::node_if(const std::string& name) const {
  const auto it = values_.find(name);
  return it == values_.end() ? std::nullopt : it->second.node;
}

}  // namespace einsim
