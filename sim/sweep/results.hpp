#pragma once
// The results of a sweep: one row per (point, fidelity) in DIR/results.sqlite, committed as each point
// finishes, and DIR/results.csv written from it with the same columns in a fixed order.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "sim/stats.hpp"

struct sqlite3;

namespace einsim {

class ResultsDb {
 public:
  explicit ResultsDb(const std::string& file);  // creates it when missing
  ~ResultsDb();
  ResultsDb(const ResultsDb&) = delete;
  ResultsDb& operator=(const ResultsDb&) = delete;

  int64_t rows() const;
  // (point, fidelity) -> config hash of each row already there.
  std::vector<std::pair<std::pair<int64_t, std::string>, std::string>> keys() const;
  // Inserts (or replaces the row with the same point and fidelity) in one transaction, adding columns as needed.
  void put(const Row& row);
  std::vector<Row> all() const;  // ordered by point, then fidelity
  void set_meta(const std::string& key, const std::string& value);
  std::string meta(const std::string& key) const;  // empty when absent

 private:
  void exec(const std::string& sql) const;
  sqlite3* db_ = nullptr;
  std::string file_;
  std::vector<std::string> columns_;
};

// The rows as CSV: the leading columns in the order given, every other column after them sorted by name.
void write_csv(const std::vector<Row>& rows, const std::vector<std::string>& leading, const std::string& file);

}  // namespace einsim
