#pragma once
// Counting the integer points an Einsum's `where` clause keeps: exactly, for any conjunction of affine
// constraints, in time that does not grow with the largest extent (causal masks over a million tokens count in
// a million steps, chunk-local ones in the sum of their parts).
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "workloads/cascade.hpp"

namespace einsim {

// The points x with 0 <= x[v] < extents[v] for every variable that satisfy every constraint; nullopt when the
// constraints tie together so many variables that counting them would take over kMaxCountSteps steps.
constexpr int64_t kMaxCountSteps = int64_t{1} << 27;
std::optional<int64_t> count_points(const std::vector<int64_t>& extents, const std::vector<Constraint>& where);

// The least and greatest value of `a` over the kept points (an access's index range, which a masked point need
// not respect: a causal convolution reads x[t - k] only where t >= k). `none` is set when no point is kept;
// nullopt when counting would take too long or the values pass 2^62.
std::optional<std::pair<int64_t, int64_t>> kept_bounds(const std::vector<int64_t>& extents,
                                                       const std::vector<Constraint>& where, const Affine& a,
                                                       bool& none);

// Whether some point of the box lo[v] <= x[v] <= hi[v] may satisfy every constraint: each constraint is tested
// on its own (exact for one constraint; for several, a box passing each may still hold no point of all).
bool box_may_satisfy(const std::vector<int64_t>& lo, const std::vector<int64_t>& hi,
                     const std::vector<Constraint>& where);

}  // namespace einsim
