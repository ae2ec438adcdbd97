#pragma once
// Energy and area tables (configs/energy/*.yaml): named figures, each with the source it was taken from, and
// expressions over them ("6*fp16_mac + fp16_add") for composite actions.
#include <optional>
#include <string>
#include <vector>

#include "common/yaml.hpp"

namespace einsim {

struct EnergyEntry {
  std::string name;
  double energy_pJ = 0;            // per action: one op, or one access of `bits`
  int64_t bits = 0;                // for accesses: bits moved by one action; 0 for ops
  std::optional<double> area_um2;  // of one instance; absent when no public figure exists
  std::string source;
};

struct EnergyTable {
  std::string name;
  std::string file;
  std::string technology;
  double energy_scale = 1;  // explicit node scaling applied to every energy figure (documented in the file)
  double area_scale = 1;
  std::vector<EnergyEntry> entries;

  const EnergyEntry* find(const std::string& name) const;
};

EnergyTable load_energy_table(const std::string& file);

// A cost expression over table entries: numbers, entry names, + and *. Evaluated once when an arch is loaded.
struct Cost {
  std::string text;
  double energy_pJ = 0;            // scaled
  std::optional<double> area_um2;  // absent when any entry it names has no area figure
  std::optional<int64_t> bits;     // bits one action moves, when every entry it names is an access figure
};
// Throws UserError at `node` when the expression is malformed or names an unknown entry. A compute unit's
// costs may say "{dtype}" for its dtype's name ("{dtype}_mac" is int8_mac on an int8 array).
Cost evaluate_cost(const EnergyTable& table, const YNode& node, std::string_view dtype = {});

}  // namespace einsim
