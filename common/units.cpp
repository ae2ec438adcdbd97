#include "common/units.hpp"

#include <fmt/format.h>

#include <cmath>
#include <utility>
#include <vector>

namespace einsim {
namespace {

double parse_quantity(const YNode& node, const std::vector<std::pair<std::string, double>>& units, const char* what) {
  const std::string text = node.as_string();
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    node.fail(fmt::format("expected {}, got '{}'", what, text));
  }
  std::string unit = text.substr(used);
  unit.erase(0, unit.find_first_not_of(' '));
  if (!std::isfinite(value) || value < 0)
    node.fail(fmt::format("expected {}, finite and not negative, got '{}'", what, text));
  if (unit.empty()) return value;
  std::string known;
  for (const auto& [name, scale] : units) {
    if (name == unit) return value * scale;
    known += (known.empty() ? "" : ", ") + name;
  }
  node.fail(fmt::format("unknown unit '{}' in '{}' (known: {})", unit, text, known));
}

}  // namespace

double parse_bytes(const YNode& node) {
  return parse_quantity(node,
                        {{"B", 1},
                         {"KiB", 1024},
                         {"MiB", 1024.0 * 1024},
                         {"GiB", 1024.0 * 1024 * 1024},
                         {"KB", 1e3},
                         {"MB", 1e6},
                         {"GB", 1e9},
                         {"b", 1.0 / 8},
                         {"Kib", 1024.0 / 8},
                         {"Mib", 1024.0 * 1024 / 8}},
                        "a size such as 16 MiB");
}

double parse_bandwidth(const YNode& node) {
  const double v = parse_quantity(node,
                                  {{"B/s", 1},
                                   {"KiB/s", 1024},
                                   {"MiB/s", 1024.0 * 1024},
                                   {"GiB/s", 1024.0 * 1024 * 1024},
                                   {"KB/s", 1e3},
                                   {"MB/s", 1e6},
                                   {"GB/s", 1e9},
                                   {"TB/s", 1e12}},
                                  "a bandwidth such as 400 GiB/s");
  // Below this no memory is modelled, and a run's transfer cycles would pass what 64-bit counts hold.
  if (v < 1e3) node.fail(fmt::format("a bandwidth must be at least 1 KB/s, got {:g} B/s", v));
  return v;
}

double parse_frequency(const YNode& node) {
  return parse_quantity(node, {{"Hz", 1}, {"kHz", 1e3}, {"MHz", 1e6}, {"GHz", 1e9}}, "a frequency such as 940 MHz");
}

double parse_duration(const YNode& node) {
  return parse_quantity(node, {{"ps", 1e-12}, {"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1}},
                        "a duration such as 30 ns");
}

std::string format_bytes(double bytes) {
  static const char* names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (bytes >= 1024 && i < 4) {
    bytes /= 1024;
    ++i;
  }
  return fmt::format("{:g} {}", std::round(bytes * 100) / 100, names[i]);
}

}  // namespace einsim
