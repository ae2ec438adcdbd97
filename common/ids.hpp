#pragma once
// Strong indices. Tensors, Einsums and hardware units live in vectors and refer to each other by position;
// as plain ints they mix freely (an Einsum's position used as a tensor's compiles) and every use casts to
// size_t. An Id<Tag> is a position that only an IdVector of that id accepts, built explicitly from an
// integer, with a none() value where the code used -1.
#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/error.hpp"

namespace einsim {

// Out of line and cold, so that Id::index() inlines where it is used (the cycle engine asks millions of times).
[[noreturn, gnu::cold, gnu::noinline]] inline void throw_index_of_none() {
  throw InternalError("index of an id that is none");
}

template <class Tag>
class Id {
 public:
  constexpr Id() = default;  // none()
  template <std::integral I>
  constexpr explicit Id(I index) : value_(static_cast<int32_t>(index)) {}

  static constexpr Id none() { return Id(); }
  constexpr bool valid() const { return value_ >= 0; }
  constexpr size_t index() const {
    if (!valid()) [[unlikely]]
      throw_index_of_none();
    return static_cast<size_t>(value_);
  }
  // The position as an int, -1 for none: for output that printed the old int index.
  constexpr int value() const { return value_; }

  friend constexpr auto operator<=>(Id, Id) = default;

 private:
  int32_t value_ = -1;
};

// The ids 0..n-1 of an IdVector, in order.
template <class IdType>
class IdRange {
 public:
  class iterator {
   public:
    using value_type = IdType;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(size_t i) : i_(i) {}
    IdType operator*() const { return IdType(i_); }
    iterator& operator++() { return ++i_, *this; }
    iterator operator++(int) { return iterator(i_++); }
    bool operator==(const iterator&) const = default;

   private:
    size_t i_ = 0;
  };

  explicit IdRange(size_t n) : n_(n) {}
  iterator begin() const { return iterator(0); }
  iterator end() const { return iterator(n_); }
  size_t size() const { return n_; }

 private:
  size_t n_;
};

// A std::vector indexed only by its id type. Iterating it gives the values; ids() gives the ids.
template <class IdType, class T>
class IdVector {
 public:
  using value_type = T;
  using reference = typename std::vector<T>::reference;
  using const_reference = typename std::vector<T>::const_reference;
  using iterator = typename std::vector<T>::iterator;
  using const_iterator = typename std::vector<T>::const_iterator;

  IdVector() = default;
  explicit IdVector(size_t n, const T& value = T()) : values_(n, value) {}

  reference operator[](IdType id) { return values_[id.index()]; }
  const_reference operator[](IdType id) const { return values_[id.index()]; }
  reference at(IdType id) { return values_.at(id.index()); }
  const_reference at(IdType id) const { return values_.at(id.index()); }

  IdType push_back(T value) {
    values_.push_back(std::move(value));
    return back_id();
  }
  template <class... Args>
  IdType emplace_back(Args&&... args) {
    values_.emplace_back(std::forward<Args>(args)...);
    return back_id();
  }

  size_t size() const { return values_.size(); }
  bool empty() const { return values_.empty(); }
  void clear() { values_.clear(); }
  void reserve(size_t n) { values_.reserve(n); }
  void assign(size_t n, const T& value) { values_.assign(n, value); }
  reference back() { return values_.back(); }
  const_reference back() const { return values_.back(); }
  IdType back_id() const { return IdType(values_.size() - 1); }
  IdRange<IdType> ids() const { return IdRange<IdType>(values_.size()); }

  iterator begin() { return values_.begin(); }
  iterator end() { return values_.end(); }
  const_iterator begin() const { return values_.begin(); }
  const_iterator end() const { return values_.end(); }

  bool operator==(const IdVector&) const = default;

 private:
  std::vector<T> values_;
};

}  // namespace einsim

template <class Tag>
struct std::hash<einsim::Id<Tag>> {
  size_t operator()(einsim::Id<Tag> id) const noexcept { return std::hash<int>()(id.value()); }
};

// An id prints as its position, none as -1 (as the int it replaces did).
template <class Tag>
struct fmt::formatter<einsim::Id<Tag>> : fmt::formatter<int> {
  auto format(einsim::Id<Tag> id, fmt::format_context& ctx) const {
    return fmt::formatter<int>::format(id.value(), ctx);
  }
};
