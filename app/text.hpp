#pragma once
// Text the subcommands print: aligned tables, grouped integers, op counts, times.
#include <cstdint>
#include <string>
#include <vector>

#include "workloads/analysis.hpp"
#include "workloads/cascade.hpp"

namespace einsim::app {

// Aligned columns for human-readable tables.
std::string table(const std::vector<std::vector<std::string>>& rows, const std::string& indent = "  ");
std::string grouped(int64_t n);  // 1,234,567
std::string ops_text(const OpCounts& ops);
std::string seconds_text(double s);       // "80.3 us": seconds with a prefix, 3 significant digits
std::string shape_text(const Tensor& t);  // [m=64, p=1024]
std::vector<int64_t> shape_of(const Tensor& t);

}  // namespace einsim::app
