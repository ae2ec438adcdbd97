#include "sim/sweep/results.hpp"

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

#include "common/error.hpp"

namespace einsim {

namespace {

std::string quoted(const std::string& column) { return "\"" + column + "\""; }

}  // namespace

ResultsDb::ResultsDb(const std::string& file) : file_(file) {
  if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw UserError(SourceLoc{file}, "-o", "cannot open the results database: " + why);
  }
  sqlite3_busy_timeout(db_, 10000);
  // Each point is its own transaction, on disk when it commits: an interrupted sweep loses no finished point.
  exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
  exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)");
  exec("CREATE TABLE IF NOT EXISTS results (point INTEGER NOT NULL, fidelity TEXT NOT NULL, PRIMARY KEY (point, fidelity))");
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db_, "SELECT name FROM pragma_table_info('results')", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) columns_.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  sqlite3_finalize(st);
}

ResultsDb::~ResultsDb() {
  if (uncommitted_) sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);  // whole rows: keep them if it can
  sqlite3_close(db_);
}

void ResultsDb::flush() {
  if (!uncommitted_) return;
  uncommitted_ = 0;
  exec("COMMIT");
}

std::string ResultsDb::clash(const Row& row) const {
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  std::map<std::string, std::string> seen;  // lower case -> as written
  for (const std::string& c : columns_) seen.emplace(lower(c), c);
  std::set<std::string> in_row;
  for (const auto& [name, value] : row) {
    const auto [it, added] = seen.emplace(lower(name), name);
    if (!added && it->second != name)
      return fmt::format("result columns '{}' and '{}' differ only in case, which SQLite ignores: rename one of the parts, Einsums or components they come from",
                         it->second, name);
    if (!in_row.insert(name).second) return fmt::format("result column '{}' twice", name);
  }
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
  if (std::find(columns_.begin(), columns_.end(), "config_hash") == columns_.end()) return out;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db_, "SELECT point, fidelity, config_hash FROM results", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const auto* h = sqlite3_column_text(st, 2);
    out.push_back({{sqlite3_column_int64(st, 0), reinterpret_cast<const char*>(sqlite3_column_text(st, 1))},
                   h ? reinterpret_cast<const char*>(h) : ""});
  }
  sqlite3_finalize(st);
  return out;
}

void ResultsDb::put(const Row& row) {
  if (!uncommitted_) {
    exec("BEGIN IMMEDIATE");
    first_uncommitted_ = std::chrono::steady_clock::now();
  }
  ++uncommitted_;
  try {
    for (const auto& [name, value] : row)
      if (std::find(columns_.begin(), columns_.end(), name) == columns_.end()) {
        exec(fmt::format("ALTER TABLE results ADD COLUMN {}", quoted(name)));
        columns_.push_back(name);
      }
    std::string names, marks;
    for (const auto& [name, value] : row) {
      names += (names.empty() ? "" : ", ") + quoted(name);
      marks += marks.empty() ? "?" : ", ?";
    }
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, fmt::format("INSERT OR REPLACE INTO results ({}) VALUES ({})", names, marks).c_str(), -1, &st, nullptr) != SQLITE_OK)
      throw UserError(SourceLoc{file_}, "results", sqlite3_errmsg(db_));
    int i = 1;
    for (const auto& [name, value] : row) {
      if (auto* n = std::get_if<int64_t>(&value)) sqlite3_bind_int64(st, i, *n);
      else if (auto* d = std::get_if<double>(&value)) sqlite3_bind_double(st, i, *d);
      else if (auto* s = std::get_if<std::string>(&value)) sqlite3_bind_text(st, i, s->c_str(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
      else sqlite3_bind_null(st, i);
      ++i;
    }
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) throw UserError(SourceLoc{file_}, "results", sqlite3_errmsg(db_));
    if (uncommitted_ >= kCommitRows ||
        std::chrono::duration<double>(std::chrono::steady_clock::now() - first_uncommitted_).count() >= kCommitSeconds)
      flush();
  } catch (...) {
    uncommitted_ = 0;  // what was committed stays; this batch is lost, and --resume redoes it
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<Row> ResultsDb::all() const {
  std::vector<Row> out;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db_, "SELECT * FROM results ORDER BY point, fidelity", -1, &st, nullptr);
  const int n = sqlite3_column_count(st);
  while (sqlite3_step(st) == SQLITE_ROW) {
    Row r;
    for (int c = 0; c < n; ++c) {
      Cell v;
      switch (sqlite3_column_type(st, c)) {
        case SQLITE_INTEGER: v = static_cast<int64_t>(sqlite3_column_int64(st, c)); break;
        case SQLITE_FLOAT: v = sqlite3_column_double(st, c); break;
        case SQLITE_TEXT: v = std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, c))); break;
        default: break;
      }
      r.emplace_back(sqlite3_column_name(st, c), std::move(v));
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
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return v;
}

DirectoryLock::DirectoryLock(const std::string& dir) {
  const std::string file = (std::filesystem::path(dir) / ".einsim-lock").string();
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw UserError(SourceLoc{dir}, "-o", fmt::format("cannot create {}: {}", file, std::strerror(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    throw UserError(SourceLoc{dir}, "-o", "another einsim sweep or merge is writing into this directory: wait for it, or choose another");
  }
}

DirectoryLock::~DirectoryLock() { ::close(fd_); }  // releases the lock

void write_csv(const std::vector<Row>& rows, const std::vector<std::string>& leading, const std::string& file) {
  std::set<std::string> rest;
  for (const Row& r : rows)
    for (const auto& [name, v] : r)
      if (std::find(leading.begin(), leading.end(), name) == leading.end()) rest.insert(name);
  std::vector<std::string> columns = leading;
  columns.insert(columns.end(), rest.begin(), rest.end());
  const std::string tmp = file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw UserError(SourceLoc{file}, "-o", "cannot write the CSV file");
    auto field = [](const Cell& v) -> std::string {
      if (auto* n = std::get_if<int64_t>(&v)) return std::to_string(*n);
      if (auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
      if (auto* s = std::get_if<std::string>(&v)) {
        if (s->find_first_of(",\"\n") == std::string::npos) return *s;
        std::string q = "\"";
        for (char c : *s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
        return q + "\"";
      }
      return "";
    };
    for (size_t c = 0; c < columns.size(); ++c) out << (c ? "," : "") << columns[c];
    out << '\n';
    for (const Row& r : rows) {
      std::map<std::string, const Cell*> by_name;
      for (const auto& [name, v] : r) by_name[name] = &v;
      for (size_t c = 0; c < columns.size(); ++c) {
        const auto it = by_name.find(columns[c]);
        out << (c ? "," : "") << (it == by_name.end() ? "" : field(*it->second));
      }
      out << '\n';
    }
  }
  std::rename(tmp.c_str(), file.c_str());
}

}  // namespace einsim
