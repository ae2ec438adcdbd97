#include "common/yaml.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace einsim {
namespace {

SourceLoc mark_loc(const YAML::Mark& mark, const std::string& file) {
  if (mark.line < 0) return SourceLoc{file, 0, 0};
  return SourceLoc{file, mark.line + 1, mark.column + 1};
}

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

thread_local FileReads* t_reads = nullptr;  // the innermost recorder on this thread

uint64_t fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Where the first byte that is not UTF-8 is (or npos): YAML files are UTF-8, and names made of other bytes would
// reach JSON output, which must be UTF-8.
size_t invalid_utf8(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > text.size()) return i;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) return i;
    i += n;
  }
  return std::string::npos;
}

}  // namespace

FileReads::FileReads() : outer_(t_reads) { t_reads = this; }
FileReads::~FileReads() { t_reads = outer_; }

YNode YNode::load_file(const std::string& file) {
  if (!std::filesystem::is_regular_file(file)) throw UserError(SourceLoc{file}, "", "cannot read file");
  std::ifstream in(file, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  if (!in) throw UserError(SourceLoc{file}, "", "cannot read file");
  std::string text = bytes.str();
  if (const size_t bad = invalid_utf8(text); bad != std::string::npos) {
    const size_t line_start = text.rfind('\n', bad == 0 ? 0 : bad - 1);
    const int line = static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n'));
    const size_t col = bad - (line_start == std::string::npos || line == 0 ? 0 : line_start + 1);
    throw UserError(SourceLoc{file, line + 1, static_cast<int>(col) + 1}, "", "not UTF-8 text (YAML files are UTF-8)");
  }
  const uint64_t hash = fnv1a(text);
  for (FileReads* r = t_reads; r; r = r->outer_) r->files_.emplace_back(file, hash);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw UserError(mark_loc(e.mark, file), "", "invalid YAML: " + e.msg);
  }
  return YNode(root, file, "");
}

SourceLoc YNode::loc() const { return node_ ? mark_loc(node_.Mark(), file_) : SourceLoc{file_}; }

void YNode::fail(const std::string& message) const { throw UserError(loc(), path_, message); }

std::string YNode::as_string() const {
  if (!is_scalar()) fail("expected a scalar value");
  return node_.Scalar();
}

int64_t YNode::as_int() const {
  const std::string text = as_string();
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) fail(fmt::format("expected an integer, got '{}'", text));
  return value;
}

double YNode::as_double() const {
  const std::string text = as_string();
  if (text == "inf" || text == ".inf" || text == "+inf" || text == "+.inf")
    return std::numeric_limits<double>::infinity();
  if (text == "-inf" || text == "-.inf") return -std::numeric_limits<double>::infinity();
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || std::isnan(value)) fail(fmt::format("expected a number, got '{}'", text));
  return value;
}

bool YNode::as_bool() const {
  const std::string text = as_string();
  if (text == "true") return true;
  if (text == "false") return false;
  fail(fmt::format("expected true or false, got '{}'", text));
}

std::vector<YNode> YNode::items() const {
  if (!is_sequence()) fail("expected a list");
  std::vector<YNode> out;
  size_t i = 0;
  for (const auto& item : node_) out.emplace_back(item, file_, fmt::format("{}[{}]", path_, i++));
  return out;
}

void read_version(MapReader& top) {
  const YNode version = top.required("version");
  if (version.as_int() != 1) version.fail("unsupported version (this einsim reads version 1)");
}

void set_path(const YNode& root, const std::vector<std::string>& path, const std::string& value,
              const std::string& option) {
  YAML::Node cur(root.raw());  // shares the document
  std::string where;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    where = join(where, path[i]);
    if (!cur.IsMap() || !cur[path[i]])
      throw UserError(SourceLoc{}, option, fmt::format("{} has no '{}'", root.file(), where));
    cur.reset(cur[path[i]]);
  }
  if (!cur.IsMap()) throw UserError(SourceLoc{}, option, fmt::format("'{}' in {} is not a map", where, root.file()));
  cur[path.back()] = value;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t dot; (dot = path.find('.', start)) != std::string::npos; start = dot + 1)
    out.push_back(path.substr(start, dot - start));
  out.push_back(path.substr(start));
  return out;
}

MapReader::MapReader(const YNode& node) : node_(node) {
  if (node.is_null()) return;
  if (!node.is_map()) node.fail("expected a map of keys");
  for (const auto& kv : node.raw()) {
    const YNode key(kv.first, node.file(), node.path());
    const std::string name = key.as_string();
    for (const Entry& e : entries_)
      if (e.key == name) throw UserError(key.loc(), join(node.path(), name), "duplicate key");
    entries_.push_back(Entry{name, YNode(kv.second, node.file(), join(node.path(), name)), key.loc()});
  }
}

std::optional<YNode> MapReader::optional(const std::string& key) {
  asked_.push_back(key);
  for (Entry& e : entries_) {
    if (e.key == key) {
      e.used = true;
      return e.value;
    }
  }
  return std::nullopt;
}

YNode MapReader::required(const std::string& key) {
  if (auto v = optional(key)) return *v;
  // A misspelling is more useful to hear about than the key it was meant to be.
  for (const Entry& e : entries_)
    if (!e.used && std::find(asked_.begin(), asked_.end(), e.key) == asked_.end() && edit_distance(e.key, key) <= 2)
      throw UserError(e.key_loc, join(node_.path(), e.key), fmt::format("unknown key (did you mean '{}'?)", key));
  throw UserError(node_.loc(), join(node_.path(), key), "missing required key");
}

std::vector<std::pair<std::string, YNode>> MapReader::entries() {
  std::vector<std::pair<std::string, YNode>> out;
  for (Entry& e : entries_) {
    e.used = true;
    out.emplace_back(e.key, e.value);
  }
  return out;
}

void MapReader::finish() const {
  for (const Entry& e : entries_)
    if (!e.used)
      throw UserError(
          e.key_loc, join(node_.path(), e.key),
          asked_.empty() ? "unknown key" : fmt::format("unknown key (expected one of: {})", fmt::join(asked_, ", ")));
}

}  // namespace einsim
