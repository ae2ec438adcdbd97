#include "mappings/fold_reads.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "arch/component.hpp"

namespace einsim {
namespace {

// The folds a dimension takes: its spread indices' positions over its PEs.
int64_t fold_count(const FoldShape::Dim& dim) {
  int64_t points = 1;
  for (int64_t e : dim.extents) points *= e;
  return ceil_div(points, dim.size);
}

// How many times a fold-by-fold pass over one dimension reads an operand's part along it, as num / den of the part:
// the sum over the folds of the distinct positions of the operand's indices each fold covers, over all there are.
// The spread indices flatten outermost first, so a fold covers a run of consecutive positions.
struct Ratio {
  int64_t num = 1, den = 1;
};

Ratio dim_ratio(const FoldShape::Dim& dim, const std::vector<bool>& indexed) {
  const int64_t folds = fold_count(dim);
  int64_t points = 1;
  for (int64_t e : dim.extents) points *= e;
  const auto count = std::count(indexed.begin(), indexed.end(), true);
  if (folds <= 1 || count == static_cast<std::ptrdiff_t>(indexed.size())) return {};
  if (count == 0) return {folds, 1};
  // Some of the indices, not all: count each fold's distinct positions of those it has.
  int64_t kept = 1;  // positions of the indices it has
  for (size_t i = 0; i < indexed.size(); ++i)
    if (indexed[i]) kept *= dim.extents[i];
  if (indexed.size() == 2) {
    const int64_t outer = dim.extents[0], inner = dim.extents[1], size = dim.size;
    if (!indexed[0]) {  // the inner index alone: a run of fewer than `inner` positions covers as many of its values
      if (size < inner) return {points, kept};
      return {(folds - 1) * inner + std::min(points - (folds - 1) * size, inner), kept};
    }
    // The outer index alone: the folds each of its values' runs of `inner` positions meets, or the runs each fold
    // meets, whichever is fewer to count.
    int64_t sum = 0;
    if (outer <= folds)
      for (int64_t v = 0; v < outer; ++v) sum += ((v + 1) * inner - 1) / size - v * inner / size + 1;
    else
      for (int64_t f = 0; f < folds; ++f) {
        const int64_t begin = f * size, end = std::min(points, begin + size);
        sum += (end - 1) / inner - begin / inner + 1;
      }
    return {sum, kept};
  }
  // Three or more indices on one dimension (only a hand-written map makes them): each fold reads all of the
  // operand's part, an upper bound.
  return {folds, 1};
}

// How many parts of the operand along the dimension one PE sees over its folds, when it sees a few it could keep:
// one where the operand indexes none of the dimension's indices; where it indexes, of two, only the inner one, a
// PE's position gives that index shifted by the dimension's size modulo the index's extent each fold, so it sees
// the index's extent over their greatest common divisor values at most. 0 otherwise (each fold a part of its own).
int64_t parts_per_pe(const FoldShape::Dim& dim, const std::vector<bool>& indexed, int64_t folds) {
  if (std::none_of(indexed.begin(), indexed.end(), [](bool b) { return b; })) return 1;
  if (indexed.size() != 2 || indexed[0] || !indexed[1]) return 0;
  return std::min(folds, dim.extents[1] / std::gcd(dim.size, dim.extents[1]));
}

// The traffic with the spread indices flattened as `shape` lists them and the folds of its dimensions nested in
// `order` (outermost first). An operand (or the result) is kept across the folds of a dimension when each PE sees
// only a few parts of it along that dimension (parts_per_pe), and its footprint fits what the PE's register file
// has left: its share in one fold, times those parts, times the folds of the dimensions inside that it is not
// kept across. The innermost dimension first, and at each the largest saving first.
FoldTraffic traffic_with(const FoldShape& shape, const std::vector<FoldOperand>& operands, const FoldOperand& result,
                         const std::vector<size_t>& order) {
  std::vector<const FoldOperand*> all;
  for (const FoldOperand& o : operands) all.push_back(&o);
  if (result.bytes > 0) all.push_back(&result);
  const size_t dims = shape.dims.size();
  std::vector<std::vector<Ratio>> r(all.size(), std::vector<Ratio>(dims));
  std::vector<std::vector<bool>> kept(all.size(), std::vector<bool>(dims, false));
  for (size_t o = 0; o < all.size(); ++o)
    for (size_t d = 0; d < dims; ++d) r[o][d] = dim_ratio(shape.dims[d], all[o]->indexed[d]);
  auto moved = [&](size_t o) {
    long double v = static_cast<long double>(all[o]->bytes);
    for (size_t d = 0; d < dims; ++d)
      if (!kept[o][d]) v = v * static_cast<long double>(r[o][d].num) / static_cast<long double>(r[o][d].den);
    // (Bounded far above any run's bytes, so that a fuzzed shape's product cannot overflow the count.)
    return static_cast<int64_t>(std::min(std::ceil(v - 1e-9L), 4e18L));
  };
  auto folds = [&](size_t d) { return fold_count(shape.dims[d]); };
  int64_t free = shape.regfile_entries;
  for (size_t k = order.size(); k-- > 0;) {
    const size_t d = order[k];
    std::vector<std::pair<int64_t, size_t>> candidates;  // (saving, operand)
    for (size_t o = 0; o < all.size(); ++o) {
      if (r[o][d].num <= r[o][d].den || parts_per_pe(shape.dims[d], all[o]->indexed[d], folds(d)) == 0) continue;
      const int64_t before = moved(o);
      kept[o][d] = true;
      candidates.emplace_back((before - moved(o)) * (all[o] == &result ? 2 : 1), o);
      kept[o][d] = false;
    }
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [saving, o] : candidates) {
      int64_t footprint = all[o]->per_pe_share * parts_per_pe(shape.dims[d], all[o]->indexed[d], folds(d));
      for (size_t i = k + 1; i < order.size(); ++i)
        if (!kept[o][order[i]]) footprint *= folds(order[i]);
      if (footprint > 0 && footprint <= free) free -= footprint, kept[o][d] = true;
    }
  }
  FoldTraffic t;
  for (size_t o = 0; o < operands.size(); ++o) t.reads.push_back(moved(o));
  if (result.bytes > 0) {
    t.result_writes = moved(all.size() - 1);
    t.result_reads = t.result_writes - result.bytes;
  }
  return t;
}

int64_t total(const FoldTraffic& t) {
  return std::accumulate(t.reads.begin(), t.reads.end(), t.result_writes + t.result_reads);
}

}  // namespace

FoldTraffic fold_traffic(const FoldShape& shape, const std::vector<FoldOperand>& operands, const FoldOperand& result) {
  // Every order of two indices spread over one dimension, and every nesting of the dimensions' folds (neither
  // changes anything but what the folds move): the least traffic, the first found among equals.
  const size_t dims = shape.dims.size();
  std::vector<size_t> pairs;  // the dimensions with two indices, whose order may swap
  for (size_t d = 0; d < dims; ++d)
    if (shape.dims[d].extents.size() == 2) pairs.push_back(d);
  std::optional<FoldTraffic> best;
  auto nestings = [&](const FoldShape& s, const std::vector<FoldOperand>& ops, const FoldOperand& res) {
    std::vector<size_t> order(dims);
    std::iota(order.begin(), order.end(), size_t{0});
    do {
      FoldTraffic t = traffic_with(s, ops, res, order);
      if (!best || total(t) < total(*best)) best = std::move(t);
    } while (std::next_permutation(order.begin(), order.end()));
  };
  nestings(shape, operands, result);
  for (uint32_t swap = 1; swap < (1U << pairs.size()); ++swap) {
    FoldShape s = shape;
    std::vector<FoldOperand> ops = operands;
    FoldOperand res = result;
    for (size_t i = 0; i < pairs.size(); ++i) {
      if (!(swap >> i & 1U)) continue;
      const size_t d = pairs[i];
      std::reverse(s.dims[d].extents.begin(), s.dims[d].extents.end());
      if (!res.indexed.empty()) std::reverse(res.indexed[d].begin(), res.indexed[d].end());
      for (FoldOperand& o : ops) std::reverse(o.indexed[d].begin(), o.indexed[d].end());
    }
    nestings(s, ops, res);
  }
  return *best;
}

}  // namespace einsim
