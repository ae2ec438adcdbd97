#include "arch/component.hpp"

#include <algorithm>

namespace einsim {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t spatial_steps(const TileWork& work, const std::map<std::string, int64_t>& sizes) {
  int64_t steps = work.points;
  for (const auto& [dim, extent] : work.spread) steps = steps / extent * ceil_div(extent, sizes.at(dim));
  return steps;
}

int64_t spread_at_most(const std::map<std::string, int64_t>& most, const std::string& dim, int64_t size) {
  const auto it = most.find(dim);
  return it == most.end() ? 1 : std::min(it->second, size);
}

int64_t reduction_levels(const TileWork& work, const std::map<std::string, int64_t>& sizes) {
  int64_t levels = 0;
  for (const auto& [dim, extent] : work.reduced) {
    const int64_t width = std::min(extent, sizes.at(dim));
    if (work.chain_reduction && width > 1)
      levels += width;  // one cycle in each PE the partial passes through
    else
      for (int64_t w = width; w > 1; w = ceil_div(w, 2)) ++levels;
  }
  return levels;
}

}  // namespace einsim
