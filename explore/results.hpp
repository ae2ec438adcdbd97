#pragma once
// The results of a sweep: one row per (point, fidelity) in DIR/results.sqlite, committed in small batches as
// points finish, and DIR/results.csv written from it with the same columns in a fixed order.
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/stats.hpp"

struct sqlite3;
struct sqlite3_stmt;

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
  // Inserts (or replaces the row with the same point and fidelity), adding columns as needed. Rows are written
  // and committed in batches, at the latest kCommitRows rows or kCommitSeconds after the first pending one, so a
  // kill loses at most that much work (which --resume redoes); flush() and the destructor write the rest. The
  // queries below see what has been flushed.
  void put(const Row& row);
  void flush();
  static constexpr int kCommitRows = 64;
  static constexpr double kCommitSeconds = 0.1;
  // Why `row` cannot be stored: two of its column names, or one and a column already there, that differ only in
  // case (SQLite's names ignore it). Empty when it can.
  std::string clash(const Row& row) const;
  // Ordered by point, then fidelity. A row lacks the columns it has no value in, or has them as empty Cells
  // with `nulls` (to copy rows into another database with every column).
  std::vector<Row> all(bool nulls = false) const;
  std::vector<std::string> columns() const;  // the table's, sorted by name
  bool has_column(const std::string& name) const;
  void set_meta(const std::string& key, const std::string& value);
  std::string meta(const std::string& key) const;  // empty when absent

 private:
  void exec(const std::string& sql) const;
  void add_column(const std::string& name);
  void add_columns(const std::vector<std::string>& missing);  // to the table, inside the batch's transaction
  sqlite3* db_ = nullptr;
  std::string file_;
  std::map<std::string, std::string> columns_;             // lower case -> as written (SQLite's names ignore case)
  std::unordered_set<std::string> known_;                  // the names columns_ has seen, as written
  mutable std::unordered_map<std::string, size_t> clean_;  // column sets clash() passed -> columns_.size() then
  std::map<std::string, sqlite3_stmt*> inserts_;           // the columns of a row -> its prepared INSERT
  void insert(const Row& row);
  std::set<std::string> table_columns_;  // the results table's columns
  std::vector<Row> pending_;             // rows put since the last flush
  std::chrono::steady_clock::time_point first_pending_;
};

// Held while a sweep or a merge writes DIR: a second one into the same directory is refused at once instead of
// interleaving its rows with the first's.
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::string& dir);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

// The columns results.csv starts with, from the sweep's meta JSON (its axes and derived columns).
std::vector<std::string> csv_leading(const nlohmann::ordered_json& meta);

// The rows as CSV: the leading columns in the order given, then the other columns (`others` and any a row has)
// sorted by name.
void write_csv(const std::vector<Row>& rows, const std::vector<std::string>& leading,
               const std::vector<std::string>& others, const std::string& file);

}  // namespace einsim
