#include "app/text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace einsim::app {

std::string table(const std::vector<std::vector<std::string>>& rows, const std::string& indent) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      width.resize(std::max(width.size(), r.size()));
      width[i] = std::max(width[i], r[i].size());
    }
  std::string out;
  for (const auto& r : rows) {
    std::string line = indent;
    for (size_t i = 0; i < r.size(); ++i) line += fmt::format("{:<{}}", r[i], i + 1 < r.size() ? width[i] + 2 : 0);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string grouped(int64_t n) {
  std::string s = std::to_string(n >= 0 ? n : -n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string ops_text(const OpCounts& ops) {
  std::string s;
  for (const auto& [k, n] : ops) s += (s.empty() ? "" : "  ") + k + " " + grouped(n);
  return s.empty() ? "-" : s;
}

std::string seconds_text(double s) {
  if (s >= 1 || s == 0) return fmt::format("{:.3g} s", s);
  if (s >= 1e-3) return fmt::format("{:.3g} ms", s * 1e3);
  if (s >= 1e-6) return fmt::format("{:.3g} us", s * 1e6);
  return fmt::format("{:.3g} ns", s * 1e9);
}

std::string shape_text(const Tensor& t) {
  std::string s;
  for (const Rank& r : t.ranks) s += (s.empty() ? "" : ", ") + fmt::format("{}={}", r.name, r.extent);
  return "[" + s + "]";
}

std::vector<int64_t> shape_of(const Tensor& t) {
  std::vector<int64_t> s;
  for (const Rank& r : t.ranks) s.push_back(r.extent);
  return s;
}

}  // namespace einsim::app
