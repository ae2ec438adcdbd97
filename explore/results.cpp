#include "explore/results.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include "common/error.hpp"

namespace einsim {

namespace {

std::string quoted(const std::string& column) { return "\"" + column + "\""; }

// A text column's value; a damaged database can hold NULL where einsim always writes text.
std::string text(sqlite3_stmt* st, int column) {
  const unsigned char* v = sqlite3_column_text(st, column);
  return v ? reinterpret_cast<const char*>(v) : "";
}

}  // namespace

ResultsDb::ResultsDb(const std::string& file) : file_(file) {
  if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw UserError(SourceLoc{file}, "-o", "cannot open the results database: " + why);
  }
  sqlite3_busy_timeout(db_, 10000);
  // Each batch is one transaction, on disk when it commits: an interrupted sweep loses at most one batch.
  exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
  exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)");
  exec(
      "CREATE TABLE IF NOT EXISTS results (point INTEGER NOT NULL, fidelity TEXT NOT NULL, PRIMARY KEY (point, "
      "fidelity))");
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db_, "SELECT name FROM pragma_table_info('results')", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const std::string name = text(st, 0);
    add_column(name);
    table_columns_.insert(name);
  }
  sqlite3_finalize(st);
}

ResultsDb::~ResultsDb() {
  try {
    flush();                         // whole rows: keep them if it can
  } catch (const std::exception&) {  // a failing database has said so already
  }
  for (auto& [names, st] : inserts_) sqlite3_finalize(st);
  sqlite3_close(db_);
}

void ResultsDb::put(const Row& row) {
  if (pending_.empty()) first_pending_ = std::chrono::steady_clock::now();
  for (const auto& [name, value] : row) add_column(name);
  pending_.push_back(row);
  if (pending_.size() >= static_cast<size_t>(kCommitRows) ||
      std::chrono::duration<double>(std::chrono::steady_clock::now() - first_pending_).count() >= kCommitSeconds)
    flush();
}

void ResultsDb::flush() {
  if (pending_.empty()) return;
  std::vector<Row> batch = std::move(pending_);
  pending_.clear();
  exec("BEGIN IMMEDIATE");
  try {
    // The batch's new columns. An empty table is made anew with all of them at once: adding columns one by one
    // re-reads the whole schema each time.
    std::vector<std::string> missing;
    std::set<std::string> seen;
    for (const Row& r : batch)
      for (const auto& [name, value] : r)
        if (!table_columns_.count(name) && seen.insert(name).second) missing.push_back(name);
    if (!missing.empty()) add_columns(missing);
    for (const Row& row : batch) insert(row);
    exec("COMMIT");
    table_columns_.insert(missing.begin(), missing.end());
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);  // what was committed stays; --resume redoes this batch
    throw;
  }
}

void ResultsDb::add_columns(const std::vector<std::string>& missing) {
  // SQLite re-reads the whole schema for each column it adds, so adding many columns to a table of few rows costs
  // far more than copying the rows into a table made with all of them at once (measured: about 4,000
  // instructions per column of the schema for each column added, against about 100 per cell copied).
  const int64_t n = rows();
  if (missing.size() == 1 || n >= 32 * static_cast<int64_t>(missing.size())) {
    for (const std::string& c : missing) exec(fmt::format("ALTER TABLE results ADD COLUMN {}", quoted(c)));
    return;
  }
  std::vector<std::string> kept;  // in the table's order, then the new ones
  std::vector<std::string> also;  // the table's indexes and triggers, made again on the new table
  {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db_, "SELECT name FROM pragma_table_info('results')", -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) kept.emplace_back(text(st, 0));
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db_,
                       "SELECT sql FROM sqlite_master WHERE tbl_name = 'results' AND type IN ('index', 'trigger') AND "
                       "sql IS NOT NULL",
                       -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) also.emplace_back(text(st, 0));
    sqlite3_finalize(st);
  }
  std::string old_columns, new_columns;
  for (const std::string& c : kept) {
    old_columns += (old_columns.empty() ? "" : ", ") + quoted(c);
    if (c != "point" && c != "fidelity") new_columns += ", " + quoted(c);
  }
  for (const std::string& c : missing) new_columns += ", " + quoted(c);
  for (auto& [names, st] : inserts_) sqlite3_finalize(st);
  inserts_.clear();
  exec("DROP TABLE IF EXISTS results_next");
  exec(fmt::format(
      "CREATE TABLE results_next (point INTEGER NOT NULL, fidelity TEXT NOT NULL{}, PRIMARY KEY (point, fidelity))",
      new_columns));
  if (n > 0) exec(fmt::format("INSERT INTO results_next ({0}) SELECT {0} FROM results", old_columns));
  exec("DROP TABLE results");
  exec("ALTER TABLE results_next RENAME TO results");
  for (const std::string& sql : also) exec(sql);
}

void ResultsDb::insert(const Row& row) {
  std::string names;
  for (const auto& [name, value] : row) names += (names.empty() ? "" : ", ") + quoted(name);
  // Rows of a sweep have few distinct column sets: each one's statement is prepared once.
  sqlite3_stmt*& st = inserts_[names];
  if (!st) {
    std::string marks;
    for (size_t i = 0; i < row.size(); ++i) marks += i ? ", ?" : "?";
    if (sqlite3_prepare_v2(db_, fmt::format("INSERT OR REPLACE INTO results ({}) VALUES ({})", names, marks).c_str(),
                           -1, &st, nullptr) != SQLITE_OK) {
      const std::string why = sqlite3_errmsg(db_);
      inserts_.erase(names);
      throw UserError(SourceLoc{file_}, "results", why);
    }
  }
  int i = 1;
  for (const auto& [name, value] : row) {
    if (auto* n = std::get_if<int64_t>(&value))
      sqlite3_bind_int64(st, i, *n);
    else if (auto* d = std::get_if<double>(&value))
      sqlite3_bind_double(st, i, *d);
    else if (auto* s = std::get_if<std::string>(&value))
      sqlite3_bind_text(st, i, s->c_str(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
    else
      sqlite3_bind_null(st, i);
    ++i;
  }
  const int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_DONE) throw UserError(SourceLoc{file_}, "results", sqlite3_errmsg(db_));
}

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

void ResultsDb::add_column(const std::string& name) {
  if (known_.insert(name).second) columns_.emplace(lower(name), name);  // each name lowered once
}

bool ResultsDb::has_column(const std::string& name) const {
  const auto it = columns_.find(lower(name));
  return it != columns_.end() && it->second == name;
}

std::string ResultsDb::clash(const Row& row) const {
  // Rows of a sweep have few distinct column sets, and the known columns only grow: a set found clean stays clean
  // until a column is added.
  std::string names;
  for (const auto& [name, value] : row) (names += name) += '\x1f';
  if (const auto it = clean_.find(names); it != clean_.end() && it->second == columns_.size()) return "";
  std::map<std::string, std::string> in_row;  // lower case -> as written
  for (const auto& [name, value] : row) {
    const std::string key = lower(name);
    const auto there = columns_.find(key);
    if (there != columns_.end() && there->second != name)
      return fmt::format(
          "result columns '{}' and '{}' differ only in case, which SQLite ignores: rename one of the parts, Einsums or "
          "components they come from",
          there->second, name);
    const auto [it, added] = in_row.emplace(key, name);
    if (!added)
      return it->second == name ? fmt::format("result column '{}' twice", name)
                                : fmt::format(
                                      "result columns '{}' and '{}' differ only in case, which SQLite ignores: rename "
                                      "one of the parts, "
                                      "Einsums or components they come from",
                                      it->second, name);
  }
  clean_[names] = columns_.size();
  return "";
}

void ResultsDb::exec(const std::string& sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string why = err ? err : "unknown error";
    sqlite3_free(err);
    throw UserError(SourceLoc{file_}, "results", why);
  }
}

int64_t ResultsDb::rows() const {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db_, "SELECT COUNT(*) FROM results", -1, &st, nullptr);
  sqlite3_step(st);
  const int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

std::vector<std::pair<std::pair<int64_t, std::string>, std::string>> ResultsDb::keys() const {
  std::vector<std::pair<std::pair<int64_t, std::string>, std::string>> out;
  if (!has_column("config_hash")) return out;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db_, "SELECT point, fidelity, config_hash FROM results", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    out.push_back({{sqlite3_column_int64(st, 0), text(st, 1)}, text(st, 2)});
  }
  sqlite3_finalize(st);
  return out;
}

std::vector<std::string> ResultsDb::columns() const { return {table_columns_.begin(), table_columns_.end()}; }

std::vector<Row> ResultsDb::all(bool nulls) const {
  std::vector<Row> out;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db_, "SELECT * FROM results ORDER BY point, fidelity", -1, &st, nullptr);
  const int n = sqlite3_column_count(st);
  std::vector<std::string> names;
  for (int c = 0; c < n; ++c) names.emplace_back(sqlite3_column_name(st, c));
  while (sqlite3_step(st) == SQLITE_ROW) {
    Row r;
    r.reserve(static_cast<size_t>(n));
    for (int c = 0; c < n; ++c) {
      Cell v;
      switch (sqlite3_column_type(st, c)) {
        case SQLITE_INTEGER:
          v = static_cast<int64_t>(sqlite3_column_int64(st, c));
          break;
        case SQLITE_FLOAT:
          v = sqlite3_column_double(st, c);
          break;
        case SQLITE_TEXT:
          v = text(st, c);
          break;
        default:
          if (!nulls) continue;  // the row has no such column
      }
      r.emplace_back(names[static_cast<size_t>(c)], std::move(v));
    }
    out.push_back(std::move(r));
  }
  sqlite3_finalize(st);
  return out;
}

void ResultsDb::set_meta(const std::string& key, const std::string& value) {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", -1, &st, nullptr);
  sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, value.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_step(st);
  sqlite3_finalize(st);
}

std::string ResultsDb::meta(const std::string& key) const {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE key = ?", -1, &st, nullptr);
  sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
  std::string v;
  if (sqlite3_step(st) == SQLITE_ROW) v = text(st, 0);
  sqlite3_finalize(st);
  return v;
}

DirectoryLock::DirectoryLock(const std::string& dir) {
  const std::string file = (std::filesystem::path(dir) / ".einsim-lock").string();
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw UserError(SourceLoc{dir}, "-o", fmt::format("cannot create {}: {}", file, std::strerror(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    throw UserError(SourceLoc{dir}, "-o",
                    "another einsim sweep or merge is writing into this directory: wait for it, or choose another");
  }
}

DirectoryLock::~DirectoryLock() { ::close(fd_); }  // releases the lock

// The columns results.csv starts with: the point, its axes, its status, the headline results, then the sweep's
// derived columns. The rest follow sorted by name.
std::vector<std::string> csv_leading(const nlohmann::ordered_json& meta) {
  std::vector<std::string> leading = {"point"};
  for (const auto& a : meta.at("axes")) leading.push_back(a.at("name"));
  leading.insert(leading.end(),
                 {"fidelity", "status", "reason", "cycles", "latency_s", "energy_pJ", "area_mm2", "bound"});
  for (const auto& c : meta.at("columns")) leading.push_back(c.at("name"));
  return leading;
}

void write_csv(const std::vector<Row>& rows, const std::vector<std::string>& leading,
               const std::vector<std::string>& others, const std::string& file) {
  std::unordered_map<std::string, size_t> index;  // column -> its position
  for (const std::string& c : leading) index.emplace(c, index.size());
  std::set<std::string> rest(others.begin(), others.end());
  for (const Row& r : rows)
    for (const auto& [name, v] : r)
      if (!index.count(name) && !rest.count(name)) rest.insert(name);
  for (const std::string& c : leading) rest.erase(c);
  std::vector<std::string> columns = leading;
  for (const std::string& c : rest) {
    index.emplace(c, columns.size());
    columns.push_back(c);
  }
  fmt::memory_buffer out;
  auto field = [&out](const Cell& v) {
    if (auto* n = std::get_if<int64_t>(&v)) {
      fmt::format_to(std::back_inserter(out), "{}", *n);
    } else if (auto* d = std::get_if<double>(&v)) {
      fmt::format_to(std::back_inserter(out), "{}", *d);
    } else if (auto* s = std::get_if<std::string>(&v)) {
      if (s->find_first_of(",\"\n") == std::string::npos) {
        out.append(*s);
      } else {
        out.push_back('"');
        for (char c : *s) {
          if (c == '"') out.push_back('"');
          out.push_back(c);
        }
        out.push_back('"');
      }
    }
  };
  for (size_t c = 0; c < columns.size(); ++c) {
    if (c) out.push_back(',');
    out.append(columns[c]);
  }
  out.push_back('\n');
  std::vector<const Cell*> cells;
  for (const Row& r : rows) {
    cells.assign(columns.size(), nullptr);
    for (const auto& [name, v] : r) cells[index.at(name)] = &v;
    for (size_t c = 0; c < columns.size(); ++c) {
      if (c) out.push_back(',');
      if (cells[c]) field(*cells[c]);
    }
    out.push_back('\n');
  }
  const std::string tmp = file + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) throw UserError(SourceLoc{file}, "-o", "cannot write the CSV file");
    f.write(out.data(), static_cast<std::streamsize>(out.size()));
    f.flush();
    if (!f) throw UserError(SourceLoc{file}, "-o", "cannot write the CSV file (disk full?)");
  }
  std::rename(tmp.c_str(), file.c_str());
}

}  // namespace einsim
