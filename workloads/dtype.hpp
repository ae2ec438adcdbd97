#pragma once
// Storage datatypes of cascade tensors and their rounding: IEEE-style floats (fp64 down to OCP fp8 and fp4) and
// integers. One definition, shared by the interpreter and (later) the RTL units' arithmetic models.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace einsim {

enum class DType { fp32, bf16, fp16, fp64, fp8_e4m3, fp8_e5m2, fp4_e2m1, int32, int8, int4, uint4 };

std::string_view dtype_name(DType t);
std::optional<DType> parse_dtype(std::string_view name);
std::string dtype_names();  // for error messages
int64_t dtype_bits(DType t);
bool dtype_is_integer(DType t);
int dtype_fraction_bits(DType t);  // floats: explicit fraction bits (bf16 7, fp32 23); 0 for integers
// Bytes of `elements` values as stored and moved: 4-bit types pack two to a byte.
int64_t bytes_for(DType t, int64_t elements);

struct Rounding {
  // Out-of-range values clamp to the largest finite value. Otherwise floats with infinities overflow to them,
  // fp8 e4m3 (no infinities) to NaN, and fp4 and integers, which have neither, always clamp.
  bool saturate = false;
  // Stochastic rounding: round up with probability equal to the remainder, drawing from this state
  // (splitmix64, so runs with the same seed agree). Null: round to nearest, ties to even.
  uint64_t* stochastic = nullptr;
};

// The value of the datatype that x rounds to (subnormals kept; NaN stays NaN, or becomes 0 for integers).
double round_to(DType t, double x, const Rounding& r = {});

}  // namespace einsim
