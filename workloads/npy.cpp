#include "workloads/npy.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <algorithm>
#include <cctype>

#include "common/error.hpp"

namespace einsim {
namespace {

double half_to_double(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa ? NAN : sign * INFINITY;
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

}  // namespace

NpyArray read_npy(const std::string& file) {
  auto fail = [&](const std::string& why) { throw UserError(SourceLoc{file}, "", why); };
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot read file");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) fail("not a .npy file");
  uint32_t header_len = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  }
  if (!in || header_len > (1u << 20)) fail("truncated .npy header");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) fail("truncated .npy header");

  // The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
  auto value_of = [&](const std::string& key) {
    const size_t k = header.find("'" + key + "'");
    const size_t colon = k == std::string::npos ? k : header.find(':', k);
    if (colon == std::string::npos) fail("no '" + key + "' in the .npy header");
    const size_t begin = header.find_first_not_of(' ', colon + 1);
    if (begin == std::string::npos) fail("malformed .npy header");
    const size_t end = header[begin] == '(' ? header.find(')', begin) : header.find(',', begin);
    if (end == std::string::npos) fail("malformed .npy header");
    return header.substr(begin, end - begin + (header[begin] == '(' ? 1 : 0));
  };
  std::string descr = value_of("descr");
  descr.erase(std::remove(descr.begin(), descr.end(), '\''), descr.end());
  if (value_of("fortran_order") != "False") fail("only C-order .npy files are supported");
  NpyArray a;
  // The shape is a tuple of non-negative integers: "(2, 3)", "(5,)" or "()". Anything else is malformed, not
  // skipped over.
  const std::string dims = value_of("shape");
  if (dims.size() < 2 || dims.front() != '(' || dims.back() != ')') fail("malformed .npy shape " + dims);
  int64_t count = 1;
  for (size_t i = 1; i + 1 < dims.size();) {
    const size_t begin = dims.find_first_not_of(' ', i);
    if (begin + 1 >= dims.size()) break;
    size_t end = begin;
    while (end + 1 < dims.size() && std::isdigit(static_cast<unsigned char>(dims[end]))) ++end;
    const std::string digits = dims.substr(begin, end - begin);
    if (digits.empty()) fail("malformed .npy shape " + dims);
    if (digits.size() > 18) fail("the .npy shape " + dims + " holds more than 2^40 values");
    const int64_t d = std::stoll(digits);
    if (__builtin_mul_overflow(count, d, &count) || count > (int64_t{1} << 40))
      fail("the .npy shape " + dims + " holds more than 2^40 values");
    a.shape.push_back(d);
    i = dims.find_first_not_of(' ', end);
    if (i + 1 < dims.size() && dims[i] != ',') fail("malformed .npy shape " + dims);
    ++i;
  }

  const int width = descr == "<f2" ? 2 : descr == "<f4" ? 4 : descr == "<f8" ? 8 : 0;
  if (width == 0) fail(fmt::format("unsupported dtype '{}' (einsim reads <f2, <f4 and <f8)", descr));
  std::vector<char> raw(static_cast<size_t>(count * width));
  if (!in.read(raw.data(), static_cast<std::streamsize>(raw.size())))
    fail("the file holds fewer values than its shape says");
  a.values.resize(static_cast<size_t>(count));
  for (size_t i = 0; i < a.values.size(); ++i) {
    const char* p = raw.data() + i * static_cast<size_t>(width);
    if (width == 2) {
      uint16_t h;
      std::memcpy(&h, p, 2);
      a.values[i] = half_to_double(h);
    } else if (width == 4) {
      float f;
      std::memcpy(&f, p, 4);
      a.values[i] = f;
    } else {
      std::memcpy(&a.values[i], p, 8);
    }
  }
  return a;
}

void write_npy(const std::string& file, const std::vector<int64_t>& shape, const std::vector<double>& values,
               bool float64) {
  std::string dims;
  for (int64_t d : shape) dims += fmt::format("{},", d);
  if (shape.size() > 1) dims.pop_back();
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", float64 ? "<f8" : "<f4", dims);
  // Pad so that the data starts on a 64-byte boundary, as NumPy does.
  const size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::ofstream out(file, std::ios::binary);
  if (!out) throw UserError(SourceLoc{file}, "", "cannot write file");
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (double v : values) {
    if (float64) {
      out.write(reinterpret_cast<const char*>(&v), 8);
    } else {
      const float f = static_cast<float>(v);
      out.write(reinterpret_cast<const char*>(&f), 4);
    }
  }
  out.flush();
  if (!out) throw UserError(SourceLoc{file}, "", "write failed (disk full?)");
}

}  // namespace einsim
