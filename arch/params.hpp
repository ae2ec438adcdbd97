#pragma once
// A component kind's parameter table: each parameter's name, type (which sets its unit and how it is read),
// whether it is required or its default, and a one-line description. The table decides which keys a
// component's YAML may have, reads and range-checks them, and describes the kind in `einsim arch --kinds`.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/yaml.hpp"

namespace einsim {

enum class ParamType {
  count,      // an integer from 1 to 2^40 (sizes and counts of hardware)
  bytes,      // "64 KiB"
  bandwidth,  // "1.6 TB/s"
  frequency,  // "1 GHz"
  duration,   // "100 ns"
  flag,       // true or false
  choice,     // one of the parameter's choices
  dtype,      // a datatype name (bf16, int8, ...)
  text,       // a name (of another component)
  names,      // a list of names (of other components)
  cost,       // an expression over the energy table's entries
  ops,        // a map of op kinds to {latency_cycles, interval_cycles, function_unit, energy}
  per_dtype,  // a count, or a map from dtype to count
  preset,     // a DRAM preset: a name in configs/dram/, or a file relative to the architecture's
};
std::string_view param_type_name(ParamType t);
std::string_view param_unit(ParamType t);

// A size or count of hardware at `n`: at least 1, and at most 2^40 so that products of a few stay exact;
// UserError "WHAT must be between 1 and 2^40, got V" otherwise.
int64_t read_count(const YNode& n, const std::string& what);

struct ParamDef {
  ParamDef(std::string n, ParamType t, bool req, std::string def, std::string desc,
           std::vector<std::string> options = {})
      : name(std::move(n)),
        type(t),
        required(req),
        default_value(std::move(def)),
        description(std::move(desc)),
        choices(std::move(options)) {}
  std::string name;
  ParamType type;
  bool required = false;
  std::string default_value;  // as it would be written in YAML; empty: none (the kind decides)
  std::string description;
  std::vector<std::string> choices;  // for ParamType::choice
};

using ParamTable = std::vector<ParamDef>;

// A parameter as read: the checked value of the simple types, and the node it came from (its location, and
// the text that cost, ops, per_dtype and preset parameters are built from).
struct ParamValue {
  std::variant<std::monostate, int64_t, double, bool, std::string, std::vector<std::string>> value;
  std::optional<YNode> node;  // absent for a default
};

// The parameters of one component, read through its kind's table.
class ParamValues {
 public:
  // Reads every key of the component's map but `kind` through the table, in the table's order; unknown keys,
  // missing required ones and values out of range are UserErrors at their node.
  ParamValues(const ParamTable& table, const YNode& component);
  ParamValues() = default;

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  int64_t count(const std::string& name) const;
  double real(const std::string& name) const;  // bytes, bandwidth, frequency, duration
  bool flag(const std::string& name) const;
  const std::string& text(const std::string& name) const;  // choice, dtype and text
  const std::vector<std::string>& names(const std::string& name) const;
  // The node a parameter was written at (cost, ops, per_dtype, preset; and for errors about any).
  const YNode& node(const std::string& name) const;
  std::optional<YNode> node_if(const std::string& name) const;
  const YNode& component() const { return component_; }

  // An override (`--set arch.COMPONENT.KEY=VALUE`, a sweep axis): the parameter `path[0]` read anew, through
  // its table entry, from `value`; a longer path edits inside the parameter's map (ops.mac.energy). UserError
  // naming `option` for a key the table lacks.
  void set(const std::vector<std::string>& path, const std::string& value, const std::string& option);

 private:
  const ParamValue& at(const std::string& name) const;
  const ParamTable* table_ = nullptr;
  YNode component_{YAML::Node(), "", ""};
  std::map<std::string, ParamValue> values_;
};

}  // namespace einsim
