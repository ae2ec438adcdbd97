#pragma once
// NumPy .npy files (format 1.0/2.0, little-endian float16/32/64, C order) for cascade inputs and outputs.
#include <cstdint>
#include <string>
#include <vector>

namespace einsim {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<double> values;
};

NpyArray read_npy(const std::string& file);  // throws UserError on a malformed or unsupported file
// Writes float32 (`float64` false) or float64 values.
void write_npy(const std::string& file, const std::vector<int64_t>& shape, const std::vector<double>& values,
               bool float64);

}  // namespace einsim
