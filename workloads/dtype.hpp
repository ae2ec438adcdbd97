#pragma once
// Storage datatypes of cascade tensors and their rounding (round to nearest, ties to even).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace einsim {

enum class DType { fp32, bf16, fp16, fp64 };

std::string_view dtype_name(DType t);
std::optional<DType> parse_dtype(std::string_view name);
std::string dtype_names();  // "fp32, bf16, fp16, fp64" for error messages
int64_t dtype_bytes(DType t);

// The value of the given datatype nearest to x (IEEE round to nearest even, overflow to infinity,
// subnormals kept).
double round_to(DType t, double x);

}  // namespace einsim
