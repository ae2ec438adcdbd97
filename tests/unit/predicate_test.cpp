#include <gtest/gtest.h>

#include <climits>
#include <random>
#include <utility>

#include "tests/unit/test_util.hpp"
#include "workloads/predicate.hpp"

namespace einsim {
namespace {

Constraint le(int64_t constant, std::vector<std::pair<int, int64_t>> terms) {
  return Constraint{Affine{constant, std::move(terms)}, false};
}

// Every point of the box, tested one by one: `visit` sees those that satisfy every constraint.
template <typename Visit>
void for_each_kept(const std::vector<int64_t>& extents, const std::vector<Constraint>& where, Visit visit) {
  std::vector<int64_t> x(extents.size(), 0);
  for (;;) {
    bool ok = true;
    for (const Constraint& c : where) {
      int64_t v = c.expr.constant;
      for (auto [var, k] : c.expr.terms) v += k * x[static_cast<size_t>(var)];
      ok &= c.equal ? v == 0 : v <= 0;
    }
    if (ok) visit(x);
    size_t i = x.size();
    while (i > 0 && ++x[i - 1] == extents[i - 1]) x[--i] = 0;
    if (i == 0) return;
  }
}

int64_t brute_force(const std::vector<int64_t>& extents, const std::vector<Constraint>& where) {
  int64_t n = 0;
  for_each_kept(extents, where, [&](const std::vector<int64_t>&) { ++n; });
  return n;
}

// The constraints over the box [lo, hi] rewritten over [0, hi - lo]: x = lo + y.
std::vector<Constraint> shift(std::vector<Constraint> where, const std::vector<int64_t>& lo) {
  for (Constraint& c : where)
    for (auto [var, k] : c.expr.terms) c.expr.constant += k * lo[static_cast<size_t>(var)];
  return where;
}

TEST(Predicate, CountsEqualBruteForceOnRandomConstraints) {
  const uint64_t seed = test::seed();
  std::mt19937_64 rng(seed);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<int64_t> extents(static_cast<size_t>(pick(1, 4)));
    for (int64_t& e : extents) e = pick(1, 9);
    std::vector<Constraint> where(static_cast<size_t>(pick(1, 3)));
    for (Constraint& c : where) {
      c.equal = pick(0, 4) == 0;
      c.expr.constant = pick(-12, 12);
      for (size_t v = 0; v < extents.size(); ++v)
        if (const int64_t k = pick(-3, 3); k != 0 && pick(0, 1)) c.expr.terms.emplace_back(static_cast<int>(v), k);
    }
    EXPECT_EQ(count_points(extents, where), brute_force(extents, where)) << "trial " << trial << " seed " << seed;
    // The range of an affine expression over the kept points, against every point.
    Affine a{pick(-5, 5), {}};
    for (size_t v = 0; v < extents.size(); ++v)
      if (const int64_t k = pick(-3, 3); k != 0) a.terms.emplace_back(static_cast<int>(v), k);
    bool none = false;
    const auto range = kept_bounds(extents, where, a, none);
    ASSERT_TRUE(range.has_value());
    int64_t least = INT64_MAX, most = INT64_MIN;
    for_each_kept(extents, where, [&](const std::vector<int64_t>& x) {
      int64_t value = a.constant;
      for (auto [var, k] : a.terms) value += k * x[static_cast<size_t>(var)];
      least = std::min(least, value);
      most = std::max(most, value);
    });
    EXPECT_EQ(none, least == INT64_MAX) << "trial " << trial << " seed " << seed;
    if (!none) {
      EXPECT_EQ(*range, std::make_pair(least, most)) << "trial " << trial << " seed " << seed;
    }
    // A box test passes whenever some point of the box satisfies the constraint; for one inequality it is exact
    // (an equality with coefficients other than 1 may pass a box holding no integer solution).
    const std::vector<Constraint> one{where[0]};
    std::vector<int64_t> lo(extents.size()), hi(extents.size());
    for (size_t v = 0; v < extents.size(); ++v) {
      lo[v] = pick(0, extents[v] - 1);
      hi[v] = pick(lo[v], extents[v] - 1);
    }
    std::vector<int64_t> box(extents.size());
    const std::vector<Constraint> shifted = shift(one, lo);
    for (size_t v = 0; v < extents.size(); ++v) box[v] = hi[v] - lo[v] + 1;
    const bool some = brute_force(box, shifted) > 0;
    if (one[0].equal)
      EXPECT_TRUE(box_may_satisfy(lo, hi, one) || !some) << "trial " << trial << " seed " << seed;
    else
      EXPECT_EQ(box_may_satisfy(lo, hi, one), some) << "trial " << trial << " seed " << seed;
    EXPECT_TRUE(box_may_satisfy(lo, hi, where) || brute_force(box, shift(where, lo)) == 0) << "seed " << seed;
  }
}

TEST(Predicate, LongCausalAndChunkLocalMasksCountInClosedForm) {
  // m <= p over a million tokens: P(P+1)/2, counted one p at a time.
  constexpr int64_t P = 1 << 20;
  EXPECT_EQ(count_points({P, P}, {le(0, {{0, 1}, {1, -1}})}), P * (P + 1) / 2);
  // Chunk-local causal over 16K chunks of 64: m1 == p1 and m0 <= p0, two independent groups.
  constexpr int64_t C = 1 << 14, W = 64;
  const std::vector<Constraint> chunk = {Constraint{Affine{0, {{0, 1}, {2, -1}}}, true}, le(0, {{1, 1}, {3, -1}})};
  EXPECT_EQ(count_points({C, W, C, W}, chunk), C * W * (W + 1) / 2);
  // A band of width 128 (p - 128 < m <= p, so p - m - 127 <= 0) on 4K: the triangle less what lies below the band.
  constexpr int64_t N = 4096, B = 128;
  EXPECT_EQ(count_points({N, N}, {le(0, {{0, 1}, {1, -1}}), le(-(B - 1), {{0, -1}, {1, 1}})}),
            N * (N + 1) / 2 - (N - B) * (N - B + 1) / 2);
  // Four long indices tied in one constraint: refused rather than counted for minutes.
  EXPECT_FALSE(count_points({1024, 1024, 1024, 1024}, {le(-2000, {{0, 1}, {1, 1}, {2, 1}, {3, 1}})}).has_value());
}

}  // namespace
}  // namespace einsim
