#include "workloads/params.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <memory>

#include "workloads/expr.hpp"

namespace einsim {
namespace {

bool is_integer_text(const std::string& text) {
  const size_t digits = text.empty() || (text[0] != '-' && text[0] != '+') ? 0 : 1;
  return text.size() > digits && text.find_first_not_of("0123456789", digits) == std::string::npos;
}

}  // namespace

bool parse_number(const std::string& text, double& value, bool& integer) {
  size_t used = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return false;
  }
  if (used != text.size() || std::isnan(value)) return false;
  integer = is_integer_text(text);
  return true;
}

namespace {

// An integer's text whose value a double holds exactly (|v| <= 2^53); one past int64 is simply too large.
bool fits_exactly(const std::string& text) {
  const char* begin = text.data() + (text[0] == '+' ? 1 : 0);
  const char* end = text.data() + text.size();
  long long v = 0;
  const auto [stop, error] = std::from_chars(begin, end, v);
  return error == std::errc() && stop == end && std::llabs(v) <= static_cast<long long>(kMaxExactInteger);
}

class ParamResolver {
 public:
  explicit ParamResolver(std::vector<RawParam> raw) : raw_(std::move(raw)) {}

  std::vector<Param> resolve() {
    for (size_t i = 0; i < raw_.size(); ++i) value_of(i);
    std::vector<Param> out;
    for (size_t i = 0; i < raw_.size(); ++i) out.push_back(*done_[raw_[i].name]);
    return out;
  }

 private:
  [[noreturn]] void fail(size_t i, const std::string& message) const {
    throw UserError(raw_[i].loc, raw_[i].key, message);
  }

  const Param& value_of(size_t i) {
    const RawParam& rp = raw_[i];
    if (auto it = done_.find(rp.name); it != done_.end()) return *it->second;
    if (std::find(active_.begin(), active_.end(), rp.name) != active_.end())
      fail(i, fmt::format("params depend on each other in a cycle: {} -> {}", fmt::join(active_, " -> "), rp.name));
    active_.push_back(rp.name);
    Param p;
    p.name = rp.name;
    p.source = rp.key;
    double number = 0;
    bool integer = false;
    if (parse_number(rp.text, number, integer)) {
      const bool exact = !integer || fits_exactly(rp.text);
      if (!exact) fail(i, fmt::format("integer {} is too large (params stay below 2^53)", rp.text));
      p.value = number;
      p.integer = integer;
    } else {
      Expr e;
      try {
        e = parse_expression(rp.text);
      } catch (const SyntaxError& s) {
        fail(i, fmt::format("bad expression '{}': {} at column {}", rp.text, s.message, s.col + 1));
      }
      p.value = static_cast<double>(eval(i, e));
      p.integer = true;
    }
    active_.pop_back();
    storage_.push_back(std::make_unique<Param>(p));
    return *(done_[rp.name] = storage_.back().get());
  }

  int64_t eval(size_t i, const Expr& e) {
    auto lookup = [&](const std::string& name) -> int64_t {
      auto it = std::find_if(raw_.begin(), raw_.end(), [&](const RawParam& r) { return r.name == name; });
      if (it == raw_.end()) fail(i, fmt::format("'{}': undefined param '{}'", raw_[i].text, name));
      const Param& p = value_of(static_cast<size_t>(it - raw_.begin()));
      if (!p.integer) fail(i, fmt::format("'{}': param '{}' is not an integer", raw_[i].text, name));
      return static_cast<int64_t>(p.value);
    };
    return evaluate_integer(e, lookup,
                            [&](const std::string& why) { fail(i, fmt::format("'{}': {}", raw_[i].text, why)); });
  }

  std::vector<RawParam> raw_;
  std::map<std::string, Param*> done_;
  std::vector<std::unique_ptr<Param>> storage_;
  std::vector<std::string> active_;
};

}  // namespace

std::vector<Param> resolve_params(std::vector<RawParam> raw) { return ParamResolver(std::move(raw)).resolve(); }

}  // namespace einsim
