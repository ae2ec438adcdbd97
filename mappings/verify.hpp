#pragma once
// The tile-order interpreter: runs a TileProgram's computations on values, each tile of each Einsum when the
// program's loops fire it (the order the cycle engine issues them in), and compares every tensor with what the
// cascade interpreter computes. A program that computes a tile before the tiles it reads are complete, computes a
// tile twice or never, or computes the wrong part of an index is caught on numbers, not only by lowering's rules.
#include <cstdint>
#include <string>

#include "mappings/tile_program.hpp"
#include "workloads/cascade.hpp"

namespace einsim {

struct TileCheck {
  bool ok = true;
  uint64_t seed = 0;
  int64_t computations = 0;  // tile computations run
  int64_t tensors = 0;       // the cascade's results (its outputs, and what no Einsum reads), compared
  // The first of them (in the cascade's order) that differs, how many of its elements do, and the first of them.
  std::string tensor;
  int64_t wrong = 0;
  std::string element;  // "[3, 17]"
  double got = 0;
  double expected = 0;
  std::string summary() const;  // one line
};

// Both on the same seeded random inputs, in fp64 with every tensor at full precision: two orders of the same sums
// then agree to about 1e-13 of the values; an element of a result differs when it is off by more than 1e-9 of the
// result's largest magnitude. Guarded Einsums compute every tile and then clear the elements their guard's values clear
// (the program runs a guard's expected share of tiles, which says nothing about which).
TileCheck verify_values(const Cascade& cascade, const TileProgram& program, uint64_t seed);

}  // namespace einsim
