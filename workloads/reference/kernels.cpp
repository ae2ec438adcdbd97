#include <fmt/format.h>

#include "common/error.hpp"
#include "workloads/reference/check.hpp"

namespace einsim::reference {

std::string_view backend_name(Backend b) { return b == Backend::cuda ? "cuda" : "cpu"; }

namespace detail {

void check_sizes(const char* kernel, std::initializer_list<std::pair<const char*, int64_t>> sizes) {
  for (const auto& [name, value] : sizes)
    if (value < 1) throw UserError(fmt::format("reference {}: {} must be at least 1, not {}", kernel, name, value));
}

void check_out_dtype(const char* kernel, DType t) {
  if (t != DType::fp32 && t != DType::bf16 && t != DType::fp16)
    throw UserError(
        fmt::format("reference {}: output dtype must be fp32, bf16 or fp16, not {}", kernel, dtype_name(t)));
}

void check_attention(const char* kernel, const AttentionShape& s) {
  check_sizes(kernel, {{"B", s.B}, {"H", s.H}, {"KH", s.KH}, {"M", s.M}, {"P", s.P}, {"E", s.E}, {"F", s.F}});
  if (s.H % s.KH != 0)
    throw UserError(fmt::format("reference {}: H ({}) must be a multiple of KH ({})", kernel, s.H, s.KH));
  if (s.causal && s.P > s.M)
    throw UserError(
        fmt::format("reference {}: causal attention needs P <= M (the queries are the last P of M positions), "
                    "not P = {} and M = {}",
                    kernel, s.P, s.M));
}

}  // namespace detail
}  // namespace einsim::reference
